#!/usr/bin/env bash
# expect_exit.sh CODE COMMAND...: runs COMMAND (its output shown) and
# passes iff it exits with CODE.
set -u
want=$1
shift
"$@"
got=$?
if [ "$got" -ne "$want" ]; then
  echo "FAIL: '$*' exited $got, expected $want" >&2
  exit 1
fi
echo "PASS: exit $got"
