#!/usr/bin/env bash
# One command from a fresh Debian 12: install dependencies (apt), build (Release), and run the
# quickstart sweep on this machine's cores, then print its summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh --minimal
bash deploy/build.sh --target revsweep revsweep-train
start=$(date +%s)
./build/bin/revsweep run configs/quickstart.yaml --ranks "${RANKS:-$(nproc)}"
./build/bin/revsweep summary quickstart --format table
echo "quickstart wall time: $(( $(date +%s) - start )) s"
