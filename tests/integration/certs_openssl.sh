#!/usr/bin/env bash
# Sanity of the certificate test material itself (not of authctl): the chains
# tests/certs/mkchains.sh builds carry the defects they claim, as judged by
# `openssl verify` and by tests/certs/check_svid.py.
# shellcheck disable=SC2317 # helpers are called through check*, not directly
# shellcheck source=../lib/testlib.sh
. "$(dirname "$0")/../lib/testlib.sh"

C=$T/chains
CHECK=$ROOT/tests/certs/check_svid.py
ID=spiffe://example.org/ns/default/sa

check "mkchains.sh builds the chains" bash "$ROOT/tests/certs/mkchains.sh" "$C"
check "manifest lists 14 chains" test "$(wc -l <"$C/manifest.txt")" -eq 14
# The expectations must be certs_reason() tokens (certs/error.h) or "ok".
reasons=" ok expired not-yet-valid two-uri-sans no-uri-san leaf-is-ca foreign-trust-domain
    unknown-authority leaf-key-usage bad-spiffe-id bad-signature leaf-eku bad-ca "
while read -r name want; do
	check "manifest: $name expects a known token ($want)" grep -qw -- "$want" <<<"$reasons"
	check "$name.pem and $name.key exist" test -s "$C/$name.pem" -a -s "$C/$name.key"
	check_eq "$name.pem holds leaf + issuer" "$(grep -c 'BEGIN CERTIFICATE' "$C/$name.pem")" 2
done <"$C/manifest.txt"
check_eq "manifest: good is ok" "$(awk '$1 == "good" { print $2 }' "$C/manifest.txt")" ok

# over NAME [OPTS...]: openssl verify of NAME's leaf against bundle.pem. The
# chain file doubles as the untrusted set, so each leaf is offered its own
# issuer (issuer.pem, or the other or not-a-CA intermediate).
over() {
	local name=$1
	shift
	openssl verify -x509_strict "$@" -CAfile "$C/bundle.pem" -untrusted "$C/$name.pem" "$C/$name.pem"
}

check "openssl: good verifies (x509_strict)" over good
check "openssl: good verifies as a TLS client" over good -purpose sslclient
check "openssl: good verifies as a TLS server" over good -purpose sslserver
check "openssl: unknown_root verifies against other_bundle.pem" \
    openssl verify -x509_strict -CAfile "$C/other_bundle.pem" -untrusted "$C/unknown_root.pem" "$C/unknown_root.pem"
check_output "openssl: expired is expired" "certificate has expired" over expired
check_output "openssl: not_yet_valid is not yet valid" "certificate is not yet valid" over not_yet_valid
check_output "openssl: unknown_root has no known issuer" "unable to get local issuer certificate" over unknown_root
check_output "openssl: bad_signature has a bad signature" "certificate signature failure" over bad_signature
check_output "openssl: bad_signature fails without x509_strict too" "certificate signature failure" \
    openssl verify -CAfile "$C/bundle.pem" -untrusted "$C/issuer.pem" "$C/bad_signature.pem"
check_output "openssl: issuer_not_ca has an invalid CA" "invalid CA certificate" over issuer_not_ca
for name in expired not_yet_valid unknown_root bad_signature issuer_not_ca; do
	check_fails "openssl: $name fails verification" over "$name"
done

# check_svid.py is the independent judge of authd's SVIDs; make sure it
# accepts the good chain and catches the leaf defects.
svid() { "$PY" "$CHECK" --chain "$C/$1.pem" --bundle "$C/bundle.pem" --id "$ID/$1" --ttl 3600; }
check "check_svid: good passes every check" svid good
check_output "check_svid: good reports no failure" ", 0 failed$" svid good
check_exit "check_svid: two_uri_sans fails" 1 svid two_uri_sans
check_output "check_svid: two_uri_sans fails the URI SAN count" "^FAIL leaf has exactly one URI SAN" svid two_uri_sans
check_exit "check_svid: leaf_is_ca fails" 1 svid leaf_is_ca
check_output "check_svid: leaf_is_ca fails basicConstraints" "^FAIL leaf basicConstraints" svid leaf_is_ca
check_exit "check_svid: keycertsign_leaf fails" 1 svid keycertsign_leaf
check_output "check_svid: keycertsign_leaf fails keyUsage" "^FAIL leaf keyUsage no keyCertSign" svid keycertsign_leaf
check_exit "check_svid: no_uri_san fails" 1 svid no_uri_san
check_output "check_svid: no_uri_san fails the URI SAN count" "^FAIL leaf has exactly one URI SAN" svid no_uri_san
check_exit "check_svid: usage error exits 2" 2 "$PY" "$CHECK" --chain "$C/good.pem"

finish
