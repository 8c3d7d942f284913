#!/usr/bin/env bash
# TLS on the mesh listener as a peer sees it, with real TLS stacks (openssl
# s_client, python's ssl) and hand-made messages (tests/lib/tls_peer.py):
#
#   - a record that fails to authenticate, before the CONNECT head and in an
#     established tunnel, is answered with a bad_record_mac alert, then a close
#     (RFC 8446 5.2, 6);
#   - a rejected TLS 1.3 client reads the alert that says why
#     (certificate_required, unknown_ca, certificate_expired, access_denied),
#     not "bad record mac" (mk/patches/mbedtls-tls13-alerts.patch);
#   - what a broken peer did is counted under a reason that says so
#     (docs/metrics.md): message-too-big, bad-key-share, decode-error,
#     handshake-failure, bad-certificate, bad-record-mac;
#   - a TLS 1.3 KeyUpdate ends the tunnel with an alert and a counted reason
#     (docs/daemon.md, "TLS limits").
#
# One authd on loopback in a network namespace of its own (fixed ports).
T_PRIVATE_NETNS=1
source "$(dirname "$0")/../lib/testlib.sh"

AUTHD=${AUTHD:-$ROOT/$BUILD/authd}
APP=${APP_TOOL:-$ROOT/$BUILD/tools/app_tool}
MC=$ROOT/tests/lib/mesh_client.py
TP=$ROOT/tests/lib/tls_peer.py
TD=tls.test
ADMIN=127.0.0.1:15000
DB_IN=127.0.0.1:15101
ECHO=127.0.0.1:17000
WEB=spiffe://$TD/ns/shop/sa/web
DB=spiffe://$TD/ns/shop/sa/db
for f in "$AUTHD" "$APP"; do
	[ -x "$f" ] || { fail "$f not built (make)"; finish; }
done

# metric NAME [LABEL=VALUE...]: the summed samples.
metric() { "$PY" "$MC" metric "http://$ADMIN/metrics" "$@" 2>/dev/null || echo unreadable; }
metric_eq() { [ "$(metric "${@:2}")" = "$1" ]; }
# counted DESC REASON BASE: authd_handshake_failures_total{inbound,REASON}
# reaches BASE + 1 (the counter moves when the connection ends, which the
# client may see first: wait, bounded).
counted() {
	local desc=$1 reason=$2 base=$3
	if [[ ! $base =~ ^[0-9]+$ ]]; then
		fail "$desc: no baseline ($base)"
		return
	fi
	wait_for "the count" metric_eq $((base + 1)) authd_handshake_failures_total \
	    direction=inbound reason="$reason"
	check_eq "$desc" "$(metric authd_handshake_failures_total direction=inbound reason="$reason")" \
	    $((base + 1))
}
# logged DESC KEY=VALUE...: an access-log line with those fields appears.
logged() {
	local desc=$1
	shift
	if wait_for "the access log" "$PY" "$MC" log "$T/access.log" "$@"; then
		pass "$desc"
	else
		fail "$desc: $("$PY" "$MC" log "$T/access.log" "$@" | tail -c 600)"
	fi
}
base() { metric authd_handshake_failures_total direction=inbound reason="$1"; }

# ---- a CA, certificates, one workload in front of an echo app ---------------------

check "CA for $TD" "$AUTHCTL" ca init --dir "$T/ca" --trust-domain "$TD"
check "web's SVID" "$AUTHCTL" ca issue --dir "$T/ca" --id "$WEB" --out "$T/web"
check "a foreign CA" "$AUTHCTL" ca init --dir "$T/foreign" --trust-domain "$TD"
check "its SVID for web" "$AUTHCTL" ca issue --dir "$T/foreign" --id "$WEB" --out "$T/foreign-web"
check "an expired web leaf" "$PY" "$MC" leaf "$T/ca" "$WEB" -2 -1 "$T/expired"
check "a leaf of another trust domain" \
    "$PY" "$MC" leaf "$T/ca" spiffe://other.test/ns/shop/sa/web -0.01 1 "$T/other-td"
for d in web foreign-web expired other-td; do
	awk -v d="$T/$d" '/BEGIN CERTIFICATE/ { n++ } { print > (d (n == 1 ? "/leaf.pem" : "/chain.pem")) }' \
	    "$T/$d/svid.pem"
done
check "policy: web may reach db's echo" \
    "$AUTHCTL" policy allow --db "$T/store.mdb" --from "$WEB" --to "$DB" --port 17000

cat >"$T/authd.yaml" <<EOF
trust_domain: $TD
state_dir: $T
ca_dir: $T/ca
store: $T/store.mdb
admin: $ADMIN
access_log: $T/access.log
log_level: debug
workloads:
  - name: db
    namespace: shop
    listen: "$DB_IN"
    apps: ["$ECHO"]
EOF
"$APP" echo 17000 >"$T/echo.log" 2>&1 &
echo_pid=$!
at_exit "kill $echo_pid 2>/dev/null; wait $echo_pid 2>/dev/null"
"$AUTHD" --config "$T/authd.yaml" >"$T/authd.log" 2>&1 &
authd_pid=$!
at_exit "kill $authd_pid 2>/dev/null; wait $authd_pid 2>/dev/null"
check "authd is ready" wait_for readyz curl -fsS "http://$ADMIN/readyz"
check "the echo app listens" wait_for echo bash -c 'exec 3<>/dev/tcp/127.0.0.1/17000'
check_output "control: web's SVID gets a tunnel to the echo app" "^HTTP/1.1 200" \
    "$PY" "$MC" connect "$DB_IN" "$T/web/svid.pem" "$T/web/svid.key" "$T/ca/bundle.pem" "$ECHO" get

# ---- a record that does not authenticate: bad_record_mac, then a close -------------

tls_err() { metric authd_tls_errors_total direction=inbound reason="$1"; }
# corrupted DESC WHEN [VERSION]: tls_peer.py reads bad_record_mac, and authd
# counts the failed session and logs it.
corrupted() {
	local desc=$1 when=$2 base
	shift 2
	base=$(tls_err bad-record-mac)
	check_output "$desc: the client reads a bad_record_mac alert" "^alert bad_record_mac$" \
	    "$PY" "$TP" corrupt "$DB_IN" "$T/web/svid.pem" "$T/web/svid.key" "$T/ca/bundle.pem" \
	    "$ECHO" "$when" "$@"
	if [[ $base =~ ^[0-9]+$ ]]; then
		wait_for "the count" metric_eq $((base + 1)) authd_tls_errors_total \
		    direction=inbound reason=bad-record-mac
		check_eq "$desc: counted as bad-record-mac" "$(tls_err bad-record-mac)" $((base + 1))
	else
		fail "$desc: no baseline ($base)"
	fi
}
corrupted "a corrupted CONNECT head (TLS 1.3)" head
logged "logged as an error ending bad-record-mac" direction=inbound src="$WEB" port=null \
    decision=error reason=bad-record-mac end=bad-record-mac
corrupted "a corrupted record in an established tunnel (TLS 1.3)" tunnel
logged "logged as allowed, ending bad-record-mac" direction=inbound src="$WEB" port=17000 \
    decision=allow end=bad-record-mac
corrupted "a corrupted CONNECT head (TLS 1.2)" head tls1.2
corrupted "a corrupted record in an established tunnel (TLS 1.2)" tunnel tls1.2

# ---- rejected TLS 1.3 clients read why ------------------------------------------------

# rejected DESC DIR ALERT REASON [OPTION...]: s_client with DIR's certificate
# ("-" for none) prints ALERT (OpenSSL's wording) and authd counts REASON.
rejected() {
	local desc=$1 dir=$2 alert=$3 reason=$4 b certs=()
	shift 4
	[ "$dir" != - ] && certs=(-cert "$T/$dir/leaf.pem" -cert_chain "$T/$dir/chain.pem" \
	    -key "$T/$dir/svid.key")
	b=$(base "$reason")
	check_output "$desc: s_client prints '$alert'" "alert $alert" bash -c \
	    'printf "CONNECT %s HTTP/1.1\r\n\r\n" "$0" | timeout 10 openssl s_client -connect "$1" \
	    -CAfile "$2" -ign_eof "${@:3}"' "$ECHO" "$DB_IN" "$T/ca/bundle.pem" "${certs[@]}" "$@"
	check_fails "$desc: and no bad record mac" grep -q "bad record mac" "$T/.out"
	counted "$desc: counted as $reason" "$reason" "$b"
}
rejected "TLS 1.3 without a certificate" - "certificate required" no-certificate -tls1_3
rejected "TLS 1.3 with a foreign CA's certificate" foreign-web "unknown ca" unknown-authority -tls1_3
rejected "TLS 1.3 with an expired certificate" expired "certificate expired" expired -tls1_3
rejected "TLS 1.3 with another trust domain's certificate" other-td "access denied" \
    foreign-trust-domain -tls1_3
rejected "TLS 1.2 with an expired certificate" expired "certificate expired" expired -tls1_2
rejected "TLS 1.2 with a foreign CA's certificate" foreign-web "unknown ca" unknown-authority -tls1_2

# ---- what a broken peer did, by name -------------------------------------------------

# broken DESC REASON ALERT CMD...: CMD (a tls_peer.py run) prints ALERT, and
# authd counts the handshake failure as REASON.
broken() {
	local desc=$1 reason=$2 alert=$3 b
	shift 3
	b=$(base "$reason")
	check_output "$desc: the peer reads $alert" "^$alert$" "$@"
	counted "$desc: counted as $reason" "$reason" "$b"
}
broken "a ClientHello larger than a record" message-too-big eof "$PY" "$TP" hello "$DB_IN" oversized
broken "a key share that is not a P-256 point" bad-key-share eof "$PY" "$TP" hello "$DB_IN" bad-share
broken "a ClientHello whose lengths disagree" decode-error "alert decode_error" \
    "$PY" "$TP" hello "$DB_IN" bad-length
broken "no cipher suite in common" handshake-failure "alert handshake_failure" \
    "$PY" "$TP" hello "$DB_IN" no-common
broken "a client Certificate that is not DER (TLS 1.2)" bad-certificate "alert bad_certificate" \
    "$PY" "$TP" cert12 "$DB_IN" garbage
broken "a client Certificate with an impossible length (TLS 1.2)" bad-certificate \
    "alert unsupported_certificate" "$PY" "$TP" cert12 "$DB_IN" huge-length
broken "a client Certificate list past its message (TLS 1.2)" decode-error "alert decode_error" \
    "$PY" "$TP" cert12 "$DB_IN" truncated
check_eq "none of them counts as crypto-failure (our side)" "$(base crypto-failure)" 0

# ---- TLS 1.3 KeyUpdate -----------------------------------------------------------------

# openssl s_client's "k" line sends a KeyUpdate (update_requested). mbedTLS 3.6
# does not implement KeyUpdate: the tunnel ends with unexpected_message,
# counted as key-update (docs/daemon.md, "TLS limits"). The input is a fifo
# fed step by step, each step once the previous answer is in s_client's output.
mkfifo "$T/k.in"
b=$(tls_err key-update)
timeout 20 openssl s_client -connect "$DB_IN" -CAfile "$T/ca/bundle.pem" -tls1_3 \
    -cert "$T/web/leaf.pem" -cert_chain "$T/web/chain.pem" -key "$T/web/svid.key" \
    <"$T/k.in" >"$T/k.out" 2>&1 &
sc_pid=$!
exec 3>"$T/k.in"
printf 'CONNECT %s HTTP/1.1\r\n\r\n' "$ECHO" >&3
check "KeyUpdate: a tunnel through s_client" wait_for 200 grep -q "^HTTP/1.1 200" "$T/k.out"
echo before-rekey >&3
check "KeyUpdate: bytes echo before the rekey" wait_for echo grep -q "^before-rekey" "$T/k.out"
echo k >&3
check "KeyUpdate: s_client sent it" wait_for KEYUPDATE grep -q "^KEYUPDATE" "$T/k.out"
check "KeyUpdate: the tunnel ends" wait_for "s_client's exit" bash -c "! kill -0 $sc_pid 2>/dev/null"
exec 3>&-
wait "$sc_pid" 2>/dev/null
check_output "KeyUpdate: s_client reads an unexpected_message alert" "alert unexpected message" \
    cat "$T/k.out"
if [[ $b =~ ^[0-9]+$ ]]; then
	wait_for "the count" metric_eq $((b + 1)) authd_tls_errors_total direction=inbound reason=key-update
	check_eq "KeyUpdate: counted as key-update" "$(tls_err key-update)" $((b + 1))
else
	fail "KeyUpdate: no baseline ($b)"
fi
logged "KeyUpdate: logged as allowed, ending key-update" direction=inbound src="$WEB" port=17000 \
    decision=allow end=key-update

# ---- still serving, clean exit -----------------------------------------------------------

check_output "still serving after all of it" "^HTTP/1.1 200" \
    "$PY" "$MC" connect "$DB_IN" "$T/web/svid.pem" "$T/web/svid.key" "$T/ca/bundle.pem" "$ECHO" get
kill -TERM "$authd_pid"
rc=0
wait "$authd_pid" || rc=$?
check_eq "authd exits 0 on SIGTERM" "$rc" 0
check_fails "no sanitizer report in authd's log" grep -E "AddressSanitizer|LeakSanitizer|runtime error:" \
    "$T/authd.log"
finish
