#!/usr/bin/env bash
# e2e tier: bench/gpu_check.sh as far as a machine without a GPU can take it. Argument
# handling and exit codes; the "no GPU" and "no CUDA libtorch" messages; the whole GPU
# pipeline after the build (NCCL test run, two trials, the report with MFU from the peak
# table) against stand-in binaries and a stand-in nvidia-smi/PyTorch; and --cpu, which runs
# the real bench_torch_gpu_trial on the CPU and parses its figures.
# shellcheck source=tests/lib/test_lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/../lib/test_lib.bash"
tl_begin gpu_check_script

GC=$REVSWEEP_SRC/bench/gpu_check.sh
[[ -x $GC ]] || fail "no $GC"

# expect_status WANT NAME CMD...: runs CMD (output to $T/NAME.out) and checks its status.
expect_status() {
  local want=$1 name=$2 rc=0
  shift 2
  "$@" >"$T/$name.out" 2>&1 || rc=$?
  [[ $rc == "$want" ]] || fail "$name: status $rc, want $want: $(tail -n 5 "$T/$name.out")"
  pass "$name: status $want"
}
expect_line() {
  grep -q -- "$2" "$T/$1.out" || fail "$1: no line matching '$2' in: $(cat "$T/$1.out")"
  pass "$1: says '$2'"
}

# ---- arguments
expect_status 0 help bash "$GC" --help
expect_line help "Exit status"
expect_status 2 unknown bash "$GC" --frobnicate
expect_line unknown "unknown argument '--frobnicate'"
expect_status 2 steps_nan bash "$GC" --steps many
expect_status 2 steps_few bash "$GC" --steps 5
expect_status 0 peak_h100 bash "$GC" --peak "NVIDIA H100 80GB HBM3"
expect_line peak_h100 "bf16 989 tf32 495 fp32 67 TFLOP/s"
expect_status 0 peak_h200 bash "$GC" --peak "NVIDIA H200"
expect_line peak_h200 "bf16 989 tf32 495 fp32 67 TFLOP/s"
expect_status 0 peak_unknown bash "$GC" --peak "Tesla T4"
expect_line peak_unknown "^N/A$"

# ---- no GPU: no nvidia-smi on PATH.
NOGPU_PATH=$T/nogpu_bin
mkdir -p "$NOGPU_PATH"
for tool in bash sed awk grep date mktemp mkdir tail head timeout dirname nproc find cat tr; do
  ln -sf "$(command -v "$tool")" "$NOGPU_PATH/$tool"
done
expect_status 3 no_gpu env PATH="$NOGPU_PATH" bash "$GC" --logs "$T/l_nogpu"
expect_line no_gpu "no GPU: nvidia-smi is not installed"

# ---- a GPU, but no CUDA libtorch: Python without torch, a CPU-only torch, a libtorch folder
# without libtorch_cuda.
export REVSWEEP_GPU_CHECK_FAKE_GPU="NVIDIA H100 80GB HBM3"
cat >"$T/py_none" <<'EOF'
#!/usr/bin/env bash
echo "ModuleNotFoundError: No module named 'torch'" >&2
exit 1
EOF
cat >"$T/py_cpu" <<EOF
#!/usr/bin/env bash
printf '%s\n' "$T/torch/share/cmake" "" "2.3.0+cpu" 1 ""
EOF
cat >"$T/py_cuda" <<EOF
#!/usr/bin/env bash
printf '%s\n' "$T/torch/share/cmake" "12.4" "2.5.1+cu124" 1 ""
EOF
chmod +x "$T"/py_*
expect_status 4 no_torch env REVSWEEP_GPU_CHECK_PYTHON="$T/py_none" bash "$GC" --logs "$T/l1"
expect_line no_torch "no CUDA libtorch found: .*No module named 'torch'"
expect_status 4 cpu_torch env REVSWEEP_GPU_CHECK_PYTHON="$T/py_cpu" bash "$GC" --logs "$T/l2"
expect_line cpu_torch "CPU-only build"
mkdir -p "$T/libtorch_cpu/lib"
expect_status 4 cpu_libtorch bash "$GC" --torch "$T/libtorch_cpu" --logs "$T/l3"
expect_line cpu_libtorch "has no lib/libtorch_cuda.so"

# ---- the pipeline after the build, with stand-ins: a NCCL test binary that passes (then one
# that only skips) and a bench that prints a GPU_TRIAL line with known figures.
B=$T/build-fake
mkdir -p "$B/bin"
cat >"$B/bin/nccl_communicator_test" <<'EOF'
#!/usr/bin/env bash
echo "[ RUN      ] NcclCommunicator.AverageAndBroadcastOnOneGpu"
echo "[       OK ] NcclCommunicator.AverageAndBroadcastOnOneGpu (5 ms)"
EOF
cat >"$B/bin/bench_torch_gpu_trial" <<'EOF'
#!/usr/bin/env bash
prec=fp32
while (($#)); do [[ $1 == --precision ]] && prec=$2; shift; done
# 4.945e14 FLOP/s: half of bf16's 989 TFLOP/s peak; 33.5 TFLOP/s of fp32's 67 is 50% too.
if [[ $prec == bf16 ]]; then fps=4.945e+14; else fps=3.35e+13; fi
echo "GPU_TRIAL device=cuda:0 precision=$prec layers=12 d_model=768 heads=12 vocab=50257 seq=1024 batch=8 params=124475904 steps_timed=15 seconds=1.0000 tokens_per_s=123456.0 model_flops_per_token=9e+08 model_flops_per_s=$fps peak_mem_bytes=10737418240 peak_mem_kind=cuda_allocated final_loss=10.9000"
EOF
chmod +x "$B/bin/"*
mkdir -p "$T/torch/share/cmake"
expect_status 0 pipeline env REVSWEEP_GPU_CHECK_PYTHON="$T/py_cuda" \
  bash "$GC" --skip-build --build-dir "$B" --logs "$T/l4"
expect_line pipeline "NCCL unit tests: 1 passed"
expect_line pipeline "bf16 .* 123456.0 tokens/s, 494.50 TFLOP/s model, MFU 50.0% of 989 TFLOP/s (dense bf16), peak memory 10.00 GiB (cuda_allocated)"
expect_line pipeline "fp32 .* MFU 50.0% of 67 TFLOP/s (fp32, CUDA cores; 6.8% of tf32 495)"
# Unknown device: MFU N/A.
expect_status 0 pipeline_unknown env REVSWEEP_GPU_CHECK_PYTHON="$T/py_cuda" \
  REVSWEEP_GPU_CHECK_FAKE_GPU="Tesla T4" bash "$GC" --skip-build --build-dir "$B" --logs "$T/l5"
expect_line pipeline_unknown "MFU N/A (peak unknown for 'Tesla T4')"
# A NCCL test that skips (no CUDA device from libtorch) fails the check.
cat >"$B/bin/nccl_communicator_test" <<'EOF'
#!/usr/bin/env bash
echo "[  SKIPPED ] NcclCommunicator.AverageAndBroadcastOnOneGpu (0 ms)"
EOF
expect_status 6 nccl_skipped env REVSWEEP_GPU_CHECK_PYTHON="$T/py_cuda" \
  bash "$GC" --skip-build --build-dir "$B" --logs "$T/l6"
expect_line nccl_skipped "NCCL unit tests were skipped"
# A step that overruns the budget is stopped: status 124.
cat >"$B/bin/nccl_communicator_test" <<'EOF'
#!/usr/bin/env bash
sleep 30
EOF
expect_status 124 timed_out env REVSWEEP_GPU_CHECK_PYTHON="$T/py_cuda" \
  bash "$GC" --skip-build --build-dir "$B" --logs "$T/l7" --budget 2
expect_line timed_out "nccl_tests: TIMED OUT"
unset REVSWEEP_GPU_CHECK_FAKE_GPU

# ---- --cpu: the real bench on the CPU (the same binary the GPU run uses).
if [[ -x $REVSWEEP_BIN/bench_torch_gpu_trial ]]; then
  expect_status 0 cpu_smoke bash "$GC" --cpu --bin "$REVSWEEP_BIN" --logs "$T/l8"
  expect_line cpu_smoke "fp32  .* tokens/s, .* TFLOP/s model, MFU N/A (peak unknown for 'CPU'), peak memory [0-9.]* GiB (cpu_rss)"
  expect_line cpu_smoke "bf16  .* tokens/s"
  grep -q "GPU_TRIAL device=cpu precision=bf16 .*steps_timed=5 " "$T/l8/trial_cpu_bf16.log" ||
    fail "cpu_smoke: bench line: $(cat "$T/l8/trial_cpu_bf16.log")"
  pass "cpu_smoke: the bench timed 5 steps"
  expect_status 3 cpu_bench_no_cuda "$REVSWEEP_BIN/bench_torch_gpu_trial" --device cuda --steps 6
  expect_line cpu_bench_no_cuda "this libtorch has no CUDA or sees no GPU"
  expect_status 2 bench_bad_args "$REVSWEEP_BIN/bench_torch_gpu_trial" --steps 3 --warmup 5
else
  fail "no $REVSWEEP_BIN/bench_torch_gpu_trial (cmake --build build --target bench_torch_gpu_trial)"
fi

tl_end
