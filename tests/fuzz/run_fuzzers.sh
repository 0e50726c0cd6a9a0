#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for a bounded time (default 30 s).
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-30}
CXX=$(command -v clang++-14 || command -v clang++)
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$CXX" \
  -DREVSWEEP_FUZZ=ON -DREVSWEEP_WITH_TORCH=OFF -DREVSWEEP_BUILD_TESTS=OFF \
  -DREVSWEEP_BUILD_BENCH=OFF > build-fuzz.configure.log 2>&1 || { cat build-fuzz.configure.log; exit 1; }
cmake --build build-fuzz -j "$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)" --target fuzz_config fuzz_dataset > build-fuzz.build.log 2>&1 ||
  { tail -40 build-fuzz.build.log; exit 1; }
# The targets run side by side (each is one process on one core): the tier takes SECS, not
# 2 x SECS. Each one's tail is printed in order once both are done; either one failing (a crash,
# a leak, a timeout) fails the tier.
declare -A pid log corpus
for t in config dataset; do
  corpus[$t]=$(mktemp -d)
  log[$t]=$(mktemp)
  cp -r tests/fuzz/seeds_$t/. "${corpus[$t]}"/ 2>/dev/null || true
  dict=tests/fuzz/fuzz_$t.dict
  ./build-fuzz/bin/fuzz_$t -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
    $( [[ -f $dict ]] && echo "-dict=$dict" ) "${corpus[$t]}" > "${log[$t]}" 2>&1 &
  pid[$t]=$!
done
rc=0
for t in config dataset; do
  status=0
  wait "${pid[$t]}" || status=$?
  echo "fuzz_$t: ${SECS}s, exit $status"
  tail -3 "${log[$t]}"
  rm -rf "${corpus[$t]}" "${log[$t]}"
  (( status == 0 )) || rc=1
done
exit $rc
