#!/usr/bin/env bash
# debian13 tier: builds revsweep against Debian 13 (trixie: libtorch 2.6, Open MPI 5, GCC 14,
# yaml-cpp 0.8, Boost 1.83) inside a chroot and runs the unit and mpi tiers there, so a
# break on the newer libraries shows up here rather than on a user's machine.
#   1. Makes the trixie root at ${REVSWEEP_DEBIAN13_ROOT:-/var/cache/revsweep/debian13} with
#      mmdebstrap when it is absent or was made from a different package list or options (a
#      stamp file inside it records them). It is built in a temporary directory and renamed,
#      so an interrupted run never leaves a half-made root behind.
#   2. Mounts /proc, /sys, /dev, a fresh /dev/shm and this checkout (at /src) into it; a trap
#      unmounts them all on any exit.
#   3. Configures and builds into build-debian13/ (deprecated calls are errors) only the
#      targets the two tiers run, then runs `ctest -L '^unit$' -j2` and `ctest -L '^mpi$'`.
# Needs root and mmdebstrap (deploy/install-deps.sh installs it). Exit status non-zero on any
# failure, naming the step that failed. `run.sh --root-only` stops after step 1.
set -euo pipefail
cd "$(dirname "$0")/../.."
SRC=$(pwd)
ROOT=${REVSWEEP_DEBIAN13_ROOT:-/var/cache/revsweep/debian13}
MIRROR=${REVSWEEP_DEBIAN13_MIRROR:-http://deb.debian.org/debian}
BUILD=build-debian13

[[ $(id -u) -eq 0 ]] || { echo "debian13: needs root (chroot, mounts)" >&2; exit 1; }

# deploy/install-deps.sh --minimal's list under trixie's names, plus ninja (make runs several
# --target goals one after another, each test executable then compiles on one core) and what
# the tiers call: python3 (plots_test parses the SVG with it), procps (ps) and mount
# (full_disk's tmpfs).
PKGS=(
  build-essential cmake ninja-build pkg-config
  libtorch-dev libopenblas0-openmp
  libsentencepiece-dev
  libyaml-cpp-dev libsqlite3-dev sqlite3 libcli11-dev nlohmann-json3-dev
  libboost-dev libboost-system-dev libeigen3-dev liblbfgspp-dev
  openmpi-bin libopenmpi-dev
  gnuplot-nox
  libgtest-dev libgmock-dev googletest
  python3 procps mount
)
# variant apt: Essential packages and apt only; no recommends. dpkg skips fsync (the root is
# thrown away, never repaired) and documentation. The apt lists and package cache are dropped:
# the root is rebuilt, never upgraded.
MMDEBSTRAP_ARGS=(
  --mode=root --variant=apt --aptopt='APT::Install-Recommends "false"'
  --dpkgopt=force-unsafe-io --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*'
  --include="$(IFS=,; echo "${PKGS[*]}")"
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*'
  trixie
)
STAMP_FILE=.revsweep-debian13-stamp
# The stamp covers the package list and every mmdebstrap option: a change to either rebuilds.
stamp=$(printf '%s\n' "$MIRROR" "${MMDEBSTRAP_ARGS[@]}" | sha256sum | cut -d' ' -f1)

MOUNTS=()
TMP_ROOT=""
cleanup() {
  local i
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
    umount "${MOUNTS[i]}" 2>/dev/null || umount -l "${MOUNTS[i]}" ||
      echo "debian13: could not unmount ${MOUNTS[i]}" >&2
  done
  # --one-file-system: never follow into anything still mounted below it.
  [[ -n $TMP_ROOT ]] && rm -rf --one-file-system "$TMP_ROOT"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

mkdir -p "$(dirname "$ROOT")"
# One run at a time per root: a second would mount over the first's mounts or swap its root.
exec 9>"$ROOT.lock"
flock 9

# A mount left by a run that was killed before its trap ran would be removed along with
# the root below: refuse instead.
if findmnt -rn -o TARGET | grep -qF "$ROOT/"; then
  echo "debian13: something is still mounted under $ROOT (findmnt | grep $ROOT); unmount it" >&2
  exit 1
fi

t0=$SECONDS
if [[ ! -f $ROOT/$STAMP_FILE || $(cat "$ROOT/$STAMP_FILE") != "$stamp" ]]; then
  command -v mmdebstrap >/dev/null ||
    { echo "debian13: mmdebstrap not found (apt-get install mmdebstrap)" >&2; exit 1; }
  echo "debian13: creating the trixie root $ROOT (${#PKGS[@]} packages)"
  TMP_ROOT=$(mktemp -d "$ROOT.new.XXXXXX")
  chmod 755 "$TMP_ROOT"
  if ! mmdebstrap "${MMDEBSTRAP_ARGS[@]}" "$TMP_ROOT" "$MIRROR" >"$ROOT.mmdebstrap.log" 2>&1; then
    tail -40 "$ROOT.mmdebstrap.log" >&2
    echo "debian13: FAILED: mmdebstrap (log: $ROOT.mmdebstrap.log)" >&2
    exit 1
  fi
  echo "$stamp" >"$TMP_ROOT/$STAMP_FILE"
  if [[ -e $ROOT ]]; then
    mv "$ROOT" "$ROOT.old.$$"
    rm -rf --one-file-system "$ROOT.old.$$"
  fi
  mv "$TMP_ROOT" "$ROOT"
  TMP_ROOT=""
  echo "debian13: root created in $((SECONDS - t0)) s"
fi
# --root-only: deploy/test.sh makes the root (downloads and unpacking, little CPU) beside the
# main build, then runs the tier itself later.
if [[ ${1:-} == --root-only ]]; then exit 0; fi

mnt() { # mnt TARGET MOUNT-ARGS...: mounts and records TARGET for the trap
  local target=$1
  shift
  mkdir -p "$target"
  mount "$@" "$target"
  MOUNTS+=("$target")
  # Where / is a shared mount (systemd), a bind of /dev is /dev's peer: the tmpfs mounted on
  # its shm would then appear on the host's /dev/shm too.
  mount --make-private "$target"
}
mnt "$ROOT/proc" -t proc proc
mnt "$ROOT/sys" --bind /sys
mnt "$ROOT/dev" --bind /dev
# Open MPI's shared-memory transport keeps its segments here; a private tmpfs leaves none
# behind on the host.
mnt "$ROOT/dev/shm" -t tmpfs -o mode=1777 tmpfs
mnt "$ROOT/src" --bind "$SRC"

# What the tiers need, nothing else: the benchmarks other than bench_torch_dp_equivalence
# (which the mpi tier runs) and the gpu tier's nccl tests are left out. Test executables
# are the tests/CMakeLists.txt globs.
TARGETS=(revsweep revsweep-train bench_torch_dp_equivalence)
for f in $(find tests/common tests/scheduler tests/worker -name "*_test.cc"); do
  n=$(basename "$f" .cc)
  [[ $n == nccl_* ]] || TARGETS+=("$n")
done

in_root() { # fd 9 (the lock) closed: a process left behind must not hold it
  chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 TMPDIR=/tmp OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive \
    bash -c "cd /src && $1" 9>&-
}

SUMMARY=()
fail=0
step() { # step NAME COMMAND: runs COMMAND in the root, timed, and records the outcome
  local s=$SECONDS
  echo "debian13: $1"
  if in_root "$2"; then SUMMARY+=("$1: ok ($((SECONDS - s)) s)")
  else SUMMARY+=("$1: FAILED ($((SECONDS - s)) s)"); fail=1; fi
}

# A build directory another generator configured (an older version of this script) is
# rejected by cmake -G Ninja: start it afresh.
if [[ -f $BUILD/CMakeCache.txt ]] &&
   ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$BUILD/CMakeCache.txt"; then
  rm -rf "$BUILD"
fi
step build "cmake -G Ninja -S . -B $BUILD -DCMAKE_BUILD_TYPE=Release -DREVSWEEP_CUDA=OFF \
  -DREVSWEEP_BUILD_BENCH=ON -DCMAKE_CXX_FLAGS=-Werror=deprecated-declarations \
  >$BUILD.configure.log 2>&1 || { cat $BUILD.configure.log; exit 1; }
cmake --build $BUILD -j2 --target ${TARGETS[*]}"
if ((fail == 0)); then
  step unit "ctest --test-dir $BUILD -L '^unit\$' -j2 --output-on-failure --timeout 900"
  step mpi "ctest --test-dir $BUILD -L '^mpi\$' --output-on-failure --timeout 900"
fi

echo "==== debian13 summary ===="
printf '%s\n' "${SUMMARY[@]}"
echo "debian13 total: $((SECONDS - t0)) s"
((fail == 0)) || { echo "debian13: FAILED" >&2; exit 1; }
