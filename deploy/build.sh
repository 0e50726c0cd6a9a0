#!/usr/bin/env bash
# Configures and builds revsweep (Release) into ${BUILD_DIR:-build}. The CUDA/NCCL path is
# compiled whenever the CUDA toolkit with NCCL is found (REVSWEEP_CUDA=AUTO); set
# REVSWEEP_CUDA=OFF for a CPU-only build, or pass -DCMAKE_PREFIX_PATH=/path/to/libtorch in
# CMAKE_ARGS to build against a CUDA libtorch.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DREVSWEEP_CUDA="${REVSWEEP_CUDA:-AUTO}" \
  ${CMAKE_ARGS:-} > "$BUILD_DIR.configure.log" 2>&1 || { cat "$BUILD_DIR.configure.log"; exit 1; }
grep -E "revsweep: NCCL" "$BUILD_DIR.configure.log" || true
cmake --build "$BUILD_DIR" -j "$JOBS" "$@"
