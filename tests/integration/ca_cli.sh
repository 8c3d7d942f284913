#!/usr/bin/env bash
# authctl ca end to end: what an operator runs, checked with independent
# tools (OpenSSL's verifier and x509 printer, Python's cryptography).
. "$(dirname "$0")/../lib/testlib.sh"

ca=$T/ca
sum() { (cd "$1" && sha256sum $(ls) 2>/dev/null); }
second_cert() { awk '/BEGIN CERTIFICATE/{n++} n==2' "$1"; }

# --- init ---------------------------------------------------------------
check "ca init creates a CA" $AUTHCTL ca init --trust-domain example.org --dir "$ca"
check_eq "root key is 0600" "$(stat -c %a "$ca/root.key")" 600
check_eq "issuer key is 0600" "$(stat -c %a "$ca/issuer.key")" 600
check_eq "CA dir is 0700" "$(stat -c %a "$ca")" 700
check_output "ca show names the trust domain" '^trust domain example.org' $AUTHCTL ca show --dir "$ca"
# The issuer lives 30 days; a second may pass between init and show.
check_output "ca show shows the issuer's expiry" 'valid .* \(expires in (30d|29d23h59m)' $AUTHCTL ca show --dir "$ca"
check_output "root is a CA with keyCertSign (openssl)" 'CA:TRUE' openssl x509 -in "$ca/root.crt" -noout -text
check_output "issuer has pathlen 0 (openssl)" 'CA:TRUE, pathlen:0' openssl x509 -in "$ca/issuer.crt" -noout -text
check_output "issuer carries spiffe://example.org" 'URI:spiffe://example.org$' openssl x509 -in "$ca/issuer.crt" -noout -text
before=$(sum "$ca")
check_exit "second init is refused" 3 $AUTHCTL ca init --trust-domain example.org --dir "$ca"
check_eq "refused init changed nothing" "$(sum "$ca")" "$before"
check_exit "bad trust domain is a usage error" 2 $AUTHCTL ca init --trust-domain 'Bad Domain' --dir "$T/bad"
check_output "bad trust domain error says where" "at byte 3" $AUTHCTL ca init --trust-domain 'Bad Domain' --dir "$T/bad"
check_eq "bad trust domain wrote no CA" "$(ls "$T/bad" 2>/dev/null | wc -l)" 0
check_exit "issuer TTL beyond limits is refused" 2 $AUTHCTL ca init --trust-domain x.org --issuer-ttl 30m --dir "$T/bad2"
check_exit "malformed duration is refused" 2 $AUTHCTL ca init --trust-domain x.org --root-ttl 1y --dir "$T/bad3"
check_exit "missing --trust-domain is a usage error" 2 $AUTHCTL ca init --dir "$T/bad4"

# --- issue and check with OpenSSL and Python --------------------------------
id=spiffe://example.org/ns/default/sa/web
check "ca issue writes an SVID" $AUTHCTL ca issue --dir "$ca" --id $id --ttl 1h --out "$T/web"
check_eq "SVID key is 0600" "$(stat -c %a "$T/web/svid.key")" 600
second_cert "$T/web/svid.pem" >"$T/web/issuer.pem"
check "openssl verify -x509_strict -purpose sslclient" \
	openssl verify -x509_strict -purpose sslclient -CAfile "$T/web/bundle.pem" -untrusted "$T/web/issuer.pem" "$T/web/svid.pem"
check "openssl verify -x509_strict -purpose sslserver" \
	openssl verify -x509_strict -purpose sslserver -CAfile "$T/web/bundle.pem" -untrusted "$T/web/issuer.pem" "$T/web/svid.pem"
openssl x509 -in "$T/web/svid.pem" -noout -text >"$T/web/text"
check "leaf: basic constraints critical CA:FALSE" grep -A1 -q 'Basic Constraints: critical' "$T/web/text"
check_output "leaf: CA:FALSE" '^ +CA:FALSE' cat "$T/web/text"
check "leaf: key usage critical" grep -q 'Key Usage: critical' "$T/web/text"
check_eq "leaf: key usage is digitalSignature only" "$(grep -A1 'X509v3 Key Usage' "$T/web/text" | tail -n1 | xargs)" "Digital Signature"
check_output "leaf: EKU server+client" 'TLS Web Server Authentication, TLS Web Client Authentication' cat "$T/web/text"
check_eq "leaf: exactly one URI SAN" "$(grep -o 'URI:[^,]*' "$T/web/text" | xargs)" "URI:$id"
check_output "leaf: P-256 key" 'NIST CURVE: P-256' cat "$T/web/text"
check_eq "key matches certificate" "$(openssl pkey -in "$T/web/svid.key" -pubout | sha256sum)" \
	"$(openssl x509 -in "$T/web/svid.pem" -noout -pubkey | sha256sum)"
check "every X509-SVID MUST holds (python cryptography)" \
	$PY "$ROOT/tests/certs/check_svid.py" --chain "$T/web/svid.pem" --bundle "$T/web/bundle.pem" --id $id --ttl 3600
check "a 10m SVID is valid 10m plus the 60 s back-dating" \
	bash -c "$AUTHCTL ca issue --dir '$ca' --id $id --ttl 10m --out '$T/short' >/dev/null &&
		$PY '$ROOT/tests/certs/check_svid.py' --chain '$T/short/svid.pem' --bundle '$T/short/bundle.pem' --id $id --ttl 600"
s1=$(openssl x509 -in "$T/web/svid.pem" -noout -serial)
s2=$(openssl x509 -in "$T/short/svid.pem" -noout -serial)
[ "$s1" != "$s2" ] && pass "serials differ between SVIDs" || fail "serials repeat: $s1"
check_exit "TTL under 5 s is refused" 2 $AUTHCTL ca issue --dir "$ca" --id $id --ttl 4s --out "$T/x"
cp "$T/.out" "$T/said"
check_output "... with the bounds the code holds (5s to 24h)" "between 5s and 1d" cat "$T/said"
check "a 5 s SVID is issued (the documented minimum)" $AUTHCTL ca issue --dir "$ca" --id $id --ttl 5s --out "$T/ttl5"
check_exit "TTL over 24 h is refused" 2 $AUTHCTL ca issue --dir "$ca" --id $id --ttl 25h --out "$T/x"
check_exit "foreign trust domain is refused" 2 $AUTHCTL ca issue --dir "$ca" --id spiffe://other.org/ns/a/sa/b --out "$T/x"
check_output "bad SPIFFE ID names the problem and the byte" "empty segment \(at byte 24\)" \
	$AUTHCTL ca issue --dir "$ca" --id spiffe://example.org/ns//sa/b --out "$T/x"
check_exit "ID without a path is refused" 2 $AUTHCTL ca issue --dir "$ca" --id spiffe://example.org --out "$T/x"
check_eq "refused issues wrote nothing" "$(ls "$T/x" 2>/dev/null | wc -l)" 0

# --- our verifier -------------------------------------------------------------
check_output "ca verify accepts our SVID" "^OK $id\$" $AUTHCTL ca verify --dir "$ca" --cert "$T/web/svid.pem"
check_exit "ca verify exit code 0 when valid" 0 $AUTHCTL ca verify --dir "$ca" --cert "$T/web/svid.pem" --role server
check_output "ca verify rejects it two hours later as expired" "REJECTED expired" \
	$AUTHCTL ca verify --dir "$ca" --cert "$T/web/svid.pem" --at $(( $(date +%s) + 7200 ))
check_exit "rejected exits 1" 1 $AUTHCTL ca verify --dir "$ca" --cert "$T/web/svid.pem" --at $(( $(date +%s) + 7200 ))
check_output "ca verify rejects another trust domain" "REJECTED foreign-trust-domain" \
	$AUTHCTL ca verify --dir "$ca" --cert "$T/web/svid.pem" --trust-domain other.org
printf 'not a certificate' >"$T/garbage.pem"
check_output "garbage is a malformed chain" "REJECTED malformed-chain" $AUTHCTL ca verify --dir "$ca" --cert "$T/garbage.pem"
head -c 300 "$T/web/svid.pem" >"$T/trunc.pem"
check_output "a truncated PEM is a malformed chain" "REJECTED malformed-chain" $AUTHCTL ca verify --dir "$ca" --cert "$T/trunc.pem"
: >"$T/empty.pem"
check_exit "an empty file is rejected" 1 $AUTHCTL ca verify --dir "$ca" --cert "$T/empty.pem"

# Chains made by OpenSSL with one defect each, and the verdict we owe them.
bash "$ROOT/tests/certs/mkchains.sh" "$T/chains" >/dev/null 2>&1 || fail "mkchains.sh failed"
while read -r name want; do
	got=$($AUTHCTL ca verify --bundle "$T/chains/bundle.pem" --cert "$T/chains/$name.pem" 2>&1 | awk '{print $1 == "OK" ? "ok" : $2}' | tr -d :)
	check_eq "openssl-made chain '$name' gets '$want'" "$got" "$want"
done <"$T/chains/manifest.txt"

# --- rotation under the same root ----------------------------------------------
old_issuer=$(openssl x509 -in "$ca/issuer.crt" -noout -fingerprint -sha256)
bundle_before=$(sha256sum <"$ca/bundle.pem")
check "ca rotate makes a new issuer" $AUTHCTL ca rotate --dir "$ca"
[ "$(openssl x509 -in "$ca/issuer.crt" -noout -fingerprint -sha256)" != "$old_issuer" ] &&
	pass "issuer changed" || fail "issuer unchanged after rotate"
check_eq "bundle unchanged by a same-root rotation" "$(sha256sum <"$ca/bundle.pem")" "$bundle_before"
check "new issuer signs" $AUTHCTL ca issue --dir "$ca" --id $id --out "$T/gen2"
check_output "old-issuer SVID still verifies" "^OK" $AUTHCTL ca verify --dir "$ca" --cert "$T/web/svid.pem"
check_output "new-issuer SVID verifies" "^OK" $AUTHCTL ca verify --dir "$ca" --cert "$T/gen2/svid.pem"
mv "$ca/root.key" "$T/root.key.offline"
before=$(sum "$ca")
check_output "rotate without the root key says so" "root key is not in the CA directory" $AUTHCTL ca rotate --dir "$ca"
check_exit "rotate without the root key fails" 3 $AUTHCTL ca rotate --dir "$ca"
check_eq "failed rotate changed nothing" "$(sum "$ca")" "$before"
mv "$T/root.key.offline" "$ca/root.key"

# --- rotation to a new root --------------------------------------------------------
old_root=$(openssl x509 -in "$ca/root.crt" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f)
check "ca rotate --new-root" $AUTHCTL ca rotate --dir "$ca" --new-root
check_eq "bundle holds old and new root" "$($AUTHCTL ca bundle list --dir "$ca" | wc -l)" 2
check "issue under the new root" $AUTHCTL ca issue --dir "$ca" --id $id --out "$T/gen3"
check_output "old-root SVID verifies during the overlap" "^OK" $AUTHCTL ca verify --dir "$ca" --cert "$T/web/svid.pem"
check_output "new-root SVID verifies" "^OK" $AUTHCTL ca verify --dir "$ca" --cert "$T/gen3/svid.pem"
new_root=$(openssl x509 -in "$ca/root.crt" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f)
check_exit "removing the current root is refused" 2 $AUTHCTL ca bundle remove --dir "$ca" "${new_root:0:16}"
check_exit "a short fingerprint prefix is refused" 2 $AUTHCTL ca bundle remove --dir "$ca" "${old_root:0:6}"
check "removing the old root" $AUTHCTL ca bundle remove --dir "$ca" "${old_root:0:16}"
check_output "old-root SVID rejected once its anchor is gone" "REJECTED unknown-authority" \
	$AUTHCTL ca verify --dir "$ca" --cert "$T/web/svid.pem"
check_output "new-root SVID still verifies" "^OK" $AUTHCTL ca verify --dir "$ca" --cert "$T/gen3/svid.pem"
check_exit "removing the last anchor is refused" 2 $AUTHCTL ca bundle remove --dir "$ca" "${new_root:0:16}"
check "bundle add puts the old root back" $AUTHCTL ca bundle add --dir "$ca" "$T/web/bundle.pem"
check_exit "adding it twice is refused" 2 $AUTHCTL ca bundle add --dir "$ca" "$T/web/bundle.pem"
check_exit "adding a leaf as an anchor is refused" 2 $AUTHCTL ca bundle add --dir "$ca" "$T/gen3/svid.pem"
check "bundle pem prints two certificates" bash -c "[ \$($AUTHCTL ca bundle pem --dir '$ca' | grep -c 'BEGIN CERTIFICATE') = 2 ]"

# --- sealed issuer key ------------------------------------------------------------
check "seal-keygen" $AUTHCTL ca seal-keygen --out "$T/seal.key"
check_eq "seal key is 0600" "$(stat -c %a "$T/seal.key")" 600
check_exit "seal-keygen will not overwrite a key" 2 $AUTHCTL ca seal-keygen --out "$T/seal.key"
sca=$T/sealed
check "init with --seal-key" $AUTHCTL ca init --trust-domain sealed.example --dir "$sca" --seal-key "$T/seal.key"
[ -f "$sca/issuer.key.sealed" ] && [ ! -e "$sca/issuer.key" ] && pass "only the sealed issuer key is on disk" ||
	fail "sealed CA files: $(ls "$sca")"
grep -q "PRIVATE KEY" "$sca/issuer.key.sealed" && fail "sealed file holds a PEM key" || pass "sealed file holds no PEM"
check_exit "issue without the seal key is a usage error" 2 $AUTHCTL ca issue --dir "$sca" --id spiffe://sealed.example/a --out "$T/s1"
$AUTHCTL ca seal-keygen --out "$T/wrong.key" >/dev/null
check_output "a wrong seal key is a clear error" "wrong seal key" \
	$AUTHCTL ca issue --dir "$sca" --id spiffe://sealed.example/a --out "$T/s1" --seal-key "$T/wrong.key"
printf 'short\n' >"$T/bad.key"
check_exit "a malformed seal key file is a usage error" 2 \
	$AUTHCTL ca issue --dir "$sca" --id spiffe://sealed.example/a --out "$T/s1" --seal-key "$T/bad.key"
check "issue with the right seal key" $AUTHCTL ca issue --dir "$sca" --id spiffe://sealed.example/a --out "$T/s1" --seal-key "$T/seal.key"
grep -q "PRIVATE KEY" "$sca/root.key" && fail "root key of a sealed CA is plain" || pass "root key is sealed too"
check_exit "rotate of a sealed CA without the key is refused" 2 $AUTHCTL ca rotate --dir "$sca"
before=$(sum "$sca")
check_exit "rotate with a wrong seal key fails" 3 $AUTHCTL ca rotate --dir "$sca" --seal-key "$T/wrong.key"
check_eq "rotate with a wrong seal key changed nothing" "$(sum "$sca")" "$before"
check "rotate of a sealed CA with the key" $AUTHCTL ca rotate --dir "$sca" --seal-key "$T/seal.key"
[ -f "$sca/issuer.key.sealed" ] && [ ! -e "$sca/issuer.key" ] && pass "rotated issuer key stays sealed" ||
	fail "after rotate: $(ls "$sca")"
head -c 40 "$sca/issuer.key.sealed" >"$T/trunc.sealed" && cp "$T/trunc.sealed" "$sca/issuer.key.sealed"
check_output "a truncated sealed key is a clear error" "sealed key or seal key file is malformed|does not open" \
	$AUTHCTL ca issue --dir "$sca" --id spiffe://sealed.example/a --out "$T/s2" --seal-key "$T/seal.key"

# --- command line ---------------------------------------------------------------
check_exit "authctl --help exits 0" 0 $AUTHCTL --help
check_exit "authctl ca --help exits 0" 0 $AUTHCTL ca --help
check_exit "authctl ca issue --help exits 0" 0 $AUTHCTL ca issue --help
check_exit "unknown command exits 2" 2 $AUTHCTL nonsense
check_exit "unknown subcommand exits 2" 2 $AUTHCTL ca nonsense
check_exit "unknown option exits 2" 2 $AUTHCTL ca show --bogus
check_exit "missing CA is a failure" 3 $AUTHCTL ca show --dir "$T/nowhere"

# ca status: what needs attention, as an exit code for alerts.
$AUTHCTL workload add web --namespace shop --store "$T/store.mdb" >/dev/null
check_exit "ca status of a fresh CA exits 0" 0 $AUTHCTL ca status --dir "$ca" --store "$T/store.mdb"
check_output "it shows the issuer's time left" "^issuer +[0-9a-f]{16}  .*\(in (29|30)d" \
	$AUTHCTL ca status --dir "$ca" --store "$T/store.mdb"
check_exit "ca status with a missing store exits 1 (a typo must not read as all is well)" 1 \
	$AUTHCTL ca status --dir "$ca" --store "$T/no-store.mdb"
cp "$T/.out" "$T/said"
check_output "... with a warning naming the path" "^warning: no store at $T/no-store.mdb" cat "$T/said"
check_exit "ca status -o json with a missing store exits 1 too" 1 $AUTHCTL ca status -o json --dir "$ca" --store "$T/no-store.mdb"
cp "$T/.out" "$T/st0.json"
check "ca status -o json is JSON: issuer, anchors, svids, warnings" $PY -c "import json
d = json.load(open('$T/st0.json'))
assert d['svids'] is None and d['ok'] is False and 'no store at' in d['warnings'][0], d
assert d['issuer']['seconds_left'] > 0 and len(d['anchors']) >= 1, d"
$AUTHCTL ca status -o json --dir "$ca" --store "$T/store.mdb" >"$T/st.json"
check "ca status -o json lists the store's workloads" $PY -c "import json
d = json.load(open('$T/st.json'))
assert d['ok'] and d['svids'] == [{'namespace': 'shop', 'name': 'web', 'serial': None, 'not_after': None, 'seconds_left': None, 'refused': None}], d"
$AUTHCTL ca init --trust-domain short.org --issuer-ttl 2h --dir "$T/shortca" >/dev/null
check_exit "an issuer with 2 h left makes ca status exit 1" 1 $AUTHCTL ca status --dir "$T/shortca" --store "$T/no-store.mdb"
check_output "with a warning that says what to run" "less than 7 days left; run 'authctl ca rotate'" \
	$AUTHCTL ca status --dir "$T/shortca" --store "$T/no-store.mdb"
check_exit "ca status without a CA exits 3" 3 $AUTHCTL ca status --dir "$T/nothing-here" --store "$T/no-store.mdb"
cp "$T/.out" "$T/said"
check_output "... naming the directory and how to create a CA" "no CA in $T/nothing-here \(create one with 'authctl ca init --dir" cat "$T/said"

# --- machine output: -o json -------------------------------------------------------
$AUTHCTL ca show -o json --dir "$ca" >"$T/show.json"
check "ca show -o json is JSON" $PY -c "import json
d = json.load(open('$T/show.json'))
assert d['trust_domain'] == 'example.org' and d['root']['id'] == 'spiffe://example.org', d
assert d['issuer_key_sealed'] is False and d['root_key_online'] is True and len(d['bundle']) >= 1, d"
$AUTHCTL ca bundle list -o json --dir "$ca" >"$T/bl.json"
check "ca bundle list -o json is JSON" $PY -c "import json
d = json.load(open('$T/bl.json'))
assert len(d) >= 1 and all(len(a['sha256']) == 64 for a in d), d"
check_exit "ca bundle -o json (list is the default) exits 0" 0 $AUTHCTL ca bundle -o json --dir "$ca"
check_exit "-o json on ca init (no data) exits 2" 2 $AUTHCTL ca init -o json --trust-domain x.org --dir "$T/j"
check_exit "-o json on ca bundle pem exits 2" 2 $AUTHCTL ca bundle pem -o json --dir "$ca"
check_exit "-o yaml exits 2" 2 $AUTHCTL ca show -o yaml --dir "$ca"

# --- the hint fits the failure -----------------------------------------------------
cp -a "$ca" "$T/nokey"
rm "$T/nokey/issuer.key"
check_exit "a CA without its issuer key: exit 3" 3 $AUTHCTL ca issue --dir "$T/nokey" --id $id --out "$T/x"
cp "$T/.out" "$T/said"
check_output "... names the missing key" "incomplete: issuer.key is missing" cat "$T/said"
check_fails "... and does not say to run ca init" grep -q "create one with" "$T/said"
check_output "a sealed issuer without --seal-key says to pass it" "the issuer key in $sca is sealed; pass --seal-key" \
	$AUTHCTL ca issue --dir "$sca" --id spiffe://sealed.example/a --out "$T/s3"
check_output "so does rotate" "is sealed; pass --seal-key" $AUTHCTL ca rotate --dir "$sca"
# Permission denied, as a user who cannot read the CA (the directory is 0700 root).
chmod 711 "$T"
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
if [ "$(id -u)" = 0 ] && nobody "$AUTHCTL" --version >/dev/null 2>&1; then
	check_exit "a CA the user cannot read: exit 3" 3 nobody "$AUTHCTL" ca show --dir "$ca"
	cp "$T/.out" "$T/said"
	check_output "... says permission denied" "$ca: permission denied" cat "$T/said"
	check_fails "... not to create a CA" grep -q "create one with" "$T/said"
	check_output "ca issue says so too" "permission denied" nobody "$AUTHCTL" ca issue --dir "$ca" --id $id --out /tmp/x
	check_output "ca status too" "permission denied" nobody "$AUTHCTL" ca status --dir "$ca"
fi

# --- version and help --------------------------------------------------------------
check_output "authctl --version" "^authctl [0-9]+\.[0-9]+\.[0-9]+$" $AUTHCTL --version
if [ -n "${AUTHD:-}" ] && [ -x "${AUTHD:-}" ]; then
	check_eq "authctl and authd print one version" "$($AUTHCTL --version | cut -d' ' -f2)" "$("$AUTHD" --version | cut -d' ' -f2)"
fi
$AUTHCTL --help >"$T/help"
for sub in init show status rotate bundle issue verify seal-keygen allow revoke list check apply export \
	history audit require-signed keygen verify-db add rm; do
	check "authctl --help lists $sub" grep -qw -- "$sub" "$T/help"
done
for sub in init show status rotate bundle issue verify seal-keygen; do
	check_output "ca $sub --help prints its usage" "^usage: authctl ca $sub" $AUTHCTL ca $sub --help
	check_exit "ca $sub -h exits 0" 0 $AUTHCTL ca $sub -h
done
check_exit "ca status with an argument exits 2" 2 $AUTHCTL ca status extra --dir "$ca"

finish
