#!/bin/bash
# ca/modelux-ca end to end, in a scratch directory and a fake trust root (MODELUX_TRUST_ROOT):
# create (modes, no overwrite), import (refuses non-CA certificates, mismatched and encrypted
# keys), intermediate (name constraints hold under `openssl verify`), install-trust and
# uninstall-trust into the fake root, env, dev. Never touches the host's trust store.
# Stand-alone (no lib.sh, no namespaces): prints PASS:/FAIL: lines and
#   t_ca: N passed, N failed
# and appends results to $MLX_RESULTS when run-all.sh sets it.
set -u -o pipefail

NAME=t_ca
HERE=$(cd "$(dirname "$0")" && pwd)
TOOL=$HERE/../../ca/modelux-ca
PASS=0
FAIL=0

W=$(mktemp -d /tmp/modelux-t_ca.XXXXXX) || exit 1
trap 'rm -rf -- "$W"' EXIT
export MODELUX_TRUST_ROOT=$W/root

record() {	# verdict desc
	if [ -n "${MLX_RESULTS:-}" ]; then
		printf '%s\t%s: %s\n' "$1" "$NAME" "$2" >>"$MLX_RESULTS" || true
	fi
}
ok() {
	PASS=$((PASS + 1))
	printf 'PASS: %s\n' "$1"
	record PASS "$1"
}
not_ok() {
	local d=$1
	shift
	FAIL=$((FAIL + 1))
	printf 'FAIL: %s\n' "$d"
	[ $# -eq 0 ] || printf '%s\n' "$@" | sed 's/^/    /' | tail -n 20
	record FAIL "$d"
}
check() {	# desc cmd...: passes when cmd exits 0
	local d=$1 out
	shift
	if out=$("$@" 2>&1); then ok "$d"; else not_ok "$d" "command: $*" "$out"; fi
}
check_fails() {	# desc cmd...: passes when cmd exits non-zero
	local d=$1 out
	shift
	if out=$("$@" 2>&1); then not_ok "$d" "command: $*" "succeeded" "$out"; else ok "$d"; fi
}
assert_eq() {	# desc expected actual
	if [ "$2" == "$3" ]; then ok "$1"; else not_ok "$1" "expected: $2" "actual:   $3"; fi
}
assert_contains() {	# desc haystack needle
	if [[ $2 == *"$3"* ]]; then ok "$1"; else not_ok "$1" "no '$3' in:" "$2"; fi
}
assert_not_contains() {
	if [[ $2 != *"$3"* ]]; then ok "$1"; else not_ok "$1" "unexpected '$3' in:" "$2"; fi
}

mode() { stat -c %a "$1"; }
ALL_OUT=$W/all-output # everything the tool prints, checked for key material at the end
mca() { "$TOOL" "$@" 2> >(tee -a "$ALL_OUT" >&2) | tee -a "$ALL_OUT"; }

# leaf CA_CRT CA_KEY NAME OUT [SAN] - a server leaf for NAME signed by the given CA.
leaf() {
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout /dev/null -subj "/CN=$3" -addext "subjectAltName=${5:-DNS:$3}" \
		-addext "basicConstraints=critical,CA:FALSE" -addext "extendedKeyUsage=serverAuth" \
		-CA "$1" -CAkey "$2" -days 1 -out "$4" 2>/dev/null
}

[ "$(id -u)" = 0 ] || echo "t_ca: note: not root; the tool itself does not need it here" >&2
command -v openssl >/dev/null || { not_ok "openssl command present"; echo "$NAME: $PASS passed, $FAIL failed"; exit 1; }
host_anchor_before=$(stat -c %Y /usr/local/share/ca-certificates/modelux-ca.crt 2>/dev/null || echo none)

# --- create ------------------------------------------------------------------------------------
C=$W/corp
check "create a CA" mca create "$C" --cn "t_ca Corp CA" --days 400
assert_eq "ca.key is 0600" 600 "$(mode "$C/ca.key")"
assert_eq "ca.crt is 0644" 644 "$(mode "$C/ca.crt")"
out=$(openssl x509 -in "$C/ca.crt" -noout -subject -ext basicConstraints,keyUsage 2>&1)
assert_contains "subject is the given CN" "$out" "CN = t_ca Corp CA"
assert_contains "basicConstraints critical CA:TRUE" "$out" "Basic Constraints: critical"
assert_contains "keyUsage keyCertSign" "$out" "Certificate Sign"
out=$(openssl pkey -in "$C/ca.key" -noout -text 2>&1)
assert_contains "key is P-256" "$out" "NIST CURVE: P-256"
check "key matches the certificate" cmp -s <(openssl x509 -in "$C/ca.crt" -noout -pubkey) \
	<(openssl pkey -in "$C/ca.key" -pubout)
check "valid for about 400 days" openssl x509 -in "$C/ca.crt" -noout -checkend $((399 * 86400))
check_fails "not valid for 401 days" openssl x509 -in "$C/ca.crt" -noout -checkend $((401 * 86400))
sum=$(cat "$C/ca.key" "$C/ca.crt" | sha256sum)
check_fails "create refuses an existing CA" mca create "$C"
assert_eq "refused create left the files alone" "$sum" "$(cat "$C/ca.key" "$C/ca.crt" | sha256sum)"
check_fails "create refuses --days 0" mca create "$W/bad1" --days 0
# shellcheck disable=SC2016 # a literal dollar sign is the point
check_fails "create refuses a CN with a dollar sign" mca create "$W/bad2" --cn 'x$y'
check_fails "no key left behind by a refused create" test -e "$W/bad1/ca.key"

# --- import ------------------------------------------------------------------------------------
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/ee.key" \
	-subj "/CN=not a ca" -addext "basicConstraints=critical,CA:FALSE" -days 2 \
	-out "$W/ee.crt" 2>/dev/null
out=$(mca import "$W/imp1" "$W/ee.crt" "$W/ee.key" 2>&1)
check_fails "import refuses a non-CA certificate" test -e "$W/imp1/ca.crt"
assert_contains "import says the certificate is not a CA" "$out" "not a CA certificate"
out=$(mca import "$W/imp2" "$C/ca.crt" "$W/ee.key" 2>&1)
check_fails "import refuses a key that does not match" test -e "$W/imp2/ca.key"
assert_contains "import says the key does not match" "$out" "does not match"
openssl pkey -in "$C/ca.key" -aes128 -passout pass:secret -out "$W/enc.key" 2>/dev/null
out=$(mca import "$W/imp3" "$C/ca.crt" "$W/enc.key" 2>&1 </dev/null)
check_fails "import refuses an encrypted key (no prompt)" test -e "$W/imp3/ca.key"
assert_contains "import asks for an unencrypted key" "$out" "unencrypted"
chmod 0644 "$W/ee.key"
cp "$C/ca.key" "$W/loose.key"
chmod 0644 "$W/loose.key"
check "import accepts a CA and its key" mca import "$W/imp4" "$C/ca.crt" "$W/loose.key"
assert_eq "imported key is 0600 whatever the source mode" 600 "$(mode "$W/imp4/ca.key")"
assert_eq "imported certificate is 0644" 644 "$(mode "$W/imp4/ca.crt")"
check "imported key still matches" cmp -s <(openssl x509 -in "$W/imp4/ca.crt" -noout -pubkey) \
	<(openssl pkey -in "$W/imp4/ca.key" -pubout)
openssl x509 -in "$C/ca.crt" -outform DER -out "$W/ca.der"
check "import accepts a DER certificate" mca import "$W/imp5" "$W/ca.der" "$C/ca.key"
check_fails "import refuses to overwrite" mca import "$W/imp4" "$C/ca.crt" "$C/ca.key"

# --- intermediate ------------------------------------------------------------------------------
check "intermediate with the default provider domains" mca intermediate "$C" host1
I=$C/hosts/host1
assert_eq "intermediate key is 0600" 600 "$(mode "$I/ca.key")"
assert_eq "intermediate ca.crt is 0644" 644 "$(mode "$I/ca.crt")"
check "root.crt is the corporate CA" cmp -s "$I/root.crt" <(openssl x509 -in "$C/ca.crt")
assert_eq "ca.crt holds the intermediate and the root" 2 "$(grep -c 'BEGIN CERTIFICATE' "$I/ca.crt")"
out=$(openssl x509 -in "$I/ca.crt" -noout -text)
assert_contains "pathlen:0" "$out" "CA:TRUE, pathlen:0"
assert_contains "name constraints are critical" "$out" "Name Constraints: critical"
for d in api.openai.com openai.azure.com api.anthropic.com generativelanguage.googleapis.com \
	api.mistral.ai api.groq.com api.x.ai openrouter.ai api.deepseek.com api.together.xyz \
	api.together.ai api.cohere.com api.cohere.ai api.perplexity.ai; do
	assert_contains "permits $d" "$out" "DNS:$d"$'\n'
done
assert_contains "excludes every IPv4 address" "$out" "IP:0.0.0.0/0.0.0.0"
check "intermediate chains to the root" openssl verify -CAfile "$C/ca.crt" "$I/ca.crt"

verify() {	# name leaf: openssl verify as a TLS client of <name> trusting only the root
	openssl verify -CAfile "$C/ca.crt" -untrusted "$I/ca.crt" -purpose sslserver \
		-verify_hostname "$1" "$2"
}
leaf "$I/ca.crt" "$I/ca.key" api.openai.com "$W/l1.pem"
check "leaf for api.openai.com via the intermediate verifies" verify api.openai.com "$W/l1.pem"
leaf "$I/ca.crt" "$I/ca.key" myres.openai.azure.com "$W/l2.pem"
check "leaf under openai.azure.com verifies" verify myres.openai.azure.com "$W/l2.pem"
leaf "$I/ca.crt" "$I/ca.key" evil.example.com "$W/l3.pem"
out=$(verify evil.example.com "$W/l3.pem" 2>&1)
check_fails "leaf for evil.example.com fails verification" verify evil.example.com "$W/l3.pem"
assert_contains "evil.example.com fails on the name constraints" "$out" "permitted subtree violation"
leaf "$I/ca.crt" "$I/ca.key" api.openai.com "$W/l4.pem" "DNS:api.openai.com,IP:192.0.2.1"
check_fails "leaf naming an IP address fails verification" verify api.openai.com "$W/l4.pem"

check "intermediate with --domains a.com,*.b.com" mca intermediate "$C" host2 \
	--domains 'a.example,*.b.example' --days 30
I=$C/hosts/host2
for n in a.example x.a.example x.b.example; do
	leaf "$I/ca.crt" "$I/ca.key" "$n" "$W/l.pem"
	check "--domains permits $n" verify "$n" "$W/l.pem"
done
for n in b.example c.example; do
	leaf "$I/ca.crt" "$I/ca.key" "$n" "$W/l.pem"
	check_fails "--domains refuses $n" verify "$n" "$W/l.pem"
done
check_fails "intermediate refuses to overwrite" mca intermediate "$C" host2
check_fails "intermediate refuses a bad domain" mca intermediate "$C" host3 --domains 'a.com,bad_domain'

# --- install-trust / env / uninstall-trust ------------------------------------------------------
R=$MODELUX_TRUST_ROOT
out=$(mca env "$C" 2>"$W/env.err")
assert_eq "env prints three export lines" 3 "$(grep -c '^export ' <<<"$out")"
assert_contains "env: NODE_EXTRA_CA_CERTS is the CA file" "$out" "export NODE_EXTRA_CA_CERTS=$C/ca.crt"
assert_contains "env: REQUESTS_CA_BUNDLE is the system bundle" "$out" \
	"export REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt"
assert_contains "env: SSL_CERT_FILE is the system bundle" "$out" \
	"export SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"
assert_contains "env warns while the CA is not installed" "$(cat "$W/env.err")" "not in the system trust store"
check "env output is valid shell" bash -n <<<"$out"

check "install-trust into the fake root" mca install-trust "$C"
A=$R/usr/local/share/ca-certificates/modelux-ca.crt
check "anchor installed" test -f "$A"
assert_eq "anchor is 0644" 644 "$(mode "$A")"
check "anchor is the CA certificate" cmp -s "$A" <(openssl x509 -in "$C/ca.crt")
P=$R/etc/profile.d/modelux-ca.sh
assert_eq "profile.d script is 0644" 644 "$(mode "$P")"
assert_eq "profile.d exports" \
	"export NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/modelux-ca.crt
export REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
export SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt" "$(grep '^export ' "$P")"
check "profile.d script is valid shell" bash -n "$P"
if command -v update-ca-certificates >/dev/null; then
	B=$R/etc/ssl/certs/ca-certificates.crt
	check "fake bundle holds the CA" grep -qxF "$(sed -n 2p "$A")" "$B"
	check "fake /etc/ssl/certs link to the anchor" test -L "$R/etc/ssl/certs/modelux-ca.pem"
	leaf "$C/ca.crt" "$C/ca.key" api.anthropic.com "$W/l5.pem"
	check "a leaf verifies against the fake bundle" \
		openssl verify -CAfile "$B" -verify_hostname api.anthropic.com "$W/l5.pem"
fi
out=$(mca env "$C" 2>"$W/env.err")
assert_eq "env is quiet once the CA is installed" "" "$(cat "$W/env.err")"
check "install-trust again replaces in place" mca install-trust "$C"
check "install-trust of an intermediate directory trusts its root" mca install-trust "$C/hosts/host1"
check "the anchor is then the root, not the intermediate" cmp -s "$A" "$C/hosts/host1/root.crt"

check "uninstall-trust" mca uninstall-trust
check_fails "anchor removed" test -e "$A"
check_fails "profile.d script removed" test -e "$P"
if command -v update-ca-certificates >/dev/null; then
	check_fails "fake bundle no longer holds the CA" grep -qxF "$(sed -n 2p "$C/ca.crt")" "$B"
	check_fails "fake /etc/ssl/certs link removed" test -e "$R/etc/ssl/certs/modelux-ca.pem"
fi
check "uninstall-trust when not installed is fine" mca uninstall-trust

assert_eq "host trust store untouched" "$host_anchor_before" \
	"$(stat -c %Y /usr/local/share/ca-certificates/modelux-ca.crt 2>/dev/null || echo none)"

# --- dev ---------------------------------------------------------------------------------------
D=$W/dev
check "dev creates a CA" mca dev "$D"
assert_eq "dev key is 0600" 600 "$(mode "$D/ca.key")"
sum=$(cat "$D/ca.key" "$D/ca.crt" | sha256sum)
check "dev again is a no-op" mca dev "$D"
assert_eq "dev kept the existing CA" "$sum" "$(cat "$D/ca.key" "$D/ca.crt" | sha256sum)"
rm "$D/ca.crt"
check_fails "dev refuses half a CA" mca dev "$D"

# --- no key material in any output ---------------------------------------------------------------
check_fails "no private key in anything the tool printed" grep -q "PRIVATE KEY" "$ALL_OUT"
check_fails "no temporary files left in CA directories" \
	sh -c "ls -A '$C' '$C/hosts/host1' | grep -q '^\.modelux-ca'"

echo "$NAME: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
