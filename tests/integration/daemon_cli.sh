#!/usr/bin/env bash
# The authd binary as an operator runs it on loopback: flags and config
# errors, dev mode's allowed and denied connections, a workload added with
# authctl picked up live (and its SVID reported back), a policy change
# without restart, SIGHUP with a broken config (refused, still serving) and
# SIGTERM (drains, exit 0).
# Fixed ports (the dev node's too): in a network namespace of its own.
T_PRIVATE_NETNS=1
. "$(dirname "$0")/../lib/testlib.sh"
AUTHD=${AUTHD:-$ROOT/$BUILD/authd}
[ -x "$AUTHD" ] || { echo "daemon_cli: $AUTHD not built"; exit 1; }

# wait_for DESC CMD...: poll CMD for up to 10 s (readiness, not timing).
# ---- Flags and config errors: exit 2, nothing started -----------------------
check_exit "unknown flag exits 2" 2 "$AUTHD" --no-such-flag
check_exit "no config and no --dev exits 2" 2 "$AUTHD"
check_exit "bad --log-level exits 2" 2 "$AUTHD" --dev --log-level loud
check_exit "bad --admin address exits 2" 2 "$AUTHD" --dev --admin localhost:1
printf 'trust_domain: t.test\nlimits:\n  idle_timeout: 0s\n' >"$T/bad.yaml"
check_exit "out-of-range limit exits 2" 2 "$AUTHD" --config "$T/bad.yaml"
check_output "the config error names the line and key" "line 3: limits.idle_timeout" \
	"$AUTHD" --config "$T/bad.yaml"
printf 'trust_domain: t.test\nstate_dir: %s/nostate\naccess_log: off\nadmin: off\n' "$T" >"$T/noca.yaml"
check_exit "a missing CA exits 3" 3 "$AUTHD" --config "$T/noca.yaml"
check_output "and says how to create one" "authctl ca init --dir" "$AUTHD" --config "$T/noca.yaml"
# The hint fits the failure: "ca init" only where there is no CA at all.
"$AUTHCTL" ca seal-keygen --out "$T/hint.seal" >/dev/null
"$AUTHCTL" ca init --dir "$T/hint-sealed" --trust-domain t.test --seal-key "$T/hint.seal" >/dev/null
printf 'trust_domain: t.test\nstate_dir: %s/hs\nca_dir: %s/hint-sealed\naccess_log: off\nadmin: off\n' "$T" "$T" >"$T/sealed.yaml"
check_exit "a sealed issuer key without seal_key exits 3" 3 "$AUTHD" --config "$T/sealed.yaml"
cp "$T/.out" "$T/said"
check_output "... and says to set seal_key" "is sealed: set seal_key in the config" cat "$T/said"
check_fails "... not to create a CA" grep -q "authctl ca init" "$T/said"
"$AUTHCTL" ca init --dir "$T/hint-nokey" --trust-domain t.test >/dev/null
rm "$T/hint-nokey/issuer.key"
printf 'trust_domain: t.test\nstate_dir: %s/hn\nca_dir: %s/hint-nokey\naccess_log: off\nadmin: off\n' "$T" "$T" >"$T/nokey.yaml"
check_exit "a CA without its issuer key exits 3" 3 "$AUTHD" --config "$T/nokey.yaml"
cp "$T/.out" "$T/said"
check_output "... and says the CA is incomplete" "the CA there is incomplete" cat "$T/said"
check_fails "... not to create one" grep -q "authctl ca init" "$T/said"
if [ "$(id -u)" = 0 ]; then
	"$AUTHCTL" ca init --dir "$T/hint-root" --trust-domain t.test >/dev/null
	mkdir -p "$T/hp" && chown 65534:65534 "$T/hp" && chmod 711 "$T"
	printf 'trust_domain: t.test\nstate_dir: %s/hp\nca_dir: %s/hint-root\naccess_log: off\nadmin: off\n' "$T" "$T" >"$T/perm.yaml"
	chmod 644 "$T/perm.yaml"
	check_exit "a CA authd may not read exits 3" 3 setpriv --reuid=65534 --regid=65534 --clear-groups "$AUTHD" --config "$T/perm.yaml"
	cp "$T/.out" "$T/said"
	check_output "... and says permission denied" "permission denied: authd must be able to read ca_dir" cat "$T/said"
	check_fails "... not to create a CA" grep -q "authctl ca init" "$T/said"
fi
check_output "--version" "^authd [0-9]+\.[0-9]+" "$AUTHD" --version

# ---- Dev mode ------------------------------------------------------------------
DEV=$T/dev
"$AUTHD" --dev --state-dir "$DEV" >"$T/dev.out" 2>"$T/dev.err" &
dev_pid=$!
at_exit "kill $dev_pid 2>/dev/null; wait $dev_pid 2>/dev/null"
check "dev node becomes ready" wait_for readyz curl -fs http://127.0.0.1:15000/readyz
check_output "allowed: frontend reaches backend" "^hello from backend$" curl -s --max-time 5 http://127.0.0.1:19080/
check_fails "denied: backend cannot reach frontend" curl -fs --max-time 5 http://127.0.0.1:19081/
check_output "dev prints the commands to try" "curl -s http://127.0.0.1:19080/" cat "$T/dev.out"
check_output "the access log has the denial with its reason" \
	'"direction":"inbound".*"decision":"deny","rule":null,"reason":"no-rule"' cat "$T/dev.out"
check_output "/metrics counts the denial" \
	'^authd_connections_total\{direction="inbound",decision="deny",reason="no-rule"\} 1$' \
	curl -s http://127.0.0.1:15000/metrics
check_output "/metrics has the issuer's time left" '^authd_ca_expiry_seconds\{cert="issuer"\} 2[0-9]{6}$' \
	curl -s http://127.0.0.1:15000/metrics
check_output "and the first trust anchor's" '^authd_ca_expiry_seconds\{cert="trust_anchor"\} 3[0-9]{7}$' \
	curl -s http://127.0.0.1:15000/metrics
check_output "/workloads lists both with SVIDs" '"spiffe_id":"spiffe://dev.authd.test/ns/demo/sa/frontend".*"svid":\{"serial"' \
	curl -s http://127.0.0.1:15000/workloads

# Policy change, no restart: allow backend -> frontend.
check "authctl allows backend -> frontend while authd runs" "$AUTHCTL" policy allow --store "$DEV/store.mdb" \
	--from spiffe://dev.authd.test/ns/demo/sa/backend --to spiffe://dev.authd.test/ns/demo/sa/frontend --port 18081 \
	--comment "let backend call back"
check_output "the new rule applies to the next connection" "^hello from frontend$" curl -s --max-time 5 http://127.0.0.1:19081/
check "authctl revokes it" "$AUTHCTL" policy revoke --store "$DEV/store.mdb" 2
check_fails "and the next connection is denied again" curl -fs --max-time 5 http://127.0.0.1:19081/

# A workload added with authctl is served live and its SVID reported back.
check "authctl workload add while authd runs" "$AUTHCTL" workload add extra --namespace demo \
	--store "$DEV/store.mdb" --upstream listen=127.0.0.1:19082,peer=127.0.0.1:15002,target=127.0.0.1:18082
check "the new upstream listener comes up" wait_for listener bash -c 'exec 3<>/dev/tcp/127.0.0.1/19082' 
check_output "authctl ca status lists extra's SVID as authd reported it" \
	"demo/extra +serial [0-9a-f]{16}  .*\(in [0-9]+[hm]\)" "$AUTHCTL" ca status --dir "$DEV/ca" --store "$DEV/store.mdb"
check_output "extra's SVID is reported to the registry" "demo/extra .*\(in [0-9]+[hm]" "$AUTHCTL" workload list --store "$DEV/store.mdb"
check_fails "extra -> backend is denied (no rule)" curl -fs --max-time 5 http://127.0.0.1:19082/
check "and logged with the peer's verdict" wait_for "access log" grep -q \
	'"workload":"demo/extra".*"decision":"deny","rule":null,"reason":"peer-denied"' "$T/dev.out"
check "a workload that would share frontend's upstream port" "$AUTHCTL" workload add thief --namespace demo \
	--store "$DEV/store.mdb" --upstream listen=0.0.0.0:19080,peer=127.0.0.1:15002,target=127.0.0.1:18082
check "is refused by the daemon, with the reason" wait_for "overlap warning" grep -q \
	"demo/thief (registry): not served: listen 0.0.0.0:19080 overlaps a listener of demo/frontend" "$T/dev.err"
check_output "and /workloads lists it as refused, not served" \
	'"name":"thief","namespace":"demo","source":"registry","refused":"listen 0.0.0.0:19080 overlaps' \
	curl -s http://127.0.0.1:15000/workloads
check_output "frontend's upstream still reaches backend" "^hello from backend$" curl -s --max-time 5 http://127.0.0.1:19080/
check "authctl workload rm thief" "$AUTHCTL" workload rm thief --namespace demo --store "$DEV/store.mdb"
check "authctl workload rm" "$AUTHCTL" workload rm extra --namespace demo --store "$DEV/store.mdb"
check "its listener goes away" wait_for "listener closed" bash -c '! exec 3<>/dev/tcp/127.0.0.1/19082'

# Signals.
kill -HUP $dev_pid
sleep 0.3
check "SIGHUP without a config file keeps serving" curl -fs http://127.0.0.1:15000/healthz
kill -TERM $dev_pid
rc=0; wait $dev_pid || rc=$?
check_eq "SIGTERM drains and exits 0" "$rc" 0
check_output "the drain is logged" "drained; exiting" cat "$T/dev.err"

# ---- Config file and SIGHUP reload ---------------------------------------------
"$AUTHCTL" ca init --dir "$T/ca" --trust-domain cfg.test >/dev/null
cat >"$T/authd.yaml" <<EOF
trust_domain: cfg.test
state_dir: $T/state
ca_dir: $T/ca
admin: 127.0.0.1:15100
access_log: $T/access.log
workloads:
  - name: web
    namespace: shop
    listen: 127.0.0.1:15108
    apps: [127.0.0.1:18180]
EOF
"$AUTHD" --config "$T/authd.yaml" 2>"$T/cfg.err" &
cfg_pid=$!
at_exit "kill $cfg_pid 2>/dev/null; wait $cfg_pid 2>/dev/null"
check "config node becomes ready" wait_for readyz curl -fs http://127.0.0.1:15100/readyz
echo "limits: [oops" >>"$T/authd.yaml"
kill -HUP $cfg_pid
check "a broken config on SIGHUP is refused" wait_for "refusal" grep -q "keeping the running configuration" "$T/cfg.err"
check "and authd keeps serving" curl -fs http://127.0.0.1:15100/readyz
sed -i '$d' "$T/authd.yaml"
sed -i 's/name: web/name: api/' "$T/authd.yaml"
kill -HUP $cfg_pid
sed 's/15100/15199/' "$T/authd.yaml" >"$T/second.yaml"
check_exit "a second authd on the same store refuses to start" 3 "$AUTHD" --config "$T/second.yaml"
check_output "and says why" "another authd is running with the store" "$AUTHD" --config "$T/second.yaml"
check "a good config on SIGHUP swaps the workloads" wait_for reload bash -c \
	"curl -s http://127.0.0.1:15100/workloads | grep -q '\"name\":\"api\"'"
check_fails "the old workload is gone" bash -c "curl -s http://127.0.0.1:15100/workloads | grep -q '\"name\":\"web\"'"
kill -TERM $cfg_pid
rc=0; wait $cfg_pid || rc=$?
check_eq "config node exits 0 on SIGTERM" "$rc" 0

# ---- Limits: connections per workload and idle time, each counted ------------------
APP=${APP_TOOL:-$ROOT/$BUILD/tools/app_tool}
"$APP" http 18181 api >"$T/app.log" 2>&1 &
app_pid=$!
at_exit "kill $app_pid 2>/dev/null; wait $app_pid 2>/dev/null"
cat >"$T/limits.yaml" <<EOF
trust_domain: cfg.test
state_dir: $T/lstate
ca_dir: $T/ca
admin: 127.0.0.1:15101
access_log: $T/limits.log
limits:
  idle_timeout: 1s
  handshake_timeout: 1s
  max_connections_per_workload: 1
workloads:
  - name: api
    namespace: shop
    listen: 127.0.0.1:15109
    apps: [127.0.0.1:18181]
  - name: cli
    namespace: shop
    upstreams:
      - listen: 127.0.0.1:19109
        peer: 127.0.0.1:15109
        target: 127.0.0.1:18181
EOF
mkdir -p "$T/lstate"
"$AUTHCTL" policy allow --store "$T/lstate/store.mdb" --from spiffe://cfg.test/ns/shop/sa/cli \
	--to spiffe://cfg.test/ns/shop/sa/api --port 18181 >/dev/null
"$AUTHD" --config "$T/limits.yaml" 2>"$T/limits.err" &
lim_pid=$!
at_exit "kill $lim_pid 2>/dev/null; wait $lim_pid 2>/dev/null"
check "limits node becomes ready" wait_for readyz curl -fs http://127.0.0.1:15101/readyz
check_output "a tunnel works" "^hello from api" curl -s --max-time 5 http://127.0.0.1:19109/
# Hold one tunnel open and idle; a second one at the same time is over the
# per-workload limit; the held one is closed once idle for a second.
check_output "a second concurrent connection is refused; the idle one is closed" \
	"^second=closed idle=closed$" "$PY" -c '
import socket, time
held = socket.create_connection(("127.0.0.1", 19109))
time.sleep(0.5)
extra = socket.create_connection(("127.0.0.1", 19109))
extra.settimeout(5)
second = "closed" if extra.recv(1) == b"" else "open"
held.settimeout(10)
idle = "closed" if held.recv(1) == b"" else "open"
print("second=%s idle=%s" % (second, idle))'
check_output "the limit is counted" \
	'^authd_limit_hits_total\{direction="outbound",limit="max_connections_per_workload"\} 1$' \
	curl -s http://127.0.0.1:15101/metrics
check_output "so is the idle timeout" \
	'^authd_limit_hits_total\{direction="(inbound|outbound)",limit="idle_timeout"\} [1-9]' \
	curl -s http://127.0.0.1:15101/metrics
check_output "a client that never starts its handshake is dropped" "^dropped$" "$PY" -c '
import socket
s = socket.create_connection(("127.0.0.1", 15109)); s.settimeout(10)
print("dropped" if s.recv(1) == b"" else "open")'
check_output "and the handshake timeout is counted" \
	'^authd_limit_hits_total\{direction="inbound",limit="handshake_timeout"\} 1$' \
	curl -s http://127.0.0.1:15101/metrics
check_output "the idle close is logged as how it ended" '"decision":"allow".*"end":"idle-timeout"' cat "$T/limits.log"
kill -TERM $lim_pid
rc=0; wait $lim_pid || rc=$?
check_eq "limits node exits 0 on SIGTERM" "$rc" 0

"$APP" echo 18182 >"$T/echo.log" 2>&1 &
echo_pid=$!
at_exit "kill $echo_pid 2>/dev/null; wait $echo_pid 2>/dev/null"
# ---- Live policy: a revoke closes the established tunnel it no longer
# ---- allows, and only that one ------------------------------------------------
cat >"$T/revoke.yaml" <<EOF
trust_domain: cfg.test
state_dir: $T/rstate
ca_dir: $T/ca
admin: 127.0.0.1:15103
access_log: $T/revoke.log
workloads:
  - name: api
    namespace: shop
    listen: 127.0.0.1:15112
    apps: [127.0.0.1:18182]
  - name: cli
    namespace: shop
    upstreams:
      - listen: 127.0.0.1:19112
        peer: 127.0.0.1:15112
        target: 127.0.0.1:18182
  - name: job
    namespace: batch
    upstreams:
      - listen: 127.0.0.1:19113
        peer: 127.0.0.1:15112
        target: 127.0.0.1:18182
EOF
mkdir -p "$T/rstate"
check_output "rule 1: cli -> api" "allowed #1" "$AUTHCTL" policy allow --store "$T/rstate/store.mdb" \
	--from spiffe://cfg.test/ns/shop/sa/cli --to spiffe://cfg.test/ns/shop/sa/api --port 18182
check_output "rule 2: job -> api" "allowed #2" "$AUTHCTL" policy allow --store "$T/rstate/store.mdb" \
	--from spiffe://cfg.test/ns/batch/sa/job --to spiffe://cfg.test/ns/shop/sa/api --port 18182
"$AUTHD" --config "$T/revoke.yaml" 2>"$T/revoke.err" &
rev_pid=$!
at_exit "kill $rev_pid 2>/dev/null; wait $rev_pid 2>/dev/null"
check "revoke node becomes ready" wait_for readyz curl -fs http://127.0.0.1:15103/readyz
check_output "revoking rule 1 closes cli's open tunnel; job's keeps flowing" \
	"^cli=ok,closed job=ok,ok$" "$PY" -c '
import socket, subprocess, sys
def echo(s, b):
    s.sendall(b); got = b""
    while len(got) < len(b):
        d = s.recv(len(b) - len(got))
        if not d: return "closed"
        got += d
    return "ok" if got == b else "bad"
cli = socket.create_connection(("127.0.0.1", 19112)); cli.settimeout(10)
job = socket.create_connection(("127.0.0.1", 19113)); job.settimeout(10)
before = (echo(cli, b"a" * 1000), echo(job, b"b" * 1000))
subprocess.run([sys.argv[1], "policy", "revoke", "--store", sys.argv[2], "1"], check=True,
               stdout=subprocess.DEVNULL)
after_cli = "closed" if cli.recv(1) == b"" else "open"
after_job = echo(job, b"c" * 1000)
print("cli=%s,%s job=%s,%s" % (before[0], after_cli, before[1], after_job))' "$AUTHCTL" "$T/rstate/store.mdb"
check "a new cli connection is refused too" bash -c '! curl -fs --max-time 5 http://127.0.0.1:19112/'
check_output "the revoked tunnel is logged as such" \
	'"src":"spiffe://cfg.test/ns/shop/sa/cli".*"decision":"revoked","rule":1,"reason":"no-rule","end":"revoked"' \
	cat "$T/revoke.log"
check_output "and counted" '^authd_connections_total\{direction="inbound",decision="revoked",reason="no-rule"\} 1$' \
	curl -s http://127.0.0.1:15103/metrics
check_output "the diagnostics name the rule that went" "revoked: spiffe://cfg.test/ns/shop/sa/cli -> spiffe://cfg.test/ns/shop/sa/api :18182 \(rule #1 no longer allows it" \
	cat "$T/revoke.err"
kill -TERM $rev_pid
rc=0; wait $rev_pid || rc=$?
check_eq "revoke node exits 0 on SIGTERM" "$rc" 0

# ---- SIGTERM drains: established tunnels keep flowing, new ones are refused,
# ---- the deadline closes what is left, then exit 0 -----------------------------
cat >"$T/drain.yaml" <<EOF
trust_domain: cfg.test
state_dir: $T/dstate
ca_dir: $T/ca
admin: 127.0.0.1:15102
access_log: $T/drain.log
limits:
  drain_timeout: 3s
workloads:
  - name: api
    namespace: shop
    listen: 127.0.0.1:15110
    apps: [127.0.0.1:18182]
  - name: cli
    namespace: shop
    upstreams:
      - listen: 127.0.0.1:19110
        peer: 127.0.0.1:15110
        target: 127.0.0.1:18182
EOF
mkdir -p "$T/dstate"
"$AUTHCTL" policy allow --store "$T/dstate/store.mdb" --from spiffe://cfg.test/ns/shop/sa/cli \
	--to spiffe://cfg.test/ns/shop/sa/api --port 18182 >/dev/null
"$AUTHD" --config "$T/drain.yaml" 2>"$T/drain.err" &
drain_pid=$!
export DRAIN_PID=$drain_pid
at_exit "kill $drain_pid 2>/dev/null; wait $drain_pid 2>/dev/null"
check "drain node becomes ready" wait_for readyz curl -fs http://127.0.0.1:15102/readyz
# One tunnel echoes, SIGTERM arrives, it still echoes; a new connection is
# refused (ECONNREFUSED); then it idles past the drain deadline and is closed; authd exits 0.
check_output "a tunnel keeps flowing through a drain, new ones are refused, the deadline ends it" \
	"^before=ok during=ok new=refused after=closed$" "$PY" -c '
import os, signal, socket, time
pid = int(os.environ["DRAIN_PID"])
s = socket.create_connection(("127.0.0.1", 19110)); s.settimeout(5)
def echo(b):
    s.sendall(b); got = b""
    while len(got) < len(b): got += s.recv(len(b) - len(got))
    return "ok" if got == b else "bad"
before = echo(b"one")
os.kill(pid, signal.SIGTERM); time.sleep(0.5)
during = echo(b"two")
# Refused at once (the listening socket is gone), not left in a backlog.
try:
    n = socket.create_connection(("127.0.0.1", 19110), timeout=2); n.settimeout(2)
    new = "accepted-then-closed" if n.recv(1) == b"" else "open"
except ConnectionRefusedError:
    new = "refused"
except OSError as e:
    new = type(e).__name__
s.settimeout(10)
after = "closed" if s.recv(1) == b"" else "open"
print("before=%s during=%s new=%s after=%s" % (before, during, new, after))'
rc=0; wait $drain_pid || rc=$?
check_eq "the drained node exits 0" "$rc" 0
check_output "the deadline closed the last tunnel" '"end":"drain-deadline"' cat "$T/drain.log"
check_output "the drain is logged" "drain deadline: closing 2 connections" cat "$T/drain.err"
finish
