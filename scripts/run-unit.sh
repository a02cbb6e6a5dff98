#!/bin/bash
# Run each cmocka unit-test binary given as an argument, go on after failures, and total the
# test cases from cmocka's summaries ("[  PASSED  ] N test(s)." / "[  FAILED  ] N test(s)", one
# pair per group):
#   unit: N passed, N failed
# A binary that crashes, times out, exits non-zero with no failure counted, or prints no summary
# counts as one failure. Exit 1 if anything failed. UNIT_TIMEOUT = seconds per binary (300).
set -uo pipefail

timeout_s=${UNIT_TIMEOUT:-300}
pass=0
fail=0

if [ $# -eq 0 ]; then
	echo "run-unit: no test binaries given" >&2
	echo "unit: 0 passed, 1 failed"
	exit 1
fi

out=$(mktemp /tmp/modelux-unit.XXXXXX) || exit 1
trap 'rm -f "$out"' EXIT

for bin in "$@"; do
	name=$(basename "$bin")
	if [ ! -x "$bin" ]; then
		echo "FAIL: $name: $bin is not an executable file"
		fail=$((fail + 1))
		continue
	fi
	rc=0
	# Standard cmocka output on stdout (not TAP/XML, whatever the environment says).
	CMOCKA_MESSAGE_OUTPUT=STDOUT \
		timeout -k 10 "$timeout_s" "$bin" >"$out" 2>&1 </dev/null || rc=$?
	cat "$out"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test(s)\..*/\1/p' "$out" | awk '{ s += $1 } END { print s + 0 }')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test(s).*/\1/p' "$out" | awk '{ s += $1 } END { print s + 0 }')
	summaries=$(grep -c '^\[  PASSED  \] [0-9][0-9]* test(s)\.' "$out")
	why=
	if [ "$rc" -eq 124 ]; then
		why="timed out after ${timeout_s}s"
	elif [ "$rc" -gt 128 ]; then
		why="killed by signal $((rc - 128))"
	elif [ "$summaries" -eq 0 ]; then
		why="no cmocka summary (exit status $rc)"
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		why="exit status $rc with no failed test counted"
	fi
	if [ -n "$why" ]; then
		echo "FAIL: $name: $why"
		f=$((f + 1))
	fi
	echo "--- $name: $p passed, $f failed"
	pass=$((pass + p))
	fail=$((fail + f))
done

echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
