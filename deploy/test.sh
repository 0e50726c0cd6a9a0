#!/usr/bin/env bash
# One command from a fresh Debian 12: install dependencies (apt), build, and run every test
# tier: unit, mpi, e2e, slurm (a real one-node Slurm started and stopped by the tests), chaos
# (fault rounds on a 2-node local Slurm: tests/chaos/chaos_test.sh),
# debian13 (build + unit + mpi against Debian 13's libtorch 2.6 / Open MPI 5 in a chroot, see
# deploy/debian13/run.sh), sanitizers (ASan+UBSan unit tier), fuzzing (bounded libFuzzer runs)
# and the format check.
# TIERS=unit,mpi limits the tiers. Exit status non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
TIERS=${TIERS:-unit,gpu,mpi,e2e,slurm,chaos,debian13,sanitize,fuzz,format}
has() { [[ ",$TIERS," == *",$1,"* ]]; }
t0=$(date +%s)
declare -a SUMMARY
step() { SUMMARY+=("$1: $2 ($(( $(date +%s) - $3 )) s)"); }

bash deploy/install-deps.sh
# The debian13 tier's root is downloads and unpacking, little CPU: make it beside the build.
# The tier itself waits for it (run.sh holds a lock) and remakes it if this attempt failed.
ROOT_PID=""
if has debian13; then
  bash deploy/debian13/run.sh --root-only >build-debian13-root.log 2>&1 &
  ROOT_PID=$!
fi
s=$(date +%s); bash deploy/build.sh; step build ok "$s"

export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
fail=0
for tier in unit gpu mpi e2e slurm chaos; do
  has "$tier" || continue
  s=$(date +%s)
  if ctest --test-dir build -L "^$tier\$" --output-on-failure --timeout 900 \
       $( [[ $tier == unit ]] && echo "-j2" ); then step "$tier" ok "$s"
  else step "$tier" FAILED "$s"; fail=1; fi
done

if has debian13; then
  s=$(date +%s)
  [[ -n $ROOT_PID ]] && { wait "$ROOT_PID" || tail -5 build-debian13-root.log; }
  if bash deploy/debian13/run.sh; then step debian13 ok "$s"
  else step debian13 FAILED "$s"; fail=1; fi
fi

if has sanitize; then
  s=$(date +%s)
  # The torch-free unit tier (common + scheduler) under AddressSanitizer + UBSan.
  if cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DREVSWEEP_SANITIZE=ON \
       -DREVSWEEP_WITH_TORCH=OFF -DREVSWEEP_BUILD_BENCH=OFF > build-asan.configure.log 2>&1 &&
     cmake --build build-asan -j "$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)" > build-asan.build.log 2>&1 &&
     ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir build-asan -L '^unit$' -j2 --output-on-failure \
       --timeout 600; then step sanitize ok "$s"
  else tail -40 build-asan.build.log 2>/dev/null || true; step sanitize FAILED "$s"; fail=1; fi
fi

if has fuzz; then
  s=$(date +%s)
  if bash tests/fuzz/run_fuzzers.sh "${FUZZ_SECONDS:-30}"; then step fuzz ok "$s"
  else step fuzz FAILED "$s"; fail=1; fi
fi

if has format; then
  s=$(date +%s)
  if bash deploy/check-format.sh; then step format ok "$s"
  else step format FAILED "$s"; fail=1; fi
fi

echo "==== revsweep test summary ===="
printf '%s\n' "${SUMMARY[@]}"
echo "total: $(( $(date +%s) - t0 )) s"
exit $fail
