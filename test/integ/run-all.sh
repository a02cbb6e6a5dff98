#!/bin/bash
# Run every test/integ/t_*.sh (or those named in the arguments: t_foo, t_foo.sh or a path), each
# in its own bash process, one after the other, and total their assertions:
#   integ: N passed, N failed
# A script that exits non-zero without a failed assertion counts as one failure. Needs root:
# without it this fails, it never skips. Environment: O = build dir (default build),
# MLX_TEST_TIMEOUT = seconds per script (default 600), MLX_KEEP (see lib.sh).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.." || exit 1
export O=${O:-build}
timeout_s=${MLX_TEST_TIMEOUT:-600}

if [ "$(id -u)" != 0 ]; then
	echo "integ: FAIL: the integration tests need root (network namespaces, cgroups, BPF);" \
		"run as root, e.g. sudo make integ" >&2
	echo "integ: 0 passed, 1 failed"
	exit 1
fi

tests=()
if [ $# -gt 0 ]; then
	for a in "$@"; do
		a=${a##*/}
		a=${a%.sh}
		if [ -f "$here/$a.sh" ]; then
			tests+=("$here/$a.sh")
		else
			echo "integ: no test $here/$a.sh" >&2
			echo "integ: 0 passed, 1 failed"
			exit 1
		fi
	done
else
	for t in "$here"/t_*.sh; do
		[ -f "$t" ] && tests+=("$t")
	done
fi
if [ ${#tests[@]} -eq 0 ]; then
	echo "integ: no test/integ/t_*.sh found" >&2
	echo "integ: 0 passed, 1 failed"
	exit 1
fi

# Leftovers of runs killed with SIGKILL. In a subshell: lib.sh's defaults (MLX_DNS_TTL...)
# must not leak into the scripts' environment.
# shellcheck source=test/integ/lib.sh
(source "$here/lib.sh" && integ_sweep_stale)

res=$(mktemp -d /tmp/modelux-integ-results.XXXX) || exit 1
pass=0
fail=0
child=
aborted=

on_signal() {	# forward to the running script's process group; its trap tears down
	aborted=$1
	[ -n "$child" ] && kill -TERM -- "-$child" 2>/dev/null
}
trap 'on_signal INT' INT
trap 'on_signal TERM' TERM
trap 'on_signal HUP' HUP

t_all=${EPOCHREALTIME/./}
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	out=$res/$name
	: >"$out"
	echo "=== $name"
	t0=${EPOCHREALTIME/./}
	# Own process group (set -m): a signal or the timeout reaches the script and whatever it
	# runs in the foreground, and nothing it starts inherits an ignored SIGINT.
	set -m
	MLX_RESULTS=$out bash "$t" </dev/null &
	child=$!
	(
		sleep "$timeout_s"
		echo "integ: $name timed out after ${timeout_s}s" >&2
		kill -TERM -- "-$child" 2>/dev/null
		sleep 20
		kill -KILL -- "-$child" 2>/dev/null
	) &
	watchdog=$!
	set +m
	rc=0
	while :; do
		wait "$child"
		rc=$?
		# wait returns early (status > 128) when a trapped signal arrives; the script is
		# still tearing down then, so wait again.
		kill -0 "$child" 2>/dev/null || break
	done
	child=
	kill -TERM -- "-$watchdog" 2>/dev/null
	wait "$watchdog" 2>/dev/null

	p=$(grep -c '^PASS' "$out")
	f=$(grep -c '^FAIL' "$out")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL: $name exited with status $rc without a failed assertion"
		f=1
	fi
	pass=$((pass + p))
	fail=$((fail + f))
	grep '^FAIL' "$out" | cut -f2- >>"$res/failures"
	[ "$rc" -ne 0 ] && [ "$(grep -c '^FAIL' "$out")" -eq 0 ] &&
		echo "$name: exited with status $rc without a failed assertion" >>"$res/failures"
	echo "=== $name: $p passed, $f failed ($(( (${EPOCHREALTIME/./} - t0) / 1000 )) ms)"
	[ -n "$aborted" ] && break
done
if [ -s "$res/failures" ]; then
	echo "# failed:"
	sed 's/^/#   /' "$res/failures"
fi
rm -rf "$res"

[ -n "$aborted" ] && { echo "integ: interrupted by SIG$aborted"; fail=$((fail + 1)); }
echo "# integ: $(( (${EPOCHREALTIME/./} - t_all) / 1000 )) ms"
echo "integ: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
