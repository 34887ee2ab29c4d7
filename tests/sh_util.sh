# Helpers shared by the shell tests (sourced; they define `name` before sourcing):
#   fail MESSAGE                       print "NAME: FAIL: MESSAGE" and exit 1
#   json_num KEY                       the numeric value of "KEY" in the last JSON line of stdin
#   expect_status STATUS NEEDLE CMD... run CMD, check its exit status and that its stderr holds NEEDLE
fail() { echo "$name: FAIL: $*" >&2; exit 1; }
json_num() { tail -n 1 | sed -n "s/.*\"$1\": *\([-0-9.eE+]*\).*/\1/p"; }
expect_status() {
  local want=$1 needle=$2; shift 2
  set +e
  msg=$("$@" 2>&1 >/dev/null)
  rc=$?
  set -e
  [[ $rc == "$want" ]] || fail "$* exited $rc, expected $want: $msg"
  [[ $msg == *"$needle"* ]] || fail "$*: the message lacks '$needle': $msg"
}
