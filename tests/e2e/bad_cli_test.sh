#!/usr/bin/env bash
# e2e tier: bad command lines. Walks tests/bad_inputs/cli/ (format: README.md there): each
# case must exit 2 with the expected message line(s), leave an existing store file
# byte-for-byte unchanged, and create no store when none existed.
# shellcheck source=tests/lib/test_lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/../lib/test_lib.bash"
tl_begin bad_cli

CORPUS=$REVSWEEP_SRC/tests/bad_inputs/cli
[[ -d $CORPUS ]] || fail "no corpus at $CORPUS"
# The permission cases run as nobody: every folder on the way must be traversable.
chmod 755 "$T"

# make_store PATH: a real store (sweep bad_cli prepared from the case's config).
make_store() {
  "$RS" prepare "$CASE_T/c.yaml" --store "$1" --quiet >"$CASE_T/make_store.log" 2>&1 ||
    fail "$CASE: make_store $1 failed: $(cat "$CASE_T/make_store.log")"
}

subst() { sed -e "s|@CONFIG@|$CASE_T/c.yaml|g" -e "s|@T@|$CASE_T|g" "$1"; }

# One case, in a subshell: a failed assertion ends the case, not the walk.
run_case() {
  local args_file=$1
  TL_PASSES=0
  CASE=$(basename "$args_file" .args)
  CASE_T=$T/$CASE
  mkdir -p "$CASE_T"
  chmod 755 "$CASE_T"
  write_config "$CASE_T/c.yaml" bad_cli "run.store=$CASE_T/store.db" "run.run_root=$CASE_T/runs"
  chmod 644 "$CASE_T/c.yaml"
  STORE=""
  AS_USER=""
  if [[ -f $CORPUS/$CASE.setup ]]; then
    # shellcheck disable=SC1090
    source <(subst "$CORPUS/$CASE.setup")
  fi
  [[ -f $CORPUS/$CASE.expected ]] || fail "$CASE: no $CASE.expected"
  mapfile -t argv < <(subst "$args_file")
  mapfile -t expected < <(subst "$CORPUS/$CASE.expected")

  sum_before=""
  [[ -n $STORE ]] && sum_before=$(sha256sum <"$STORE")
  runner=()
  if [[ -n $AS_USER ]]; then
    if [[ $(id -u) == 0 ]]; then
      command -v setpriv >/dev/null || fail "$CASE: needs setpriv to drop root privileges"
      if ! uid=$(id -u "$AS_USER") || ! gid=$(id -g "$AS_USER"); then fail "$CASE: no user $AS_USER"; fi
      runner=(setpriv "--reuid=$uid" "--regid=$gid" --clear-groups --)
    fi
  fi
  tl_bg cpid "$CASE_T/out.log" "${runner[@]}" "$RS" "${argv[@]}"
  tl_wait_pid "$cpid" 60
  rc=$?
  say "$CASE: revsweep ${argv[*]} -> exit $rc"
  sed 's/^/    | /' "$CASE_T/out.log"
  assert_eq "$rc" 2 "$CASE: exit status 2 (user error)"
  for line in "${expected[@]}"; do
    [[ -n $line ]] || continue
    found=0
    while IFS= read -r got; do
      # shellcheck disable=SC2053
      if [[ $got == $line ]]; then found=1; break; fi
    done <"$CASE_T/out.log"
    ((found)) || fail "$CASE: expected a line matching: $line"
    pass "$CASE: message: $line"
  done
  if [[ -n $STORE ]]; then
    assert_eq "$(sha256sum <"$STORE")" "$sum_before" "$CASE: the existing store $STORE is unchanged"
  else
    [[ ! -e $CASE_T/store.db ]] || fail "$CASE: a rejected command created the store $CASE_T/store.db"
    pass "$CASE: no store was created"
  fi
  echo "$TL_PASSES" >"$CASE_T/.passes"
}

n_cases=0
failed=()
for args_file in "$CORPUS"/*.args; do
  case_name=$(basename "$args_file" .args)
  echo "---- $case_name"
  (run_case "$args_file") || failed+=("$case_name")
  TL_PASSES=$((TL_PASSES + $(cat "$T/$case_name/.passes" 2>/dev/null || echo 0)))
  chmod -R u+w "$T/$case_name" 2>/dev/null  # let cleanup remove read-only fixture folders
  n_cases=$((n_cases + 1))
done
((n_cases >= 7)) || fail "only $n_cases cases in $CORPUS"
((${#failed[@]} == 0)) || fail "${#failed[@]} of $n_cases case(s) failed: ${failed[*]}"
pass "$n_cases bad command lines rejected cleanly"
tl_end
