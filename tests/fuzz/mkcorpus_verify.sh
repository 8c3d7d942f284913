#!/usr/bin/env bash
# mkcorpus_verify.sh: regenerate the seed corpus of the verify fuzz target,
# tests/fuzz/corpus/verify/, and print the FIXED_NOW that goes with it.
#
#   tests/fuzz/mkcorpus_verify.sh [OUTDIR]   (needs build/authctl: make)
#   AUTHCTL=path/to/authctl tests/fuzz/mkcorpus_verify.sh
#
# OUTDIR (default tests/fuzz/corpus/verify) loses its files and gets the
# new seeds.
#
# The harness (verify_fuzz.c) trusts one fixed root, the public throwaway CA
# in tests/fuzz/verify_ca/, and verifies at one fixed time, FIXED_NOW. This
# script issues the good SVIDs from that CA with `authctl ca issue` at the
# current time, so the corpus needs FIXED_NOW = (issue time + 60 s): inside
# every good leaf (notBefore is back-dated 60 s, the TTLs are 1 h and 24 h).
# When the value differs from the harness's, the script says so: paste it
# into verify_fuzz.c, or the good seeds fail as not-yet-valid.
#
# Every seed is "MODE [ROLE] BYTES": MODE 0x00 certs_verify_pem, 0x01
# certs_bundle_parse, 0x02 certs_verify_chain on a chain parsed by mbedTLS;
# ROLE (modes 0 and 2) is 0 any, 1 client, 2 server.
#
# Seeds:
#   - good chains from authctl (PEM, concatenated DER, with the root, leaf
#     only, too long, truncated), for each role;
#   - one defect per chain (expired, two URI SANs, leaf is a CA, weak
#     crypto, ...) like tests/certs/mkchains.sh's, but issued with openssl
#     by the fixed issuer and dated around FIXED_NOW, so each reaches its
#     own check;
#   - chains of tests/certs/mkchains.sh itself (their own root, unknown to
#     the harness: unknown-authority, and bad-ca for issuer_not_ca);
#   - bundles: the fixed one (PEM, DER), two roots, a non-anchor, truncated.
#
# Each verify seed is also checked with `authctl ca verify --at FIXED_NOW`,
# whose verdict is printed; the script fails if a good chain does not verify.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
AUTHCTL=${AUTHCTL:-$TOP/build/authctl}
CA_SRC=$HERE/verify_ca
OUT=${1:-$HERE/corpus/verify}
HARNESS=$HERE/verify_fuzz.c
TD=example.org

if [ $# -gt 1 ]; then
	echo "usage: $0 [OUTDIR]" >&2
	exit 2
fi
if [ ! -x "$AUTHCTL" ]; then
	echo "mkcorpus_verify: no $AUTHCTL (run make, or set AUTHCTL)" >&2
	exit 2
fi

W=$(mktemp -d /tmp/mkcorpus_verify.XXXXXX)
trap 'rm -rf "$W"' EXIT
export OPENSSL_CONF="$W/openssl.cnf"

ossl() {
	if ! openssl "$@" >"$W/ossl.log" 2>&1; then
		echo "mkcorpus_verify: openssl $1 failed:" >&2
		cat "$W/ossl.log" >&2
		exit 1
	fi
}

# A private copy of the CA: git does not keep issuer.key's 0600.
mkdir -m 700 "$W/ca"
cp "$CA_SRC/root.crt" "$CA_SRC/issuer.crt" "$CA_SRC/issuer.key" "$CA_SRC/bundle.pem" "$W/ca/"
chmod 600 "$W/ca/issuer.key"
ISSUER=$W/ca/issuer.crt
ISSUER_KEY=$W/ca/issuer.key

# --- Good SVIDs, from authctl ---------------------------------------------
"$AUTHCTL" ca issue --dir "$W/ca" --id "spiffe://$TD/ns/a/sa/b" --ttl 24h --out "$W/good" >/dev/null
"$AUTHCTL" ca issue --dir "$W/ca" --id "spiffe://$TD/ns/web/sa/frontend" --ttl 1h \
    --out "$W/good2" >/dev/null
nb=$(openssl x509 -in "$W/good/svid.pem" -noout -startdate | cut -d= -f2)
FIXED_NOW=$(($(date -u -d "$nb" +%s) + 120))

# --- Defect chains under the fixed issuer, with openssl ------------------
t() { date -u -d "@$((FIXED_NOW + $1))" +%Y%m%d%H%M%SZ; }
HOUR=3600
YEAR=$((365 * 24 * HOUR))

: >"$W/index.txt"
cat >"$W/openssl.cnf" <<EOF
[ ca ]
default_ca = test_ca

[ test_ca ]
dir             = $W
database        = \$dir/index.txt
new_certs_dir   = \$dir
serial          = \$dir/serial
unique_subject  = no
default_md      = sha256
policy          = policy_any
email_in_dn     = no
copy_extensions = none

[ policy_any ]
organizationName = optional
commonName       = optional

[ req ]
distinguished_name = req_dn
prompt             = no

[ req_dn ]
CN = unused
EOF

# leaf NAME [VAR=VALUE...]: $W/NAME.pem = leaf + fixed issuer. The defaults
# are a correct SVID; each VAR=VALUE (san, bc, ku, eku, start, end, md, and
# key: the leaf key's genpkey options) is the chain's one defect.
leaf() {
	local name=$1
	shift
	local san="URI:spiffe://$TD/ns/default/sa/$name"
	local bc="critical,CA:FALSE"
	local ku="critical,digitalSignature"
	local eku="serverAuth,clientAuth"
	local md=sha256
	local key="-algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve"
	local start end
	start=$(t -120)
	end=$(t $HOUR)
	if [ $# -gt 0 ]; then local "$@"; fi

	# shellcheck disable=SC2086 # $key is a list of options
	ossl genpkey $key -out "$W/$name.key"
	cat >"$W/$name.ext" <<EOF
[ ext ]
subjectAltName         = $san
basicConstraints       = $bc
keyUsage               = $ku
extendedKeyUsage       = $eku
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
EOF
	ossl req -new -config "$OPENSSL_CONF" -key "$W/$name.key" -subj "/O=authd" -out "$W/req.csr"
	ossl ca -batch -config "$OPENSSL_CONF" -notext -rand_serial -md "$md" \
	    -preserveDN -startdate "$start" -enddate "$end" -extfile "$W/$name.ext" \
	    -extensions ext -cert "$ISSUER" -keyfile "$ISSUER_KEY" -in "$W/req.csr" \
	    -out "$W/$name.crt"
	cat "$W/$name.crt" "$ISSUER" >"$W/$name.pem"
}

leaf expired start="$(t $((-2 * HOUR)))" end="$(t $((-HOUR)))"
leaf not_yet_valid start="$(t $YEAR)" end="$(t $((YEAR + HOUR)))"
leaf two_uri_sans san="URI:spiffe://$TD/ns/default/sa/one,URI:spiffe://$TD/ns/default/sa/two"
leaf no_uri_san san="DNS:no-uri-san.$TD"
leaf leaf_is_ca bc="critical,CA:TRUE"
leaf foreign_td san="URI:spiffe://other.org/ns/x/sa/y"
leaf keycertsign_leaf ku="critical,digitalSignature,keyCertSign"
leaf bad_spiffe_id san="URI:spiffe://$TD/a//b"
leaf eku_codesigning eku="codeSigning"
leaf eku_client_only eku="clientAuth"
leaf no_digital_signature ku="critical,keyAgreement"
# Outside verify_profile: an RSA-1024 leaf key, an ECDSA-SHA1 signature.
leaf weak_rsa1024 key="-algorithm RSA -pkeyopt rsa_keygen_bits:1024"
leaf weak_sha1 md=sha1
# A correct leaf whose signature's last byte (the low byte of ECDSA s) is
# flipped: still well-formed DER, but the signature is wrong.
leaf bad_signature
ossl x509 -in "$W/bad_signature.crt" -outform DER -out "$W/bad_signature.der"
last=$(tail -c 1 "$W/bad_signature.der" | od -An -tu1 | tr -d ' ')
{
	head -c -1 "$W/bad_signature.der"
	# shellcheck disable=SC2059 # the format is the octal escape of the byte
	printf "\\$(printf %03o $((last ^ 1)))"
} >"$W/bad_signature.bad.der"
ossl x509 -inform DER -in "$W/bad_signature.bad.der" -out "$W/bad_signature.crt"
cat "$W/bad_signature.crt" "$ISSUER" >"$W/bad_signature.pem"

# --- tests/certs/mkchains.sh's chains (another root) ---------------------
"$TOP/tests/certs/mkchains.sh" "$W/mk" >/dev/null

# --- Helpers --------------------------------------------------------------
# der PEMFILE: the certificates of PEMFILE as concatenated DER on stdout.
der() {
	local d i
	d=$(mktemp -d "$W/der.XXXXXX")
	awk -v d="$d" '/-----BEGIN CERTIFICATE-----/ { n++ } n { print > (d "/" n ".pem") }' "$1"
	for ((i = 1; ; i++)); do
		[ -f "$d/$i.pem" ] || break
		openssl x509 -in "$d/$i.pem" -outform DER
	done
}

# first_cert PEMFILE: the first certificate only.
first_cert() {
	awk '/-----BEGIN CERTIFICATE-----/ { n++ } n == 1' "$1"
}

mkdir -p "$OUT"
find "$OUT" -maxdepth 1 -type f -delete

# seed NAME MODE ROLE: stdin, prefixed with the mode (and role) byte(s).
seed() {
	local name=$1 mode=$2 role=${3:-}
	{
		# shellcheck disable=SC2059
		printf "\\$(printf %03o "$mode")"
		# shellcheck disable=SC2059
		[ -z "$role" ] || printf "\\$(printf %03o "$role")"
		cat
	} >"$OUT/$name"
}

# check NAME FILE ROLE: print authctl's verdict for chain FILE at FIXED_NOW.
ROLE_NAMES=(any client server)
check() {
	local name=$1 file=$2 role=${3:-0} r=() out
	[ "$role" -ne 0 ] && r=(--role "${ROLE_NAMES[$role]}")
	out=$("$AUTHCTL" ca verify --cert "$file" --bundle "$W/ca/bundle.pem" \
	    --trust-domain "$TD" --at "$FIXED_NOW" "${r[@]}" 2>&1 || true)
	printf '  %-28s %-6s %s\n' "$name" "${ROLE_NAMES[$role]}" "${out%%: *}"
	echo "$out" >"$W/verdict"
}
must_pass() {
	if ! grep -q '^OK ' "$W/verdict"; then
		echo "mkcorpus_verify: $1 does not verify at $FIXED_NOW" >&2
		exit 1
	fi
}

echo "verify seeds (authctl ca verify at $FIXED_NOW):"
# certs_verify_pem (mode 0).
GOOD=$W/good/svid.pem
GOOD2=$W/good2/svid.pem
seed pem_good_any 0 0 <"$GOOD"
check pem_good_any "$GOOD" 0; must_pass pem_good_any
seed pem_good_client 0 1 <"$GOOD"
check pem_good_client "$GOOD" 1; must_pass pem_good_client
seed pem_good2_server 0 2 <"$GOOD2"
check pem_good2_server "$GOOD2" 2; must_pass pem_good2_server
der "$GOOD" >"$W/good.der"
seed der_good_any 0 0 <"$W/good.der"
check der_good_any "$W/good.der" 0; must_pass der_good_any
cat "$GOOD" "$W/ca/root.crt" >"$W/good_root.pem"
seed pem_good_with_root 0 0 <"$W/good_root.pem"
check pem_good_with_root "$W/good_root.pem" 0; must_pass pem_good_with_root
first_cert "$GOOD" >"$W/leaf_only.pem"
seed pem_leaf_only 0 0 <"$W/leaf_only.pem"
check pem_leaf_only "$W/leaf_only.pem" 0
cat "$GOOD" "$GOOD" "$GOOD" "$GOOD" "$GOOD" >"$W/too_long.pem"
seed pem_too_long 0 0 <"$W/too_long.pem"
check pem_too_long "$W/too_long.pem" 0
der "$W/too_long.pem" | seed der_too_long 0 0
head -c "$(($(wc -c <"$GOOD") / 2))" "$GOOD" >"$W/trunc.pem"
seed pem_truncated 0 0 <"$W/trunc.pem"
head -c "$(($(wc -c <"$W/good.der") - 10))" "$W/good.der" | seed der_truncated 0 0
for name in expired not_yet_valid two_uri_sans no_uri_san leaf_is_ca foreign_td \
    keycertsign_leaf bad_spiffe_id eku_codesigning no_digital_signature bad_signature \
    weak_rsa1024 weak_sha1; do
	seed "pem_$name" 0 0 <"$W/$name.pem"
	check "pem_$name" "$W/$name.pem" 0
done
seed pem_eku_client_only_server 0 2 <"$W/eku_client_only.pem"
check pem_eku_client_only_server "$W/eku_client_only.pem" 2
for name in good unknown_root issuer_not_ca; do
	seed "pem_mkchains_$name" 0 0 <"$W/mk/$name.pem"
	check "pem_mkchains_$name" "$W/mk/$name.pem" 0
done

# certs_verify_chain on an mbedTLS-parsed chain (mode 2).
seed chain_good_client 2 1 <"$W/good.der"
seed chain_good_pem_server 2 2 <"$GOOD"
der "$W/too_long.pem" | seed chain_too_long_der 2 0
der "$W/mk/issuer_not_ca.pem" | seed chain_mkchains_issuer_not_ca 2 0

# certs_bundle_parse (mode 1).
seed bundle_pem 1 <"$W/ca/bundle.pem"
openssl x509 -in "$W/ca/bundle.pem" -outform DER | seed bundle_der 1
cat "$W/ca/bundle.pem" "$W/mk/bundle.pem" | seed bundle_two_roots 1
seed bundle_not_anchor 1 <"$ISSUER"
head -c 400 "$W/ca/bundle.pem" | seed bundle_truncated 1

echo "wrote $(find "$OUT" -type f | wc -l) seeds to $OUT"
have=$(sed -n 's/^#define FIXED_NOW INT64_C(\([0-9]*\)).*/\1/p' "$HARNESS" 2>/dev/null || true)
if [ "$have" = "$FIXED_NOW" ]; then
	echo "FIXED_NOW $FIXED_NOW matches $HARNESS"
else
	echo "NOTE: set FIXED_NOW in $HARNESS to match these seeds:"
	echo "#define FIXED_NOW INT64_C($FIXED_NOW)"
fi
