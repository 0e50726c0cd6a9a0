#!/usr/bin/env bash
# Fetches the paper authors' published data (Berglund et al. 2023) from their repository,
# lukasberglund/reversal_curse at commit 6af5f418, into DEST (default: data/authors, which
# .gitignore keeps out of git). The project never ships these files; tests find them through
# REVSWEEP_AUTHORS_DATA=DEST (see docs/DATA.md, "The authors' data").
#   bash deploy/fetch-authors-data.sh [DEST]
# Needs git and network access to github.com.
set -euo pipefail
DEST=${1:-data/authors}
REPO=${REVSWEEP_AUTHORS_REPO:-https://github.com/lukasberglund/reversal_curse.git}
COMMIT=6af5f418
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetching $REPO at $COMMIT ..."
git clone --quiet --no-checkout --filter=blob:none "$REPO" "$tmp/repo"
git -C "$tmp/repo" checkout --quiet "$COMMIT" -- \
  data/reverse_experiments/june_version_7921032488 \
  data/instructions/copypaste_ug100_rg1000_main \
  data/celebrity_relations/parent_child_pairs.csv
mkdir -p "$DEST/exp2_celebrity_relations"
rm -rf "$DEST/exp1_june_version_7921032488" "$DEST/exp3_copypaste_ug100_rg1000_main"
cp -r "$tmp/repo/data/reverse_experiments/june_version_7921032488" \
  "$DEST/exp1_june_version_7921032488"
cp -r "$tmp/repo/data/instructions/copypaste_ug100_rg1000_main" \
  "$DEST/exp3_copypaste_ug100_rg1000_main"
cp "$tmp/repo/data/celebrity_relations/parent_child_pairs.csv" "$DEST/exp2_celebrity_relations/"
# The shapes the loaders and tests expect (docs/DATA.md).
n=$(cat "$DEST/exp1_june_version_7921032488/all_prompts_train.jsonl" | wc -l)
[[ $n -eq 3600 ]] || { echo "unexpected: all_prompts_train.jsonl has $n rows, not 3600" >&2; exit 1; }
echo "authors' data in $DEST; use it with: export REVSWEEP_AUTHORS_DATA=$(cd "$DEST" && pwd)"
