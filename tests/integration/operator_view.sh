#!/usr/bin/env bash
# What an operator sees (issue 11, points 10-12):
#   - a registry workload authd refuses (its listener overlaps a served one,
#     its name is also in the config file, its upstream id= is outside the
#     trust domain) is named with the reason in /readyz (503), /workloads,
#     /metrics and the registry (authctl workload list), and clears when fixed;
#   - a failed SIGHUP reload is counted in /metrics and shown, with its time
#     and reason, on /readyz's body while it still answers 200;
#   - the optional probe listener serves /healthz, /readyz and /metrics on a
#     non-loopback address, never /workloads; the admin API stays on loopback.
# Fixed ports: in a network namespace of its own, with a veth pair
# for the non-loopback address.
T_PRIVATE_NETNS=1
. "$(dirname "$0")/../lib/testlib.sh"
AUTHD=${AUTHD:-$ROOT/$BUILD/authd}
[ -x "$AUTHD" ] || { echo "operator_view: $AUTHD not built"; exit 1; }
TD=ops.test
NODE_IP=10.77.0.1
ADMIN=http://127.0.0.1:15000
PROBES=http://$NODE_IP:15021
STORE=$T/state/store.mdb

ip link add d0 type veth peer name d1 && ip addr add "$NODE_IP/24" dev d0 &&
	ip link set d1 up && ip link set d0 up ||
	{ fail "cannot make a veth pair"; finish; }
"$AUTHCTL" ca init --dir "$T/state/ca" --trust-domain "$TD" >/dev/null
config() {
	cat <<YAML
trust_domain: $TD
state_dir: $T/state
admin: 127.0.0.1:15000
probes: $NODE_IP:15021
access_log: off
workloads:
  - name: api
    namespace: shop
    listen: 127.0.0.1:15201
    apps: [127.0.0.1:17201]
YAML
}
config >"$T/authd.yaml"
"$AUTHD" --config "$T/authd.yaml" >"$T/authd.log" 2>&1 &
pid=$!
at_exit "kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null"
at_exit '[ "$T_FAIL" -eq 0 ] || tail -30 "$T/authd.log" >&2'
ready() { curl -fs -m 5 "$ADMIN/readyz" >/dev/null; }
not_ready() { ! ready; }
readyz_says() { curl -s -m 5 "$ADMIN/readyz" | grep -qF -- "$1"; }
metric() { curl -s -m 5 "$ADMIN/metrics" | grep -E "^$1 " | awk '{print $2}'; }
check "authd becomes ready" wait_for ready ready

# ---- 12: the probe listener ------------------------------------------------------
check_output "probes: /readyz on the node's address" "^ready$" curl -fs -m 5 "$PROBES/readyz"
check_output "probes: /healthz" "^ok$" curl -fs -m 5 "$PROBES/healthz"
check_output "probes: /metrics" "^authd_ready 1$" curl -fs -m 5 "$PROBES/metrics"
check_output "probes: never /workloads (404)" "^404$" \
	curl -s -m 5 -o /dev/null -w '%{http_code}' "$PROBES/workloads"
check_output "the admin API keeps /workloads on loopback" '"name":"api"' curl -fs -m 5 "$ADMIN/workloads"
check_fails "and is not on the node's address" curl -fs -m 2 "http://$NODE_IP:15000/workloads"
check_exit "an admin listener off loopback is refused (exit 3)" 3 \
	timeout 20 "$AUTHD" --config "$T/authd.yaml" --store "$T/other.mdb" --admin "$NODE_IP:15001" --probes off
printf 'trust_domain: %s\nstate_dir: %s\nca_dir: %s\naccess_log: off\nadmin: unix:%s\n' \
	"$TD" "$T/s3" "$T/state/ca" "$T/admin.sock" >"$T/unix.yaml"
"$AUTHD" --config "$T/unix.yaml" >"$T/unix.log" 2>&1 &
upid=$!
at_exit "kill -9 $upid 2>/dev/null; wait $upid 2>/dev/null"
check "the admin API on a unix socket" wait_for "unix admin" \
	curl -fs -m 5 --unix-socket "$T/admin.sock" http://localhost/readyz
check_output "serves /workloads there" '^\[\]$' curl -fs -m 5 --unix-socket "$T/admin.sock" http://localhost/workloads
check_output "its socket file is owner-only" "^srw-------$" stat -c %A "$T/admin.sock"
kill -TERM "$upid"
wait "$upid"
check "and is removed when authd exits" test ! -e "$T/admin.sock"
check_exit "a unix --probes is refused (exit 2)" 2 "$AUTHD" --config "$T/authd.yaml" --probes unix:/tmp/p.sock
printf 'trust_domain: %s\nstate_dir: %s\nadmin: 127.0.0.1:15000\nprobes: 127.0.0.1:15000\n' "$TD" "$T/s2" >"$T/same.yaml"
check_output "probes on the admin address is a config error" "probes: 127.0.0.1:15000 is the admin address" \
	"$AUTHD" --config "$T/same.yaml"

# ---- 11: a failed reload --------------------------------------------------------
printf 'trust_domain: %s\nlimits:\n  idle_timeout: 0s\n' "$TD" >"$T/broken.yaml"
cp "$T/broken.yaml" "$T/authd.yaml"
kill -HUP "$pid"
check "a broken config on SIGHUP is counted as failed" wait_for "reload counted" \
	bash -c "curl -s $ADMIN/metrics | grep -qx 'authd_config_reloads_total{result=\"failed\"} 1'"
check_eq "authd_config_last_reload_successful is 0" "$(metric authd_config_last_reload_successful)" 0
check "/readyz still answers 200" ready
check_output "and its body names the failure, its time and reason" \
	"^last reload failed at 20[0-9-]{8}T[0-9:]{8}Z: $T/authd.yaml: line 3: limits.idle_timeout.*\(running configuration kept\)$" \
	curl -s -m 5 "$ADMIN/readyz"
check_output "the probe listener shows it too" "^last reload failed at" curl -s -m 5 "$PROBES/readyz"
config >"$T/authd.yaml"
kill -HUP "$pid"
check "a good config on SIGHUP is counted as ok" wait_for "reload counted" \
	bash -c "curl -s $ADMIN/metrics | grep -qx 'authd_config_reloads_total{result=\"ok\"} 1'"
check_eq "authd_config_last_reload_successful is 1 again" "$(metric authd_config_last_reload_successful)" 1
check_fails "/readyz no longer names a failure" readyz_says "last reload failed"

# ---- 10: refused registry workloads ----------------------------------------------
check_eq "no workload refused yet" "$(metric authd_workloads_refused)" 0
check "a registry workload on api's listen address (authctl cannot know the file)" \
	"$AUTHCTL" workload add thief --namespace shop --store "$STORE" --listen 0.0.0.0:15201 --app 127.0.0.1:17202
check "is refused: /readyz 503" wait_for "not ready" not_ready
check "/readyz names it and why" readyz_says \
	"shop/thief: not served: listen 0.0.0.0:15201 overlaps a listener of shop/api"
check_output "/workloads lists it as refused" \
	'"name":"thief","namespace":"shop","source":"registry","refused":"listen 0.0.0.0:15201 overlaps a listener of shop/api"' \
	curl -fs -m 5 "$ADMIN/workloads"
check_output "/workloads says served ones are not refused" '"name":"api".*"refused":null' curl -fs -m 5 "$ADMIN/workloads"
check_eq "/metrics counts it" "$(metric authd_workloads_refused)" 1
check "a registry workload with the config file's name" \
	"$AUTHCTL" workload add api --namespace shop --store "$STORE" --listen 127.0.0.1:15203 --app 127.0.0.1:17203
check "is refused: the file wins" wait_for "refusal" readyz_says \
	"shop/api: not served: the config file has a workload of this name (the file wins)"
check "api from the file is still served" bash -c "curl -s $ADMIN/workloads | grep -q '\"name\":\"api\",\"namespace\":\"shop\",\"service_account\"'"
check "both are recorded in the registry" wait_for "registry" bash -c \
	"'$AUTHCTL' workload show thief --namespace shop --store '$STORE' | grep -q 'overlaps a listener of shop/api'"
check_output "workload show says authd refuses it and why" \
	"^refused          listen 0.0.0.0:15201 overlaps a listener of shop/api \(authd does not serve it; reported 20" \
	"$AUTHCTL" workload show thief --namespace shop --store "$STORE"
"$AUTHCTL" workload list --store "$STORE" >"$T/list.txt" 2>&1
check_output "workload list marks both REFUSED" "^shop/thief .* REFUSED" cat "$T/list.txt"
check_output "with the reason under each row" \
	"^  refused by authd: the config file has a workload of this name \(the file wins\)$" cat "$T/list.txt"
check_output "workload list -o json has the reason" \
	"^shop/thief listen 0.0.0.0:15201 overlaps a listener of shop/api None$" bash -c \
	"'$AUTHCTL' workload list -o json --store '$STORE' | '$PY' -c 'import json,sys; [print(w[\"namespace\"]+\"/\"+w[\"name\"], w[\"refused\"], w[\"svid\"]) for w in json.load(sys.stdin) if w[\"name\"]==\"thief\"]'"
check_exit "ca status: a refused workload needs attention (exit 1)" 1 \
	"$AUTHCTL" ca status --dir "$T/state/ca" --store "$STORE"
cp "$T/.out" "$T/status.txt"
check_output "it lists the workload as refused, with the reason" \
	"shop/thief +refused by authd: listen 0.0.0.0:15201 overlaps" cat "$T/status.txt"
check_output "and warns" "^warning: 2 workloads refused by authd" cat "$T/status.txt"
check_output "the config error names its file once" "^authd: [^ ]*/broken.yaml: line 3: limits" \
	"$AUTHD" --config "$T/broken.yaml"
check "authctl workload rm the name clash" "$AUTHCTL" workload rm api --namespace shop --store "$STORE"
check "authctl workload rm the overlap" "$AUTHCTL" workload rm thief --namespace shop --store "$STORE"
check "ready again" wait_for ready ready
check_eq "nothing refused" "$(metric authd_workloads_refused)" 0
check "and the log says each refusal cleared" grep -q "shop/thief: no longer refused" "$T/authd.log"

kill -TERM "$pid"
wait "$pid"
check_eq "authd drains and exits 0" "$?" 0
finish
