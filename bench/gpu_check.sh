#!/usr/bin/env bash
# The GPU check for the day a GPU machine is available (docs/GPU.md): finds a CUDA libtorch
# on the machine, builds revsweep's CUDA/NCCL path against it, runs the NCCL unit tests, then
# one fp32 and one bf16 training trial of a GPT-2 small shape (12 layers, d 768, 12 heads,
# vocab 50257, 1024 positions, batch 8, random weights) through the real trainer, and prints
# tokens/s, MFU against the GPU's peak for the dtype, and peak memory. Downloads nothing. Every
# step has a timeout and the whole check stays under 8 minutes (--budget).
#
# Usage: bench/gpu_check.sh [--torch DIR] [--build-dir DIR] [--skip-build] [--budget S]
#                           [--steps N] [--batch B] [--logs DIR]
#        bench/gpu_check.sh --cpu [--bin DIR]     smoke: the trial part on the CPU, tiny shape
#        bench/gpu_check.sh --peak "DEVICE NAME"  the peak table's entry for a device name
#   --torch DIR   a libtorch folder (has share/cmake/Torch) or a CMake prefix holding
#                 TorchConfig.cmake; default $REVSWEEP_LIBTORCH, else the pip/conda PyTorch's
#                 torch.utils.cmake_prefix_path (python3, or $REVSWEEP_GPU_CHECK_PYTHON)
#   --build-dir   default build-gpu (in the repository)
#   --skip-build  use what --build-dir already holds
#   --cpu         no GPU needed: runs bench_torch_gpu_trial --device cpu (2 layers, d 64, 8
#                 steps) from --bin (default build/bin) and prints the same report, MFU N/A
# Exit status: 0 all passed; 2 usage; 3 no GPU visible (nvidia-smi); 4 no CUDA libtorch
# found; 5 configure/build failed; 6 NCCL unit tests failed or skipped; 7 a trial failed or
# its output could not be parsed; 124 a step ran out of time.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TORCH_DIR=${REVSWEEP_LIBTORCH:-}
BUILD_DIR=$ROOT/build-gpu
BIN_DIR=""
SKIP_BUILD=0
CPU=0
BUDGET=470
STEPS=20
BATCH=8
LOGS=""
PYTHON=${REVSWEEP_GPU_CHECK_PYTHON:-python3}
PIP_NCCL=""
START=$(date +%s)

# usage STATUS: the header's usage lines; to stdout for --help (0), stderr otherwise.
usage() {
  local text
  text=$(sed -n '/^# Usage:/,/^# its output/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//')
  if (($1 == 0)); then echo "$text"; else echo "$text" >&2; fi
  exit "$1"
}

# Peak dense FLOP/s for a device name: "<bf16> <tf32> <fp32>" in TFLOP/s, or nothing when
# the device is not in the table. Dense (no sparsity), SXM boards unless named; from NVIDIA's
# data sheets. fp32 is the CUDA-core rate: libtorch leaves TF32 matmuls off by default
# (torch.backends.cuda.matmul.allow_tf32 = False since PyTorch 1.12), so fp32 GEMMs do not use
# the tensor cores and the fp32 MFU is taken against the fp32 figure.
peak_tflops() {
  local name=$1
  case $name in
    *H200*) echo "989 495 67" ;;  # H200 and GH200: the H100 SXM figures
    *H100*PCIe*) echo "756 378 51" ;;
    *H100*NVL*) echo "835 418 60" ;;
    *H100*) echo "989 495 67" ;;  # H100 SXM5 (e.g. "NVIDIA H100 80GB HBM3")
    *A100*) echo "312 156 19.5" ;;
    *L40S*) echo "362 183 91.6" ;;
    *) echo "" ;;
  esac
}

log() { printf '[gpu_check %3ds] %s\n' "$(($(date +%s) - START))" "$*"; }

# Seconds left of the budget, capped at $1.
left() {
  local cap=$1 rest
  rest=$((BUDGET - ($(date +%s) - START)))
  ((rest < 1)) && rest=1
  ((rest < cap)) && echo "$rest" || echo "$cap"
}

# step NAME CAP_S CMD...: runs CMD with a timeout (CAP_S or what is left of the budget),
# output to $LOGS/NAME.log; returns CMD's status (124 on timeout).
step() {
  local name=$1 cap=$2 t rc
  shift 2
  t=$(left "$cap")
  log "$name (timeout ${t}s): $*"
  timeout --kill-after=10 "$t" "$@" >"$LOGS/$name.log" 2>&1
  rc=$?
  if ((rc == 124 || rc == 137)); then
    log "$name: TIMED OUT after ${t}s (log: $LOGS/$name.log)"
    tail -n 20 "$LOGS/$name.log"
    return 124
  fi
  ((rc != 0)) && { log "$name: failed with status $rc (log: $LOGS/$name.log)"; tail -n 30 "$LOGS/$name.log"; }
  return "$rc"
}

# Reads "key=value" from the bench's GPU_TRIAL line.
field() { sed -n 's/.*GPU_TRIAL .*[[:space:]]'"$1"'=\([^[:space:]]*\).*/\1/p' "$2" | tail -n 1; }

# report LOG GPU_NAME: prints one trial's figures from its log. Returns 7 when unparsable.
report() {
  local logf=$1 gpu=$2 prec tps fps peak kind params secs peaks pk mfu mem
  if ! grep -q '^GPU_TRIAL ' "$logf"; then
    log "no GPU_TRIAL line in $logf"
    return 7
  fi
  prec=$(field precision "$logf")
  tps=$(field tokens_per_s "$logf")
  fps=$(field model_flops_per_s "$logf")
  peak=$(field peak_mem_bytes "$logf")
  kind=$(field peak_mem_kind "$logf")
  params=$(field params "$logf")
  secs=$(field seconds "$logf")
  if [[ -z $tps || -z $fps || -z $prec ]]; then
    log "could not parse tokens_per_s / model_flops_per_s / precision from $logf"
    return 7
  fi
  peaks=$(peak_tflops "$gpu")
  if [[ -z $peaks ]]; then
    mfu="N/A (peak unknown for '$gpu')"
  else
    read -r p_bf16 p_tf32 p_fp32 <<<"$peaks"
    if [[ $prec == bf16 ]]; then
      pk=$p_bf16
      mfu=$(awk -v f="$fps" -v p="$pk" 'BEGIN{printf "%.1f%% of %s TFLOP/s (dense bf16)", 100*f/(p*1e12), p}')
    else
      pk=$p_fp32
      mfu=$(awk -v f="$fps" -v p="$pk" -v t="$p_tf32" 'BEGIN{printf "%.1f%% of %s TFLOP/s (fp32, CUDA cores; %.1f%% of tf32 %s)", 100*f/(p*1e12), p, 100*f/(t*1e12), t}')
    fi
  fi
  if [[ $peak =~ ^[0-9]+$ ]]; then
    mem=$(awk -v b="$peak" -v k="$kind" 'BEGIN{printf "%.2f GiB (%s)", b/2^30, k}')
  else
    mem="n/a ($kind)"
  fi
  printf '  %-5s  %s params, %s s timed: %s tokens/s, %s TFLOP/s model, MFU %s, peak memory %s\n' \
    "$prec" "$params" "$secs" "$tps" \
    "$(awk -v f="$fps" 'BEGIN{printf "%.2f", f/1e12}')" "$mfu" "$mem"
  return 0
}

while (($#)); do
  case $1 in
    --torch) TORCH_DIR=${2:?--torch needs a folder}; shift ;;
    --build-dir) BUILD_DIR=${2:?--build-dir needs a folder}; shift ;;
    --bin) BIN_DIR=${2:?--bin needs a folder}; shift ;;
    --skip-build) SKIP_BUILD=1 ;;
    --cpu) CPU=1 ;;
    --budget) BUDGET=${2:?--budget needs seconds}; shift ;;
    --steps) STEPS=${2:?--steps needs a number}; shift ;;
    --batch) BATCH=${2:?--batch needs a number}; shift ;;
    --logs) LOGS=${2:?--logs needs a folder}; shift ;;
    --peak)
      p=$(peak_tflops "${2:?--peak needs a device name}")
      if [[ -z $p ]]; then echo "N/A"; else
        read -r b t f <<<"$p"
        echo "bf16 $b tf32 $t fp32 $f TFLOP/s"
      fi
      exit 0 ;;
    -h|--help) usage 0 ;;
    *) echo "gpu_check: unknown argument '$1'" >&2; usage 2 ;;
  esac
  shift
done
for n in "$BUDGET" "$STEPS" "$BATCH"; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "gpu_check: '$n' is not a whole number" >&2; exit 2; }
done
((STEPS > 5)) || { echo "gpu_check: --steps must be more than 5 (5 warmup steps)" >&2; exit 2; }
LOGS=${LOGS:-$(mktemp -d /tmp/revsweep-gpu-check.XXXXXX)}
mkdir -p "$LOGS"
log "logs in $LOGS"

# ---- CPU smoke: the trial and report part only, against an existing CPU build.
if ((CPU)); then
  BIN_DIR=${BIN_DIR:-$ROOT/build/bin}
  bench=$BIN_DIR/bench_torch_gpu_trial
  [[ -x $bench ]] || { log "no $bench: build it first (cmake --build build --target bench_torch_gpu_trial)"; exit 5; }
  rc=0
  for prec in fp32 bf16; do
    step "trial_cpu_$prec" 120 "$bench" --device cpu --precision "$prec" --layers 2 --heads 2 \
      --d-model 64 --vocab 512 --seq 64 --batch 4 --steps 8 --warmup 3 --threads 1 || rc=7
  done
  echo "gpu_check --cpu (smoke: tiny shape on the CPU; MFU is for GPUs)"
  for prec in fp32 bf16; do report "$LOGS/trial_cpu_$prec.log" "CPU" || rc=7; done
  exit "$rc"
fi

# ---- 1. A GPU.
if [[ -n ${REVSWEEP_GPU_CHECK_FAKE_GPU:-} ]]; then  # tests: pretend nvidia-smi saw this
  GPU_NAME=$REVSWEEP_GPU_CHECK_FAKE_GPU
elif ! command -v nvidia-smi >/dev/null 2>&1; then
  log "no GPU: nvidia-smi is not installed (no NVIDIA driver). Nothing to check here; run with --cpu for the CPU smoke test."
  exit 3
else
  GPU_NAME=$(timeout 30 nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)
  if [[ -z $GPU_NAME ]]; then
    log "no GPU: nvidia-smi lists no device (driver not loaded, or CUDA_VISIBLE_DEVICES hides them)"
    exit 3
  fi
  timeout 30 nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader |
    sed 's/^/  /'
fi
log "GPU: $GPU_NAME (peak: $(peak_tflops "$GPU_NAME" | awk 'NF{printf "bf16 %s, tf32 %s, fp32 %s TFLOP/s", $1, $2, $3} !NF{print "unknown: MFU N/A"}'))"

# ---- 2. A CUDA libtorch: --torch / $REVSWEEP_LIBTORCH, else the Python PyTorch's.
if [[ -z $TORCH_DIR ]]; then
  out=$(timeout 90 "$PYTHON" -c 'import torch
print(torch.utils.cmake_prefix_path)
print(torch.version.cuda or "")
print(torch.__version__)
print(int(torch.compiled_with_cxx11_abi()))
try:
    import nvidia.nccl
    print(list(nvidia.nccl.__path__)[0])
except Exception:
    print("")' 2>"$LOGS/torch_probe.log")
  if [[ $? -ne 0 || -z $out ]]; then
    log "no CUDA libtorch found: '$PYTHON -c \"import torch\"' failed ($(tail -n 1 "$LOGS/torch_probe.log")) and neither --torch nor REVSWEEP_LIBTORCH names a libtorch folder. Install a CUDA PyTorch (pip/conda) or unpack a CUDA libtorch and set REVSWEEP_LIBTORCH=/path/to/libtorch."
    exit 4
  fi
  TORCH_DIR=$(sed -n 1p <<<"$out")
  torch_cuda=$(sed -n 2p <<<"$out")
  log "PyTorch $(sed -n 3p <<<"$out") (CUDA ${torch_cuda:-none}, cxx11 ABI $(sed -n 4p <<<"$out")) at $TORCH_DIR"
  if [[ -z $torch_cuda ]]; then
    log "no CUDA libtorch found: the Python PyTorch is a CPU-only build (torch.version.cuda is None). Install a CUDA build or set REVSWEEP_LIBTORCH."
    exit 4
  fi
  PIP_NCCL=$(sed -n 5p <<<"$out")
  if [[ $(sed -n 4p <<<"$out") == 0 ]]; then
    log "warning: this PyTorch uses the pre-C++11 ABI; linking it with the system's C++ libraries (gtest, sentencepiece, boost) may fail. A cxx11-ABI libtorch folder (--torch) avoids that."
  fi
else
  [[ -d $TORCH_DIR ]] || { log "no CUDA libtorch found: $TORCH_DIR is not a folder"; exit 4; }
  if ! compgen -G "$TORCH_DIR/lib/libtorch_cuda*.so*" >/dev/null &&
     ! compgen -G "$TORCH_DIR/../../lib/libtorch_cuda*.so*" >/dev/null; then
    log "no CUDA libtorch found: $TORCH_DIR has no lib/libtorch_cuda.so (a CPU-only libtorch?)"
    exit 4
  fi
  log "libtorch at $TORCH_DIR"
fi

# ---- 3. Build the CUDA path (REVSWEEP_CUDA=ON: fails instead of silently building CPU only).
if ((!SKIP_BUILD)); then
  nccl_args=()
  # No system NCCL: the one pip installs beside PyTorch (nvidia-nccl-cu*), which ships only
  # libnccl.so.2 (find_library looks for libnccl.so).
  if [[ ! -e /usr/local/cuda/include/nccl.h && ! -e /usr/include/nccl.h && -n ${PIP_NCCL:-} ]]; then
    lib=$(compgen -G "$PIP_NCCL/lib/libnccl.so*" | head -n 1)
    [[ -n $lib && -e $PIP_NCCL/include/nccl.h ]] &&
      nccl_args=("-DNCCL_INCLUDE_DIR=$PIP_NCCL/include" "-DNCCL_LIBRARY=$lib")
    log "NCCL from pip: ${nccl_args[*]:-none usable under $PIP_NCCL}"
  fi
  step configure 150 cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
    -DREVSWEEP_CUDA=ON "-DCMAKE_PREFIX_PATH=$TORCH_DIR" "${nccl_args[@]}" || exit 5
  grep -q "NCCL path ON" "$LOGS/configure.log" || { log "configure did not enable the NCCL path"; exit 5; }
  rc=0
  step build 330 cmake --build "$BUILD_DIR" -j "$(nproc)" --target nccl_communicator_test \
    bench_torch_gpu_trial || rc=$?
  ((rc == 124)) && exit 124
  ((rc != 0)) && exit 5
fi
BIN_DIR=${BIN_DIR:-$BUILD_DIR/bin}
test_bin=$(find "$BUILD_DIR" -name nccl_communicator_test -type f -perm -u+x | head -n 1)
bench=$BIN_DIR/bench_torch_gpu_trial
[[ -n $test_bin && -x $bench ]] || { log "built binaries not found under $BUILD_DIR"; exit 5; }

# ---- 4. NCCL unit tests: must run, not skip (a skip means no CUDA device from libtorch).
rc=0
step nccl_tests 60 "$test_bin" || rc=$?
((rc == 124)) && exit 124
if ((rc != 0)); then exit 6; fi
if grep -q '\[  SKIPPED \]' "$LOGS/nccl_tests.log"; then
  log "NCCL unit tests were skipped: $(grep -m1 -A1 'SKIPPED\|Skipped' "$LOGS/nccl_tests.log" | tr '\n' ' ')"
  exit 6
fi
log "NCCL unit tests: $(grep -c '\[       OK \]' "$LOGS/nccl_tests.log") passed"

# ---- 5. Trials: fp32, then bf16 (autocast), GPT-2 small shape, random weights.
rc=0
for prec in fp32 bf16; do
  r=0
  step "trial_$prec" 150 "$bench" --device cuda --precision "$prec" --steps "$STEPS" \
    --warmup 5 --batch "$BATCH" || r=$?
  ((r == 124)) && exit 124
  ((r != 0)) && rc=7
done
echo "gpu_check on $GPU_NAME: GPT-2 small shape (L 12, d 768, 12 heads, V 50257, T 1024, batch $BATCH), $((STEPS - 5)) timed steps"
for prec in fp32 bf16; do
  [[ -f $LOGS/trial_$prec.log ]] && { report "$LOGS/trial_$prec.log" "$GPU_NAME" || rc=7; }
done
log "done (status $rc)"
exit "$rc"
