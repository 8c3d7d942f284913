#!/usr/bin/env bash
# authd owns its listeners alone (issue 11, point 1). Every listen address
# is one socket bound without SO_REUSEPORT (authd/bound.h), so:
#   - a second authd (another store, another trust domain) whose workload
#     listens on a served address refuses to start: exit 3, the address named;
#   - a plain process of the same user cannot join with SO_REUSEPORT, on the
#     address or on the wildcard;
#   - every connection reaches the first authd, with two event loops
#     accepting on the one socket;
#   - a registry workload whose address another process serves is refused
#     (named in /readyz, retried), and served once the address is free; a
#     unix socket that a live authd answers on is never taken, one left by a
#     killed authd is.
# Fixed loopback ports: in a network namespace of its own.
T_PRIVATE_NETNS=1
. "$(dirname "$0")/../lib/testlib.sh"
AUTHD=${AUTHD:-$ROOT/$BUILD/authd}
[ -x "$AUTHD" ] || { echo "listener_owner: $AUTHD not built"; exit 1; }
MESH=127.0.0.1:15101
PORT=${MESH##*:}
SOCK=$T/up.sock

# config N TD: node N's authd.yaml head (its own state, CA and admin port).
config() {
	cat <<YAML
trust_domain: $2
state_dir: $T/n$1
ca_dir: $T/ca$1
admin: 127.0.0.1:1500$1
access_log: off
workers: 2
workloads:
YAML
}
# served_id: the URI SAN of the certificate the mesh listener on $MESH presents.
served_id() {
	openssl s_client -connect "$MESH" -tls1_3 </dev/null 2>/dev/null |
		openssl x509 -noout -ext subjectAltName 2>/dev/null | grep -o 'spiffe://[^, ]*'
}
# $T/reuseport.py HOST PORT: bind and listen with SO_REUSEADDR and SO_REUSEPORT, as any process may.
cat >"$T/reuseport.py" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
try:
    s.bind((sys.argv[1], int(sys.argv[2])))
    s.listen()
except OSError as e:
    print(e.strerror)
    sys.exit(1)
print("bound")
PY
readyz() { curl -s -m 5 "http://127.0.0.1:1500$1/readyz"; }
ready() { curl -fs -m 5 "http://127.0.0.1:1500$1/readyz" >/dev/null; }

for n in 1 2; do
	"$AUTHCTL" ca init --dir "$T/ca$n" --trust-domain "t$n.test" >/dev/null
done
{
	config 1 t1.test
	cat <<YAML
  - name: svc
    namespace: one
    listen: $MESH
    apps: [127.0.0.1:17101]
    upstreams:
      - listen: unix:$SOCK
        peer: 127.0.0.1:15199
        target: 127.0.0.1:80
YAML
} >"$T/one.yaml"
"$AUTHD" --config "$T/one.yaml" >"$T/one.log" 2>&1 &
one=$!
at_exit "kill -9 $one 2>/dev/null; wait $one 2>/dev/null"
check "the first authd becomes ready" wait_for ready ready 1

# ---- A second authd on the same address ----------------------------------------
{
	config 2 t2.test
	cat <<YAML
  - name: thief
    namespace: two
    listen: $MESH
    apps: [127.0.0.1:17102]
YAML
} >"$T/two.yaml"
check_exit "a second authd with a workload on a served address exits 3" 3 \
	timeout 30 "$AUTHD" --config "$T/two.yaml"
check_output "and names the address and why" \
	"two/thief \(config file\): not served: listen $MESH: Address already in use \(another process serves it\)" \
	timeout 30 "$AUTHD" --config "$T/two.yaml"
{
	config 2 t2.test
	cat <<YAML
  - name: thief
    namespace: two
    upstreams:
      - listen: unix:$SOCK
        peer: 127.0.0.1:15199
        target: 127.0.0.1:80
YAML
} >"$T/two-unix.yaml"
check_output "a unix socket the first authd answers on is not taken either" \
	"listen unix:$SOCK: Address already in use" timeout 30 "$AUTHD" --config "$T/two-unix.yaml"
check "and the first authd's socket is still there" test -S "$SOCK"

# ---- Plain SO_REUSEPORT listeners of the same user -------------------------------
check_output "SO_REUSEPORT on the served address is refused" "^Address already in use$" \
	"$PY" "$T/reuseport.py" 127.0.0.1 "$PORT"
check_output "so is SO_REUSEPORT on the wildcard" "^Address already in use$" \
	"$PY" "$T/reuseport.py" 0.0.0.0 "$PORT"

# ---- Every connection reaches the first authd ----------------------------------
ids=$(for i in $(seq 1 12); do served_id; done | sort | uniq -c | tr -s ' ')
check_eq "12 connections, all to the first authd's identity" "$ids" " 12 spiffe://t1.test/ns/one/sa/svc"
check_output "its two event loops listen on one socket" "^1$" \
	bash -c "ss -Hltn 'sport = :$PORT' | wc -l"

# ---- A registry workload on an address another process serves ------------------
{
	config 2 t2.test
	cat <<YAML
  - name: own
    namespace: two
    listen: 127.0.0.1:15102
    apps: [127.0.0.1:17102]
YAML
} >"$T/two-ok.yaml"
"$AUTHD" --config "$T/two-ok.yaml" >"$T/two.log" 2>&1 &
two=$!
at_exit "kill -9 $two 2>/dev/null; wait $two 2>/dev/null"
check "a second authd with free addresses starts" wait_for ready ready 2
check "authctl adds a registry workload on the first authd's addresses" \
	"$AUTHCTL" workload add thief --namespace two --store "$T/n2/store.mdb" --listen "$MESH" \
	--app 127.0.0.1:17102 --upstream "listen=unix:$SOCK,peer=127.0.0.1:15199,target=127.0.0.1:80"
check "the second authd refuses it, naming the address" wait_for "refusal" grep -q \
	"two/thief (registry): not served: listen $MESH: Address already in use (another process serves it)" "$T/two.log"
check_output "its /readyz names the refusal" "two/thief: not served: listen $MESH: Address already in use" readyz 2
check_eq "connections still reach the first authd" "$(served_id)" "spiffe://t1.test/ns/one/sa/svc"
check "the refusal is logged once, not on every retry" \
	bash -c "sleep 2.5; [ \$(grep -c 'two/thief (registry): not served' '$T/two.log') = 1 ]"

# The first authd is killed: its unix socket file stays behind, nobody answers it.
kill -9 "$one"
wait "$one" 2>/dev/null
check "a killed authd leaves its unix socket file" test -S "$SOCK"
check "the second authd then serves the address (retried on its tick)" wait_for ready ready 2
check_eq "connections now reach its workload" "$(served_id)" "spiffe://t2.test/ns/two/sa/thief"
check "and it replaced the dead unix socket" "$PY" -c \
	"import socket; s=socket.socket(socket.AF_UNIX); s.connect('$SOCK')"
check "the second authd logs that the refusal cleared" grep -q "two/thief: no longer refused" "$T/two.log"

kill -TERM "$two"
wait "$two"
check_eq "the second authd drains and exits 0" "$?" 0
check "its unix socket is removed at exit" test ! -e "$SOCK"
finish
