#!/usr/bin/env bash
# Fails when a C++ file differs from .clang-format (Google base). Fix with:
#   git ls-files '*.cc' '*.h' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "$0")/.."
CF=$(command -v clang-format || command -v clang-format-14 || true)
if [[ -z "$CF" ]]; then echo "check-format: clang-format not installed" >&2; exit 1; fi
bad=$(git ls-files '*.cc' '*.h' | xargs "$CF" --dry-run 2>&1 | grep -c "warning:" || true)
if [[ "$bad" != 0 ]]; then
  git ls-files '*.cc' '*.h' | xargs "$CF" --dry-run 2>&1 | grep "warning:" | cut -d: -f1 | sort -u
  echo "check-format: $bad formatting differences" >&2
  exit 1
fi
echo "check-format: all files formatted"
