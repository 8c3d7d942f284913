#!/usr/bin/env bash
# Lifecycle without downtime (issue 5), on loopback: SVIDs that live a few
# seconds rotate under a long-lived stream, which keeps flowing with every
# byte intact; new connections use the new SVIDs.
. "$(dirname "$0")/../lib/testlib.sh"
AUTHD=${AUTHD:-$ROOT/$BUILD/authd}
APP=${APP_TOOL:-$ROOT/$BUILD/tools/app_tool}
[ -x "$AUTHD" ] || { echo "lifecycle: $AUTHD not built"; exit 1; }
# On a failure, show what authd said (the temp dir goes away).
at_exit '[ "$T_FAIL" -eq 0 ] || { for f in "$T"/authd*.err; do echo "--- $f"; tail -40 "$f"; done; } >&2'

"$AUTHCTL" ca init --dir "$T/ca" --trust-domain life.test >/dev/null
"$APP" echo 18190 >"$T/echo.log" 2>&1 &
echo_pid=$!
at_exit "kill $echo_pid 2>/dev/null; wait $echo_pid 2>/dev/null"
cat >"$T/authd.yaml" <<EOF
trust_domain: life.test
state_dir: $T/state
ca_dir: $T/ca
admin: 127.0.0.1:15190
access_log: $T/access.log
svid_ttl: 6s
workloads:
  - name: api
    namespace: shop
    listen: 127.0.0.1:15191
    apps: [127.0.0.1:18190]
  - name: cli
    namespace: shop
    upstreams:
      - listen: 127.0.0.1:19190
        peer: 127.0.0.1:15191
        target: 127.0.0.1:18190
        expect_id: spiffe://life.test/ns/shop/sa/api
  - name: tmp
    namespace: batch
    upstreams:
      - listen: 127.0.0.1:19191
        peer: 127.0.0.1:15191
        target: 127.0.0.1:18190
EOF
mkdir -p "$T/state"
"$AUTHCTL" policy allow --store "$T/state/store.mdb" --from spiffe://life.test/ns/shop/sa/cli \
	--to spiffe://life.test/ns/shop/sa/api --port 18190 >/dev/null
"$AUTHD" --config "$T/authd.yaml" 2>"$T/authd.err" &
pid=$!
at_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
check "authd with 6-second SVIDs becomes ready" wait_for readyz curl -fs http://127.0.0.1:15190/readyz

# One tunnel streams for 15 s (4 KiB every 50 ms, echoed and compared), while
# api's serial is sampled from /workloads and a fresh connection is made
# every second.
check_output "a stream across SVID rotations: no reset, every byte back, new connections fine" \
	"^bytes=[0-9]+ mismatches=0 serials=([4-9]|[1-9][0-9]) fresh_ok=1[0-9] fresh_failed=0$" "$PY" -c '
import json, os, socket, time, urllib.request
def serial():
    ws = json.load(urllib.request.urlopen("http://127.0.0.1:15190/workloads", timeout=5))
    return [w["svid"]["serial"] for w in ws if w["name"] == "api"][0]
s = socket.create_connection(("127.0.0.1", 19190)); s.settimeout(10)
sent = mismatches = 0
serials = {serial()}
fresh_ok = fresh_failed = 0
end = time.time() + 15
next_fresh = time.time() + 1
i = 0
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
    serials.add(serial())
    if time.time() >= next_fresh:
        next_fresh += 1
        try:
            f = socket.create_connection(("127.0.0.1", 19190), timeout=5); f.settimeout(5)
            f.sendall(b"ping"); ok = f.recv(4) == b"ping"; f.close()
        except OSError:
            ok = False
        fresh_ok += ok; fresh_failed += not ok
    time.sleep(0.05)
print("bytes=%d mismatches=%d serials=%d fresh_ok=%d fresh_failed=%d" %
      (sent, mismatches, len(serials), fresh_ok, fresh_failed))'
check_output "every renewal is counted" '^authd_svid_issued_total\{result="ok"\} ([8-9]|[1-9][0-9])$' \
	curl -s http://127.0.0.1:15190/metrics
check_fails "no renewal failed" bash -c \
	'curl -s http://127.0.0.1:15190/metrics | grep -q "^authd_svid_issued_total{result=\"failed\"}"'
check "still ready" curl -fs http://127.0.0.1:15190/readyz

# An expiring rule: its tunnel is closed once it has expired, with no commit.
check "a rule for batch/tmp that expires in 8 s" "$AUTHCTL" policy allow --store "$T/state/store.mdb" \
	--from spiffe://life.test/ns/batch/sa/tmp --to spiffe://life.test/ns/shop/sa/api --port 18190 --expires 8s
check_output "its open tunnel works, then closes when the rule expires" "^echo=ok then=closed$" "$PY" -c '
import socket
s = socket.create_connection(("127.0.0.1", 19191)); s.settimeout(5)
s.sendall(b"hello"); echo = "ok" if s.recv(5) == b"hello" else "bad"
s.settimeout(20)
print("echo=%s then=%s" % (echo, "closed" if s.recv(1) == b"" else "open"))'
check_output "logged as revoked because the rule expired" \
	'"src":"spiffe://life.test/ns/batch/sa/tmp".*"decision":"revoked","rule":2,"reason":"expired","end":"revoked"' \
	cat "$T/access.log"

# Issuer rollover to a new root, live: SVIDs re-issued under the new issuer,
# peers of the old generation accepted while the old root is in the bundle,
# rejected once it is removed; no restart.
"$AUTHCTL" ca issue --dir "$T/ca" --id spiffe://life.test/ns/shop/sa/old --ttl 1h --out "$T/old" >/dev/null
old_root=$("$AUTHCTL" ca bundle list --dir "$T/ca" | awk 'NR == 1 { print $1 }')
api_serial() {
	curl -s http://127.0.0.1:15190/workloads |
		"$PY" -c 'import json,sys; print([w["svid"]["serial"] for w in json.load(sys.stdin) if w["name"]=="api"][0])'
}
# An old-generation client: authenticated (so the policy answers 403), or refused.
old_client() {
	printf 'CONNECT 127.0.0.1:18190 HTTP/1.1\r\n\r\n' | timeout 5 openssl s_client -quiet -ign_eof \
		-connect 127.0.0.1:15191 -cert "$T/old/svid.pem" -cert_chain "$T/old/svid.pem" -key "$T/old/svid.key" \
		-CAfile "$T/old/bundle.pem" 2>&1 | grep -m1 '^HTTP/1.1' || true
}
check_output "before: the old-generation client is authenticated (403 from policy)" "^HTTP/1.1 403" old_client
check "authctl ca rotate --new-root while authd runs" "$AUTHCTL" ca rotate --dir "$T/ca" --new-root
check "authd reloads the CA directory" wait_for "reload" grep -q "trust reloaded from" "$T/authd.err"
check "and re-issues under the new issuer" wait_for "re-issue" \
	bash -c "grep -c 'trust reloaded' '$T/authd.err' >/dev/null && [ \"\$(grep -c 'shop/api: SVID' '$T/authd.err')\" -ge 2 ]"
check_output "new generation on both ends: cli -> api still works" "^ok$" "$PY" -c '
import socket
s = socket.create_connection(("127.0.0.1", 19190)); s.settimeout(5)
s.sendall(b"newgen"); print("ok" if s.recv(6) == b"newgen" else "bad")'
check_output "the old generation is still accepted: its root is in the bundle" "^HTTP/1.1 403" old_client
check "authctl ca bundle remove the old root" "$AUTHCTL" ca bundle remove --dir "$T/ca" "${old_root:0:16}"
check "authd reloads again" wait_for "second reload" bash -c "[ \"\$(grep -c 'trust reloaded' '$T/authd.err')\" -ge 2 ]"
sleep 0.5	# the re-issued SVIDs land
check_eq "the old generation is now refused at the handshake (no HTTP answer)" "$(old_client)" ""
check_output "counted as an unknown authority" \
	'^authd_handshake_failures_total\{direction="inbound",reason="(unknown-authority|bad-signature)"\} [1-9]' \
	curl -s http://127.0.0.1:15190/metrics
check_output "the new generation is unaffected" "^ok$" "$PY" -c '
import socket
s = socket.create_connection(("127.0.0.1", 19190)); s.settimeout(5)
s.sendall(b"after!"); print("ok" if s.recv(6) == b"after!" else "bad")'
echo "not a bundle" >"$T/ca/bundle.pem.new" && mv "$T/ca/bundle.pem" "$T/bundle.saved" && mv "$T/ca/bundle.pem.new" "$T/ca/bundle.pem"
check "an unreadable bundle is reported in /readyz" wait_for "readyz" bash -c \
	"curl -s http://127.0.0.1:15190/readyz | grep -q 'ca_dir reload failed: trust bundle'"
check_output "while authd keeps serving with what it had" "^ok$" "$PY" -c '
import socket
s = socket.create_connection(("127.0.0.1", 19190)); s.settimeout(5)
s.sendall(b"still!"); print("ok" if s.recv(6) == b"still!" else "bad")'
mv "$T/bundle.saved" "$T/ca/bundle.pem"
check "a good bundle again makes it ready" wait_for readyz curl -fs http://127.0.0.1:15190/readyz
# A truncated issuer key: the same, named in /readyz, and the old trust serves on.
cp "$T/ca/issuer.key" "$T/issuer.key.saved"
head -c 40 "$T/issuer.key.saved" >"$T/ca/issuer.key"
check "a truncated issuer key is reported in /readyz" wait_for "readyz" bash -c \
	"curl -s http://127.0.0.1:15190/readyz | grep -q 'ca_dir reload failed: CA '"
check_output "while tunnels still work" "^ok$" "$PY" -c '
import socket
s = socket.create_connection(("127.0.0.1", 19190)); s.settimeout(5)
s.sendall(b"key!"); print("ok" if s.recv(4) == b"key!" else "bad")'
cp "$T/issuer.key.saved" "$T/ca/issuer.key"
check "the key restored makes it ready again" wait_for readyz curl -fs http://127.0.0.1:15190/readyz

# SIGHUP with the same config while a tunnel streams: nothing is dropped.
check_output "a SIGHUP reload under a live stream drops nothing" "^ok 40$" "$PY" -c '
import os, signal, socket, sys, time
s = socket.create_connection(("127.0.0.1", 19190)); s.settimeout(10)
n = 0
for i in range(40):
    if i == 10:
        os.kill(int(sys.argv[1]), signal.SIGHUP)
    b = (b"%04d" % i) * 256
    s.sendall(b); got = b""
    while len(got) < len(b):
        d = s.recv(len(b) - len(got))
        if not d: raise SystemExit("closed at %d" % i)
        got += d
    n += got == b
    time.sleep(0.05)
print("ok", n)' "$pid"
check "and the reload was logged" grep -q "SIGHUP: configuration reloaded" "$T/authd.err"

# kill -9 under load, three times, then start again: same policy and
# workloads (LMDB), fresh SVIDs, and the dead process's reader slots cleared.
STORE=$T/state/store.mdb
cat >"$T/load.py" <<'EOF'
import os, socket, sys, time
ok = failed = 0
end = time.time() + 60
while time.time() < end and not os.path.exists(sys.argv[1]):
    try:
        s = socket.create_connection(("127.0.0.1", 19190), timeout=2); s.settimeout(2)
        s.sendall(b"load"); good = s.recv(4) == b"load"; s.close()
    except OSError:
        good = False
    ok += good; failed += not good
    time.sleep(0.02)
print("ok=%d failed=%d" % (ok, failed))
EOF
# A second process holds the store open throughout, so the reader table is
# not simply reset by the next process to open it.
"$ROOT/$BUILD/tools/store_hold_tool" "$STORE" >"$T/hold.out" 2>&1 &
hold_pid=$!
at_exit "kill $hold_pid 2>/dev/null; wait $hold_pid 2>/dev/null"
check "another process holds the store open" wait_for "holder" grep -q open "$T/hold.out"
"$PY" "$T/load.py" "$T/load.stop" >"$T/load.out" 2>&1 &
load_pid=$!
at_exit "touch '$T/load.stop'; wait $load_pid 2>/dev/null"
for round in 1 2 3; do
	before=$(api_serial)
	check "round $round: the running authd holds reader slots" bash -c "mdb_stat -nr '$STORE' | grep -qw $pid"
	kill -KILL $pid
	wait $pid 2>/dev/null
	dead=$pid
	check "round $round: its slots outlive it" bash -c "mdb_stat -nr '$STORE' | grep -qw $dead"
	"$AUTHD" --config "$T/authd.yaml" 2>"$T/authd-r$round.err" &
	pid=$!
	at_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
	check "round $round: after kill -9 under load authd starts again and becomes ready" \
		wait_for readyz curl -fs http://127.0.0.1:15190/readyz
	check_fails "round $round: the dead process's reader slots are cleared" bash -c \
		"mdb_stat -nr '$STORE' | grep -qw $dead"
	after=$(api_serial)
	check "round $round: with a fresh SVID (keys lived only in memory)" test -n "$after" -a "$before" != "$after"
	check_output "round $round: and the same policy: cli -> api passes" "^ok$" "$PY" -c '
import socket
s = socket.create_connection(("127.0.0.1", 19190)); s.settimeout(5)
s.sendall(b"again"); print("ok" if s.recv(5) == b"again" else "bad")'
done
touch "$T/load.stop"
wait $load_pid
check_output "the load saw connections succeed across the restarts" "^ok=[1-9][0-9]* failed=" cat "$T/load.out"
kill $hold_pid
wait $hold_pid 2>/dev/null
kill -TERM $pid
rc=0; wait $pid || rc=$?
check_eq "authd exits 0 on SIGTERM" "$rc" 0
check_output "the long stream ended cleanly in the access log" \
	'"workload":"shop/api".*"decision":"allow".*"end":"done","bytes_in":[0-9]{6,}' cat "$T/access.log"
finish
