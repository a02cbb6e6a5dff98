#!/bin/bash
# Replay each fuzz target's seed corpus once: for every BUILD/fuzz/fuzz_NAME, run it on
# test/fuzz/corpus/NAME with -runs=0 (libFuzzer executes every input of the directory once and
# stops; nothing is mutated or added). One result per target, then
#   fuzz-replay: N passed, N failed
# A missing or empty corpus directory is a failure. Exit 1 if anything failed.
# FUZZ_REPLAY_TIMEOUT = seconds per target (default 300).
# Usage: scripts/fuzz-replay.sh BUILD_DIR
set -uo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
build=$1
root=$(cd "$(dirname "$0")/.." && pwd)
corpora=$root/test/fuzz/corpus
timeout_s=${FUZZ_REPLAY_TIMEOUT:-300}
pass=0
fail=0

work=$(mktemp -d /tmp/modelux-fuzz-replay.XXXXXX) || exit 1
trap 'rm -rf "$work"' EXIT

shopt -s nullglob
targets=("$build"/fuzz/fuzz_*)
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz-replay: no fuzz targets in $build/fuzz/" >&2
	echo "fuzz-replay: 0 passed, 1 failed"
	exit 1
fi

for bin in "${targets[@]}"; do
	if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then
		continue
	fi
	name=${bin##*/fuzz_}
	dir=$corpora/$name
	if [ ! -d "$dir" ]; then
		echo "FAIL: $name: no corpus directory $dir"
		fail=$((fail + 1))
		continue
	fi
	n=$(find "$dir" -type f | wc -l)
	if [ "$n" -eq 0 ]; then
		echo "FAIL: $name: corpus $dir is empty"
		fail=$((fail + 1))
		continue
	fi
	log=$work/$name.log
	rc=0
	# Crash artifacts go to the scratch dir, not the current directory.
	timeout -k 10 "$timeout_s" "$bin" -runs=0 -artifact_prefix="$work/$name-" "$dir" \
		>"$log" 2>&1 </dev/null || rc=$?
	if [ "$rc" -eq 0 ]; then
		echo "PASS: $name: $n inputs replayed"
		pass=$((pass + 1))
	else
		[ "$rc" -eq 124 ] && echo "fuzz-replay: $name timed out after ${timeout_s}s" >>"$log"
		echo "FAIL: $name: exit status $rc replaying $n inputs; last lines:"
		tail -n 40 "$log" | sed 's/^/    /'
		# libFuzzer names the artifact after the input's SHA-1: say which corpus file it was.
		for a in "$work/$name"-*; do
			sum=${a##*-}
			find "$dir" -type f -exec sha1sum {} + | awk -v s="$sum" -v r="$root/" \
				'$1 == s { sub(r, "", $2); print "    failing input: " $2 }'
		done
		fail=$((fail + 1))
	fi
done

echo "fuzz-replay: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
