#!/usr/bin/env bash
# Faults authd serves through (issue 5): a full disk under the store and the
# access log, and a store that outgrew authd's map. Each gets a clear error,
# authd keeps serving with what it had, /readyz says why, and it recovers
# when the fault goes. The disk is a small tmpfs (we run as root).
# Fixed ports (the dev node's too): in a network namespace of its own.
T_PRIVATE_NETNS=1
. "$(dirname "$0")/../lib/testlib.sh"
AUTHD=${AUTHD:-$ROOT/$BUILD/authd}
APP=${APP_TOOL:-$ROOT/$BUILD/tools/app_tool}
[ -x "$AUTHD" ] || { echo "faults: $AUTHD not built"; exit 1; }
at_exit '[ "$T_FAIL" -eq 0 ] || { for f in "$T"/authd*.err; do echo "--- $f"; tail -40 "$f"; done; } >&2'

ADMIN=http://127.0.0.1:15290
"$AUTHCTL" ca init --dir "$T/ca" --trust-domain faults.test >/dev/null
"$APP" echo 18290 >"$T/echo.log" 2>&1 &
echo_pid=$!
at_exit "kill $echo_pid 2>/dev/null; wait $echo_pid 2>/dev/null"

# echo_through PORT WORD: "ok" when WORD comes back through the tunnel at PORT.
echo_through() { "$PY" "$ROOT/tests/lib/mesh_client.py" echo "127.0.0.1:$1" "$2"; }
readyz() { curl -s "$ADMIN/readyz"; }
# write_config DIR [EXTRA]: api (inbound) and cli (outbound) under state DIR.
write_config() {
	cat >"$T/authd.yaml" <<EOF
trust_domain: faults.test
state_dir: $1
ca_dir: $T/ca
admin: 127.0.0.1:15290
access_log: $1/access.log
svid_ttl: 6s
${2:-}
workloads:
  - name: api
    namespace: shop
    listen: 127.0.0.1:15291
    apps: [127.0.0.1:18290]
EOF
}
# seed_store: cli -> api allowed, and cli in the registry (so authd writes
# its SVID status back on every renewal).
seed_store() {
	"$AUTHCTL" policy allow --store "$STORE" --from spiffe://faults.test/ns/shop/sa/cli \
		--to spiffe://faults.test/ns/shop/sa/api --port 18290 >/dev/null &&
		"$AUTHCTL" workload add cli --namespace shop --store "$STORE" \
			--upstream listen=127.0.0.1:19290,peer=127.0.0.1:15291,target=127.0.0.1:18290 >/dev/null
}
start_authd() { # start_authd LOGNAME
	"$AUTHD" --config "$T/authd.yaml" 2>"$T/$1.err" &
	pid=$!
	at_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
}
stop_authd() {
	kill -TERM "$pid" 2>/dev/null
	rc=0; wait "$pid" || rc=$?
}

# ---- A full disk --------------------------------------------------------------------------
D=$T/disk
mkdir -p "$D"
check "a 16 MiB tmpfs for the store and the access log" mount -t tmpfs -o size=16m tmpfs "$D"
at_exit "umount -l '$D' 2>/dev/null"
write_config "$D"
STORE=$D/store.mdb
check "a store with cli -> api and cli registered" seed_store
start_authd authd
check "authd on the small disk becomes ready" wait_for readyz curl -fs "$ADMIN/readyz"
check_eq "a tunnel works" "$(echo_through 19290 before)" ok
check "and is logged" wait_for "log line" grep -q '"decision":"allow"' "$D/access.log"
"$AUTHCTL" policy export --store "$STORE" >"$T/export.before"

# Fill the disk to the last block.
dd if=/dev/zero of="$D/fill" bs=64k 2>/dev/null
check_fails "the disk is full" dd if=/dev/zero of="$D/more" bs=4k count=1
check_eq "authd keeps serving on a full disk" "$(echo_through 19290 full)" ok
# The log's last page may still take a few lines; tunnels go on until it is full.
log_full() {
	local i
	for i in $(seq 1 40); do
		[ "$(echo_through 19290 fill)" = ok ] || return 1
		sleep 0.1
		curl -s "$ADMIN/readyz" | grep -q 'access log: write failed: No space left on device' && return 0
	done
	return 1
}
check "/readyz says the access log cannot be written, while tunnels go on" log_full
check_exit "and answers 503" 22 curl -fs "$ADMIN/readyz"
check_output "lost lines are counted" '^authd_access_log_lost_total [1-9]' curl -s "$ADMIN/metrics"
check_output "authd_ready says 0" '^authd_ready 0$' curl -s "$ADMIN/metrics"
{
	printf 'apiVersion: authd.io/v1\nkind: AllowList\nspec:\n  rules:\n'
	for i in $(seq 1 3000); do
		printf '    - {from: "spiffe://faults.test/ns/load/sa/c%s", to: "spiffe://faults.test/ns/shop/sa/api", ports: "18290"}\n' "$i"
	done
} >"$T/big.yaml"
check_output "a policy write on the full disk fails with the reason" "No space left on device" \
	"$AUTHCTL" policy apply --store "$STORE" -f "$T/big.yaml"
"$AUTHCTL" policy export --store "$STORE" >"$T/export.after"
check "and leaves the store as it was" cmp -s "$T/export.before" "$T/export.after"
check_output "which is still consistent" "^consistent" "$AUTHCTL" policy verify-db --store "$STORE"
check_eq "a new tunnel still works (policy is read, not written)" "$(echo_through 19290 still)" ok
# 6 s SVIDs renew every ~3 s; each renewal of cli writes its status.
check "/readyz says the renewed SVID's status cannot be recorded" wait_for readyz bash -c \
	"curl -s $ADMIN/readyz | grep -q 'store: cannot record the SVID of shop/cli: No space left on device'"
check_eq "tunnels work across the renewal" "$(echo_through 19290 renewed)" ok
check_fails "authd did not crash" bash -c "! kill -0 $pid"

rm -f "$D/fill"
echo_through 19290 freed >/dev/null	# a line the log can take now
check "space again: /readyz is 200 once a line is written and the status recorded" \
	wait_for readyz curl -fs "$ADMIN/readyz"
check "the access log takes lines again" wait_for "freed line" grep -q '"bytes_in":5,' "$D/access.log"
# cli's serial as authd serves it and as the registry has it.
serials_match() {
	local served stored
	served=$(curl -s "$ADMIN/workloads" | "$PY" -c 'import json,sys; print([w["svid"]["serial"] for w in json.load(sys.stdin) if w["name"]=="cli"][0])')
	stored=$("$AUTHCTL" workload list --json --store "$STORE" | "$PY" -c 'import json,sys; print([w["svid"]["serial"] for w in json.load(sys.stdin) if w["name"]=="cli"][0])')
	[ -n "$served" ] && [ "$served" = "$stored" ]
}
check "the registry has cli's current SVID again" wait_for "serials" serials_match
check "the store is consistent" "$AUTHCTL" policy verify-db --store "$STORE"
stop_authd
check_eq "authd exits 0 on SIGTERM" "$rc" 0

# ---- A store that outgrew authd's map -----------------------------------------------------
# authd maps the store once (store_map_size) and never remaps: its loops read
# on several threads. A store grown past that by authctl is refused, not
# followed: existing tunnels flow, new ones are refused, /readyz says why.
S=$T/state
mkdir -p "$S"
write_config "$S" "store_map_size: 1MiB"
STORE=$S/store.mdb
check "a store with cli -> api and cli registered" seed_store
start_authd authd2
check "authd with a 1 MiB map becomes ready" wait_for readyz curl -fs "$ADMIN/readyz"
check_output "its map is reported" '^authd_store_bytes\{kind="map"\} 1048576$' curl -s "$ADMIN/metrics"
exec 7<>/dev/tcp/127.0.0.1/19290
printf 'held' >&7
check_eq "a tunnel opened before" "$(head -c 4 <&7)" held
{
	cat "$T/big.yaml"
	printf '    - {from: "spiffe://faults.test/ns/shop/sa/cli", to: "spiffe://faults.test/ns/shop/sa/api", ports: "18290"}\n'
	for i in $(seq 3001 6000); do
		printf '    - {from: "spiffe://faults.test/ns/load/sa/c%s", to: "spiffe://faults.test/ns/shop/sa/api", ports: "18290"}\n' "$i"
	done
} >"$T/bigger.yaml"
check "authctl grows the store past 1 MiB (6001 rules, cli's kept)" \
	"$AUTHCTL" policy apply --store "$STORE" -f "$T/bigger.yaml"
check_output "it is past 1 MiB" "consistent: 6001 rules, revision 2, ([2-9][0-9]{6}|1[1-9][0-9]{5}|10[5-9][0-9]{4}) bytes" \
	"$AUTHCTL" policy verify-db --store "$STORE"
check "/readyz names the fault and the fix" wait_for readyz bash -c \
	"curl -s $ADMIN/readyz | grep -q \"store: cannot read $STORE: the store grew past this process's map size (authd: raise store_map_size and restart)\""
check_exit "and answers 503" 22 curl -fs "$ADMIN/readyz"
printf 'more' >&7
check_eq "the tunnel opened before keeps flowing" "$(head -c 4 <&7)" more
check_output "a new tunnel is refused: policy cannot be read" "^(closed|error)" echo_through 19290 new
check_output "counted as policy-unavailable" \
	'^authd_connections_total\{direction="inbound",decision="error",reason="policy-unavailable"\} [1-9]' \
	curl -s "$ADMIN/metrics"
exec 7>&-
check_fails "authd did not crash" bash -c "! kill -0 $pid"
stop_authd
check_eq "authd exits 0 on SIGTERM" "$rc" 0
write_config "$S" "store_map_size: 64MiB"
start_authd authd3
check "restarted with a larger store_map_size it is ready" wait_for readyz curl -fs "$ADMIN/readyz"
check_eq "and tunnels work again" "$(echo_through 19290 again)" ok
stop_authd
finish
