#!/usr/bin/env bash
# Lifecycle without downtime (issue 5), on network namespaces
# (tests/lib/netns.sh): two nodes, each running an authd, one pod each.
#
#   node 1 (10.99.0.1): shop/cli and batch/tmp, outbound only; their
#     upstreams on 10.101.1.1: 9001 (cli) and 9002 (tmp) -> api's echo app
#     pod n1p1 10.101.1.2: the clients
#   node 2 (10.99.0.2): shop/api, inbound 10.99.0.2:15001 -> app :7000
#     pod n2p1 10.102.1.2: an echo app on 7000
#
# Both nodes read the same CA directory (as if a secret were mounted on every
# node). Node 2's store allows cli -> api :7000.
#
# Checked: a stream across SVID rotations on both nodes (6-second SVIDs) with
# every byte intact and fresh connections on the new SVIDs; a rule expiring
# under an open tunnel; a live rollover to a new root, old-generation peers
# accepted until the old root leaves the bundle, then refused; an unreadable
# bundle and a truncated issuer key named in /readyz while tunnels work;
# renewals failing (an issuer not yet valid): not ready before the SVID
# expires, the expired SVID never served, recovery by retry; a SIGHUP
# under a live stream; kill -9 of node 2's authd under load, three
# times, while another process holds the store: it serves again with fresh
# SVIDs and the same policy, and the dead process's LMDB reader slots are
# cleared.
source "$(dirname "$0")/../lib/testlib.sh"
source "$ROOT/tests/lib/netns.sh"
AUTHD=${AUTHD:-$ROOT/$BUILD/authd}
APP=${APP_TOOL:-$ROOT/$BUILD/tools/app_tool}
HOLD=$ROOT/$BUILD/tools/store_hold_tool
MC=$ROOT/tests/lib/mesh_client.py
TD=life.test
API=spiffe://$TD/ns/shop/sa/api
CLI=spiffe://$TD/ns/shop/sa/cli
TMP=spiffe://$TD/ns/batch/sa/tmp
API_IN=10.99.0.2:15001
ECHO=10.102.1.2:7000
CLI_UP=10.101.1.1:9001
TMP_UP=10.101.1.1:9002
STORE=$T/n2/store.mdb
for b in "$AUTHD" "$APP" "$HOLD"; do
	[ -x "$b" ] || { fail "$b not built (make)"; finish; }
done
netns_init
# On a failure, show what the daemons said (the temp dir goes away).
at_exit '[ "$T_FAIL" -eq 0 ] || { for f in "$T"/n*/authd*.log; do echo "--- $f"; tail -40 "$f"; done; } >&2'

# admin NODE PATH: GET from that node's admin listener (its own loopback).
admin() { in_ns "n$1" curl -fsS -m 5 "http://127.0.0.1:15000$2"; }
readyz() { in_ns "n$1" curl -s -m 5 "http://127.0.0.1:15000/readyz"; }
ready() { admin "$1" /readyz; }
# readyz_says NODE TEXT: NODE's /readyz has TEXT in it.
readyz_says() { readyz "$1" | grep -qF -- "$2"; }
# reloaded NODE N: NODE's authd has reloaded ca_dir at least N times.
reloaded() { [ "$(grep -c 'trust reloaded from' "$T/n$1/authd.log")" -ge "$2" ]; }
# failed_renewals NODE: NODE's /metrics counts a failed SVID issuance.
failed_renewals() { admin "$1" /metrics | grep -q '^authd_svid_issued_total{result="failed"}'; }
# serial NODE NAME: the serial of the SVID NODE's authd serves for workload NAME.
serial() {
	admin "$1" /workloads |
		"$PY" -c 'import json,sys; print([w["svid"]["serial"] for w in json.load(sys.stdin) if w["name"]==sys.argv[1]][0])' "$2"
}
# echo_once ADDR WORD: "ok" when WORD comes back through the upstream at ADDR (from pod n1p1).
echo_once() { in_ns n1p1 "$PY" "$MC" echo "$1" "$2"; }
start_authd() { # start_authd NODE LOGNAME
	start_bg "n$1" "$T/n$1/$2.log" "$AUTHD" --config "$T/n$1/authd.yaml"
	AUTHD_PID[$1]=$BG_PID
}
declare -A AUTHD_PID=()

# --- topology, CA, config ---------------------------------------------------------

check "node 1" node_add 1
check "node 2" node_add 2
check "node 1's pod" pod_add 1 1
check "node 2's pod" pod_add 2 1
start_bg n2p1 "$T/echo.log" "$APP" echo 7000
check "the echo app listens" wait_tcp n2p1 10.102.1.2 7000
mkdir -p "$T/n1" "$T/n2"
check "CA for $TD" "$AUTHCTL" ca init --dir "$T/ca" --trust-domain "$TD"
common_config() { # common_config N
	cat <<EOF
trust_domain: $TD
state_dir: $T/n$1
ca_dir: $T/ca
admin: 127.0.0.1:15000
access_log: $T/n$1/access.log
svid_ttl: 6s
EOF
}
{
	common_config 1
	cat <<EOF
workloads:
  - name: cli
    namespace: shop
    upstreams:
      - listen: $CLI_UP
        peer: $API_IN
        target: $ECHO
        expect_id: $API
  - name: tmp
    namespace: batch
    upstreams:
      - listen: $TMP_UP
        peer: $API_IN
        target: $ECHO
EOF
} >"$T/n1/authd.yaml"
{
	common_config 2
	cat <<EOF
workloads:
  - name: api
    namespace: shop
    listen: $API_IN
    apps: [$ECHO]
EOF
} >"$T/n2/authd.yaml"
check "node 2: cli may reach api on 7000" \
	"$AUTHCTL" policy allow --store "$STORE" --from "$CLI" --to "$API" --port 7000
start_authd 1 authd
start_authd 2 authd
for n in 1 2; do
	check "node $n's authd with 6-second SVIDs becomes ready" wait_until 30 ready "$n"
done

# --- rotation under a live stream ----------------------------------------------------

# api's serial on node 2 and cli's on node 1, sampled while the stream runs.
(
	end=$((SECONDS + 17))
	while [ "$SECONDS" -lt "$end" ]; do
		echo "api $(serial 2 api 2>/dev/null)"
		echo "cli $(serial 1 cli 2>/dev/null)"
		sleep 0.5
	done
) >"$T/serials" &
sampler=$!
# One tunnel streams for 15 s (4 KiB every 50 ms, echoed and compared), and a
# fresh connection is made every second.
check_output "a stream across SVID rotations: no reset, every byte back, new connections fine" \
	"^bytes=[0-9]+ mismatches=0 fresh_ok=1[0-9] fresh_failed=0$" in_ns n1p1 "$PY" -c '
import socket, time
def conn():
    s = socket.create_connection(("10.101.1.1", 9001), timeout=5); s.settimeout(10); return s
s = conn()
sent = mismatches = fresh_ok = fresh_failed = i = 0
end = time.time() + 15
next_fresh = time.time() + 1
while time.time() < end:
    chunk = (b"%08d" % i) * 512
    s.sendall(chunk)
    got = b""
    while len(got) < len(chunk):
        d = s.recv(len(chunk) - len(got))
        if not d:
            raise SystemExit("stream closed after %d bytes" % sent)
        got += d
    mismatches += got != chunk
    sent += len(chunk)
    i += 1
    if time.time() >= next_fresh:
        next_fresh += 1
        try:
            f = conn(); f.sendall(b"ping"); ok = f.recv(4) == b"ping"; f.close()
        except OSError:
            ok = False
        fresh_ok += ok; fresh_failed += not ok
    time.sleep(0.05)
print("bytes=%d mismatches=%d fresh_ok=%d fresh_failed=%d" % (sent, mismatches, fresh_ok, fresh_failed))'
wait $sampler
check_output "api's SVID rotated at least three times on node 2 meanwhile" "^[4-9]$|^[1-9][0-9]$" \
	bash -c "grep '^api [0-9a-f]' '$T/serials' | sort -u | wc -l"
check_output "and cli's on node 1" "^[4-9]$|^[1-9][0-9]$" \
	bash -c "grep '^cli [0-9a-f]' '$T/serials' | sort -u | wc -l"
for n in 1 2; do
	check_output "node $n counts every renewal" '^authd_svid_issued_total\{result="ok"\} ([4-9]|[1-9][0-9])$' \
		admin "$n" /metrics
	check_fails "node $n: no renewal failed" failed_renewals "$n"
	check "node $n: still ready" ready "$n"
done

# --- an expiring rule --------------------------------------------------------------------

check "a rule for batch/tmp that expires in 8 s" "$AUTHCTL" policy allow --store "$STORE" \
	--from "$TMP" --to "$API" --port 7000 --expires 8s
check_output "its open tunnel works, then closes when the rule expires" "^echo=ok then=closed$" \
	in_ns n1p1 "$PY" -c '
import socket
s = socket.create_connection(("10.101.1.1", 9002)); s.settimeout(5)
s.sendall(b"hello"); echo = "ok" if s.recv(5) == b"hello" else "bad"
s.settimeout(20)
try:
    end = s.recv(1)
except OSError:
    end = b""
print("echo=%s then=%s" % (echo, "closed" if end == b"" else "open"))'
check_output "node 2 logs it as revoked because the rule expired" \
	'"src":"spiffe://life.test/ns/batch/sa/tmp".*"decision":"revoked","rule":2,"reason":"expired","end":"revoked"' \
	cat "$T/n2/access.log"

# --- issuer rollover to a new root, live --------------------------------------------------
# SVIDs re-issued under the new issuer on both nodes; peers of the old
# generation accepted while the old root is in the bundle, refused once it
# is removed; no restart.
"$AUTHCTL" ca issue --dir "$T/ca" --id spiffe://$TD/ns/shop/sa/old --ttl 1h --out "$T/old" >/dev/null
old_root=$("$AUTHCTL" ca bundle list --dir "$T/ca" | awk 'NR == 1 { print $1 }')
# An old-generation client from pod n1p1 straight to api's mesh listener:
# authenticated (so the policy answers 403), or refused at the handshake.
old_client() {
	printf 'CONNECT %s HTTP/1.1\r\n\r\n' "$ECHO" | in_ns n1p1 timeout 5 openssl s_client -quiet -ign_eof \
		-connect "$API_IN" -cert "$T/old/svid.pem" -cert_chain "$T/old/svid.pem" -key "$T/old/svid.key" \
		-CAfile "$T/old/bundle.pem" 2>&1 | grep -m1 '^HTTP/1.1' || true
}
check_output "before: the old-generation client is authenticated (403 from policy)" "^HTTP/1.1 403" old_client
api0=$(serial 2 api)
check "authctl ca rotate --new-root while both authds run" "$AUTHCTL" ca rotate --dir "$T/ca" --new-root
for n in 1 2; do
	check "node $n reloads the CA directory" wait_until 10 reloaded "$n" 1
done
serial_moved() { [ "$(serial 2 api)" != "$api0" ]; }
check "node 2 re-issues api under the new issuer" wait_until 10 serial_moved
check_eq "new generation on both ends: cli -> api works" "$(echo_once "$CLI_UP" newgen)" ok
check_output "the old generation is still accepted: its root is in the bundle" "^HTTP/1.1 403" old_client
check "authctl ca bundle remove the old root" "$AUTHCTL" ca bundle remove --dir "$T/ca" "${old_root:0:16}"
for n in 1 2; do
	check "node $n reloads again" wait_until 10 reloaded "$n" 2
done
sleep 0.5	# the re-issued SVIDs land
check_eq "the old generation is now refused at the handshake (no HTTP answer)" "$(old_client)" ""
check_output "counted as an unknown authority" \
	'^authd_handshake_failures_total\{direction="inbound",reason="(unknown-authority|bad-signature)"\} [1-9]' \
	admin 2 /metrics
check_eq "the new generation is unaffected" "$(echo_once "$CLI_UP" after)" ok

# --- an unreadable bundle, a truncated issuer key -----------------------------------------
echo "not a bundle" >"$T/ca/bundle.pem.new" && mv "$T/ca/bundle.pem" "$T/bundle.saved" &&
	mv "$T/ca/bundle.pem.new" "$T/ca/bundle.pem"
for n in 1 2; do
	check "node $n: an unreadable bundle is reported in /readyz" \
		wait_until 10 readyz_says "$n" "ca_dir reload failed: trust bundle"
done
check_eq "while the authds keep serving with what they had" "$(echo_once "$CLI_UP" still)" ok
mv "$T/bundle.saved" "$T/ca/bundle.pem"
for n in 1 2; do
	check "node $n: a good bundle again makes it ready" wait_until 10 ready "$n"
done
cp "$T/ca/issuer.key" "$T/issuer.key.saved"
head -c 40 "$T/issuer.key.saved" >"$T/ca/issuer.key"
check "a truncated issuer key is reported in /readyz" wait_until 10 readyz_says 2 "ca_dir reload failed: CA "
check_eq "while tunnels still work" "$(echo_once "$CLI_UP" key)" ok
cp "$T/issuer.key.saved" "$T/ca/issuer.key"
for n in 1 2; do
	check "node $n: the key restored makes it ready again" wait_until 10 ready "$n"
done

# --- renewals that fail -------------------------------------------------------------------
# An issuer that is not valid for another 12 s: every signing fails. The
# workloads turn not ready while their SVIDs are still valid, their expired
# SVIDs are never served, and renewal retries (with backoff) bring them back
# once the issuer is valid, with no operator action.
check "the issuer signed again, valid only 12 s from now" "$PY" "$MC" issuer "$T/ca" 12 86400
check "node 2: api is not ready while its SVID is still valid: renewal failing" \
	wait_until 10 readyz_says 2 "shop/api: SVID renewal failing"
check_output "the failure is counted" '^authd_svid_issued_total\{result="failed"\} [1-9]' admin 2 /metrics
check "node 1 too: cli's renewal failing" wait_until 10 readyz_says 1 "shop/cli: SVID renewal failing"
check "then api's SVID expires, and /readyz says so" wait_until 10 readyz_says 2 "shop/api: SVID expired"
check_output "an expired SVID is never served: cli -> api is refused" "^(closed|error)" echo_once "$CLI_UP" expired
check "once the issuer is valid a retry succeeds: node 2 ready again by itself" wait_until 40 ready 2
check "and node 1" wait_until 40 ready 1
check_eq "tunnels work again" "$(echo_once "$CLI_UP" renewed)" ok

# --- SIGHUP under a live stream ----------------------------------------------------------
check_output "a SIGHUP reload of both authds under a live stream drops nothing" "^ok 40$" in_ns n1p1 "$PY" -c '
import os, signal, socket, sys, time
s = socket.create_connection(("10.101.1.1", 9001)); s.settimeout(10)
n = 0
for i in range(40):
    if i == 10:
        for p in sys.argv[1:]:
            os.kill(int(p), signal.SIGHUP)
    b = (b"%04d" % i) * 256
    s.sendall(b); got = b""
    while len(got) < len(b):
        d = s.recv(len(b) - len(got))
        if not d: raise SystemExit("closed at %d" % i)
        got += d
    n += got == b
    time.sleep(0.05)
print("ok", n)' "${AUTHD_PID[1]}" "${AUTHD_PID[2]}"
for n in 1 2; do
	check "node $n logged the reload" grep -q "SIGHUP: configuration reloaded" "$T/n$n/authd.log"
done

# --- kill -9 under load, three times ------------------------------------------------------
# Node 2's authd, while pod n1p1 keeps connecting and a second process holds
# the store open (so the reader table is not simply reset by the next
# process to open it): same policy and workloads (LMDB), fresh SVIDs, and
# the dead process's reader slots cleared.
start_bg n2 "$T/hold.log" "$HOLD" "$STORE"
hold_pid=$BG_PID
check "another process holds node 2's store open" wait_until 10 grep -q open "$T/hold.log"
cat >"$T/load.py" <<'EOF'
import os, socket, sys, time
ok = failed = 0
end = time.time() + 90
while time.time() < end and not os.path.exists(sys.argv[1]):
    try:
        s = socket.create_connection(("10.101.1.1", 9001), timeout=2); s.settimeout(2)
        s.sendall(b"load"); good = s.recv(4) == b"load"; s.close()
    except OSError:
        good = False
    ok += good; failed += not good
    time.sleep(0.02)
print("ok=%d failed=%d" % (ok, failed), flush=True)
EOF
start_bg n1p1 "$T/load.out" "$PY" "$T/load.py" "$T/load.stop"
load_pid=$BG_PID
for round in 1 2 3; do
	pid=${AUTHD_PID[2]}
	before=$(serial 2 api)
	check "round $round: the running authd holds reader slots" bash -c "mdb_stat -nr '$STORE' | grep -qw $pid"
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	check "round $round: its slots outlive it" bash -c "mdb_stat -nr '$STORE' | grep -qw $pid"
	start_authd 2 "authd-r$round"
	check "round $round: after kill -9 under load authd starts again and becomes ready" \
		wait_until 10 ready 2
	check_fails "round $round: the dead process's reader slots are cleared" bash -c \
		"mdb_stat -nr '$STORE' | grep -qw $pid"
	after=$(serial 2 api)
	check "round $round: with a fresh SVID (keys lived only in memory)" test -n "$after" -a "$before" != "$after"
	check_eq "round $round: and the same policy: cli -> api passes" "$(echo_once "$CLI_UP" again)" ok
done
touch "$T/load.stop"
check "the load ends" wait_until 10 grep -q "^ok=" "$T/load.out"
check_output "and saw connections succeed across the restarts" "^ok=[1-9][0-9]* failed=" cat "$T/load.out"
stop_bg "$load_pid" >/dev/null
stop_bg "$hold_pid" >/dev/null

for n in 1 2; do
	check_exit "node $n's authd exits 0 on SIGTERM" 0 stop_bg "${AUTHD_PID[$n]}"
done
check_output "the long stream ended cleanly in node 2's access log" \
	'"workload":"shop/api".*"decision":"allow".*"end":"done","bytes_in":[0-9]{6,}' cat "$T/n2/access.log"
for f in "$T"/n*/authd*.log; do
	check_fails "${f#"$T"/}: no sanitizer report" grep -E "AddressSanitizer|LeakSanitizer|runtime error:" "$f"
done
finish
