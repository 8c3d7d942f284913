#!/usr/bin/env bash
# mkchains.sh OUTDIR: build X509-SVID test chains for the trust domain
# example.org with nothing but the openssl command line (OpenSSL 3.0).
#
# OUTDIR gets:
#   bundle.pem         the example.org root (the only trust anchor)
#   other_bundle.pem   an unrelated root that also claims example.org
#   root.pem/.key      the example.org root and its key
#   issuer.pem/.key    the example.org intermediate (pathlen 0) and its key
#   NAME.pem           leaf certificate followed by its issuer certificate
#   NAME.key           the leaf's P-256 key (PKCS#8)
#   manifest.txt       "NAME EXPECTED" per chain: "ok" or a certs_reason() token
#
# Every chain but `good` differs from a correct SVID by exactly one defect;
# see tests/certs/README.md. Leaves are valid now-60s .. now+1h, like the
# SVIDs authd issues, so use the material within a few minutes.
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
OUT=$1
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
TD=example.org

# Scratch space (openssl ca database, CSRs, extension files) inside OUTDIR.
W=$(mktemp -d "$OUT/.mkchains.XXXXXX")
trap 'rm -rf "$W"' EXIT

# Keep the system openssl.cnf out of the picture: every command below gets
# our own config, and OPENSSL_CONF covers anything that would read the default.
export OPENSSL_CONF="$W/openssl.cnf"

# ossl ARGS...: run openssl quietly; show its output only when it fails.
ossl() {
	if ! openssl "$@" >"$W/ossl.log" 2>&1; then
		echo "mkchains: openssl $1 failed:" >&2
		cat "$W/ossl.log" >&2
		exit 1
	fi
}

# Times for `openssl ca -startdate/-enddate` (YYYYMMDDHHMMSSZ; OpenSSL
# stores years before 2050 as UTCTime, as RFC 5280 requires).
NOW=$(date -u +%s)
t() { date -u -d "@$((NOW + $1))" +%Y%m%d%H%M%SZ; }
HOUR=3600
DAY=$((24 * HOUR))
YEAR=$((365 * DAY))

# A minimal `openssl ca` setup. OpenSSL 3.0's `openssl x509 -req` cannot set
# notBefore/notAfter (no -not_before/-not_after before 3.4) and always starts
# at "now", so every certificate, roots included, is issued with `openssl ca`,
# which takes -startdate/-enddate. One database serves all the CAs: the
# issuing certificate and key are given per command (-cert/-keyfile), serials
# are random (-rand_serial, 159 bits), and subjects need not be unique.
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

# newkey FILE: a fresh P-256 key, named curve, PKCS#8 PEM.
newkey() {
	ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	    -pkeyopt ec_param_enc:named_curve -out "$1"
}

# sign OUT EXTFILE START END SUBJECT KEY [ISSUER_CERT ISSUER_KEY]
# Issues the certificate for KEY's public key with the extensions in the
# [ext] section of EXTFILE. Without an issuer it is self-signed.
sign() {
	local out=$1 ext=$2 start=$3 end=$4 subj=$5 key=$6 icert=${7:-} ikey=${8:-}
	ossl req -new -config "$OPENSSL_CONF" -key "$key" -subj "$subj" -out "$W/req.csr"
	local who=(-selfsign -keyfile "$key")
	[ -n "$icert" ] && who=(-cert "$icert" -keyfile "$ikey")
	ossl ca -batch -config "$OPENSSL_CONF" -notext -rand_serial -md sha256 \
	    -preserveDN -startdate "$start" -enddate "$end" \
	    -extfile "$ext" -extensions ext "${who[@]}" -in "$W/req.csr" -out "$out"
}

# ca_ext FILE BASIC_CONSTRAINTS: extensions of a CA certificate.
ca_ext() {
	cat >"$1" <<EOF
[ ext ]
basicConstraints       = $2
keyUsage               = critical,keyCertSign,cRLSign
subjectAltName         = URI:spiffe://$TD
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
EOF
}

# --- Certificate authorities ------------------------------------------------
# CAs are valid from a day ago for ten years, so every leaf's validity
# period nests inside its issuer's (even the not-yet-valid one).
CA_START=$(t $((-DAY)))
CA_END=$(t $((10 * YEAR)))

# make_ca NAME CN BASIC_CONSTRAINTS [PARENT]: NAME.pem/NAME.key in $W.
make_ca() {
	local name=$1 cn=$2 bc=$3 parent=${4:-}
	newkey "$W/$name.key"
	ca_ext "$W/$name.ext" "$bc"
	if [ -n "$parent" ]; then
		sign "$W/$name.pem" "$W/$name.ext" "$CA_START" "$CA_END" "/O=$TD/CN=$cn" \
		    "$W/$name.key" "$W/$parent.pem" "$W/$parent.key"
	else
		sign "$W/$name.pem" "$W/$name.ext" "$CA_START" "$CA_END" "/O=$TD/CN=$cn" \
		    "$W/$name.key"
	fi
}

make_ca root "authd test root" "critical,CA:TRUE"
make_ca issuer "authd test issuer" "critical,CA:TRUE,pathlen:0" root
# A second, unrelated root for the same trust domain name (what an attacker
# or a misconfigured peer would present), with its own intermediate.
make_ca other_root "other test root" "critical,CA:TRUE"
make_ca other_issuer "other test issuer" "critical,CA:TRUE,pathlen:0" other_root
# An "intermediate" under the real root that is not a CA (cA=false) but is
# otherwise like the real issuer (it even asserts keyCertSign).
make_ca notca_issuer "not-a-CA issuer" "critical,CA:FALSE" root

cp "$W/root.pem" "$OUT/root.pem"
cp "$W/root.key" "$OUT/root.key"
cp "$W/issuer.pem" "$OUT/issuer.pem"
cp "$W/issuer.key" "$OUT/issuer.key"
cp "$W/root.pem" "$OUT/bundle.pem"
cp "$W/other_root.pem" "$OUT/other_bundle.pem"

# --- Leaves -------------------------------------------------------------------
: >"$W/manifest.txt"

# leaf NAME EXPECTED [VAR=VALUE...]: issue NAME.pem (leaf + issuer) and NAME.key.
# The defaults describe a correct SVID; each VAR=VALUE overrides one of them
# (that is the chain's one defect):
#   san, bc, ku, eku   extension values
#   start, end         validity
#   issuer             CA name in $W (issuer, other_issuer, notca_issuer)
leaf() {
	local name=$1 expected=$2
	shift 2
	local san="URI:spiffe://$TD/ns/default/sa/$name"
	local bc="critical,CA:FALSE"
	local ku="critical,digitalSignature"
	local eku="serverAuth,clientAuth"
	local start end issuer=issuer
	start=$(t -60)
	end=$(t $HOUR)
	# The overrides (a bare `local` would list every variable instead).
	if [ $# -gt 0 ]; then local "$@"; fi

	newkey "$OUT/$name.key"
	cat >"$W/$name.ext" <<EOF
[ ext ]
subjectAltName         = $san
basicConstraints       = $bc
keyUsage               = $ku
extendedKeyUsage       = $eku
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
EOF
	sign "$W/$name.crt" "$W/$name.ext" "$start" "$end" "/O=$TD/CN=$name" \
	    "$OUT/$name.key" "$W/$issuer.pem" "$W/$issuer.key"
	cat "$W/$name.crt" "$W/$issuer.pem" >"$OUT/$name.pem"
	echo "$name $expected" >>"$W/manifest.txt"
}

leaf good ok
# Expired an hour ago, after an hour of validity (inside the issuer's period).
leaf expired expired start="$(t $((-2 * HOUR)))" end="$(t $((-HOUR)))"
leaf not_yet_valid not-yet-valid start="$(t $YEAR)" end="$(t $((YEAR + HOUR)))"
leaf two_uri_sans two-uri-sans \
    san="URI:spiffe://$TD/ns/default/sa/two_uri_sans,URI:spiffe://$TD/ns/default/sa/second"
leaf no_uri_san no-uri-san san="DNS:no-uri-san.$TD"
leaf leaf_is_ca leaf-is-ca bc="critical,CA:TRUE"
leaf foreign_td foreign-trust-domain san="URI:spiffe://other.org/ns/x/sa/y"
leaf unknown_root unknown-authority issuer=other_issuer
leaf keycertsign_leaf leaf-key-usage ku="critical,digitalSignature,keyCertSign"
leaf bad_spiffe_id bad-spiffe-id san="URI:spiffe://$TD/a//b"
leaf eku_codesigning leaf-eku eku="codeSigning"
leaf no_digital_signature leaf-key-usage ku="critical,keyAgreement"
leaf issuer_not_ca bad-ca issuer=notca_issuer

# bad_signature: a correct leaf of its own (ID .../sa/bad_signature) whose
# signature is then corrupted. A certificate's DER ends with the signature
# BIT STRING, whose content is the ECDSA-Sig-Value SEQUENCE { r, s }, so the
# last byte is the least significant byte of s: flipping its low bit keeps
# the DER well-formed and only makes the signature wrong.
leaf bad_signature bad-signature
ossl x509 -in "$W/bad_signature.crt" -outform DER -out "$W/bad_signature.der"
last=$(tail -c 1 "$W/bad_signature.der" | od -An -tu1 | tr -d ' ')
{
	head -c -1 "$W/bad_signature.der"
	# shellcheck disable=SC2059 # the format is the octal escape of the byte
	printf "\\$(printf %03o $((last ^ 1)))"
} >"$W/bad_signature.bad.der"
ossl x509 -inform DER -in "$W/bad_signature.bad.der" -out "$W/bad_signature.crt"
cat "$W/bad_signature.crt" "$W/issuer.pem" >"$OUT/bad_signature.pem"

mv "$W/manifest.txt" "$OUT/manifest.txt"
