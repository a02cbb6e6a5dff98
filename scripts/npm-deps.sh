#!/bin/bash
# Install the npm packages the integration tests use (the official LLM SDKs run against the
# simulated providers: test/integ/clients/*.mjs) into test/npm/node_modules, exactly as pinned
# in test/npm/package-lock.json: `npm ci`, no audit, no fund, no install scripts.
# Idempotent and fast: when node_modules holds what the current lock file says (a stamp with
# the lock file's SHA-256, written after a successful install), it does nothing.
# Fails with a message saying what is missing (npm, a recent enough Node, the registry).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=$repo/test/npm
lock=$dir/package-lock.json
stamp=$dir/node_modules/.modelux-lock.sha256
min_node=20 # @google/genai needs Node 20

die() {
	echo "npm-deps: $*" >&2
	exit 1
}

[ -f "$lock" ] || die "no $lock"
want=$(sha256sum "$lock" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
	exit 0
fi

command -v node >/dev/null || die "node not found (scripts/deps.sh installs nodejs)"
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge "$min_node" ] ||
	die "node $(node --version) is too old: the pinned SDKs need Node >= $min_node"
if ! command -v npm >/dev/null; then
	die "npm not found: install it (Debian: apt-get install npm; NodeSource's nodejs package" \
		"ships its own npm), then run scripts/npm-deps.sh again"
fi

echo "npm-deps: installing test/npm (npm ci) ..." >&2
rm -f "$stamp"
# --ignore-scripts: nothing the tests use needs an install script (genai's is a no-op,
# protobufjs's only prints a version check), and none should run as root here.
if ! npm ci --prefix "$dir" --no-audit --no-fund --ignore-scripts --loglevel=error >&2; then
	die "npm ci failed in $dir (is the npm registry reachable?)"
fi
for p in openai @anthropic-ai/sdk @google/genai ws; do
	[ -f "$dir/node_modules/$p/package.json" ] || die "$p missing from $dir/node_modules after npm ci"
done
echo "$want" >"$stamp"
echo "npm-deps: installed test/npm/node_modules" >&2
