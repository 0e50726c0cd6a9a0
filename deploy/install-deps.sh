#!/usr/bin/env bash
# Installs everything revsweep needs to build, run and test on Debian 12, from apt only.
# Idempotent and non-interactive; works as root or through sudo.
#   deploy/install-deps.sh            build + run + test dependencies
#   deploy/install-deps.sh --minimal  build + run only (no Slurm, fuzzing, reference torch or
#                                     the debian13 tier's mmdebstrap)
set -euo pipefail

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo" >&2; exit 1; }
  SUDO="sudo"
fi

PKGS=(
  # toolchain
  build-essential cmake pkg-config git ca-certificates
  # libtorch 1.13.1 (CPU) and the fast BLAS it needs: without libopenblas0-openmp libtorch
  # falls back to the reference BLAS and trains ~13x slower.
  libtorch-dev libopenblas0-openmp
  # tokenizer (lives in the torch-free `revsweep` executable, see docs/ARCHITECTURE.md)
  libsentencepiece-dev
  # config, store, CLI, JSON, stats, fits, HTTP (Boost.Asio/Beast, Boost.Math)
  libyaml-cpp-dev libsqlite3-dev sqlite3 libcli11-dev nlohmann-json3-dev
  libboost-dev libboost-system-dev libeigen3-dev liblbfgspp-dev
  # MPI
  openmpi-bin libopenmpi-dev
  # plots
  gnuplot-nox
  # tests
  libgtest-dev libgmock-dev googletest
)
if [[ "${1:-}" != "--minimal" ]]; then
  PKGS+=(
    # local one-node Slurm for the slurm test tier
    slurm-wlm munge
    # fuzzing and sanitizers
    clang-14 libclang-rt-14-dev
    # reference PyTorch for the trainer benchmark and the GPT-2 parity test
    python3-torch python3-numpy
    # the debian13 tier's Debian 13 chroot (deploy/debian13/run.sh)
    mmdebstrap
  )
  # GPT-2 tokenizer parity test runs the npm package's Encoder.js under node. Some images
  # ship a nodejs that bundles npm (and conflicts with Debian's npm package).
  command -v node >/dev/null || PKGS+=(nodejs)
  command -v npm >/dev/null || PKGS+=(npm)
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
else
  echo "install-deps: all ${#PKGS[@]} packages present"
fi
