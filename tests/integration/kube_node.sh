#!/usr/bin/env bash
# authd as a Kubernetes node agent against a real kube-apiserver (v1.20,
# tests/lib/kube.sh) with the real deploy/ CRD and RBAC, authd (ASan build)
# authenticating with its service account's token:
#   - node-a's authd enrolls exactly node-a's enrolled, running pods (by
#     namespace label or pod label; a pod label "disabled" opts out; not
#     running, hostNetwork and node-b's pods never), issues their SVIDs and
#     retires deleted pods: SVID gone, listener closed;
#   - an operator's workload is never touched by the pod sync;
#   - AllowLists applied, changed and deleted: the store holds their union;
#     deleting the one that allows a live tunnel closes it, as a revoke does;
#     an AllowList the schema refuses never reaches authd, one it lets
#     through but the policy parser refuses changes nothing and is reported
#     as an Event;
#   - "too old": with the watch cache off, etcd compacted while authd is
#     stopped (SIGSTOP), it relists and converges without losing or doubling
#     a workload; the API server restarted under it: it reconnects.
# Its own network namespace: authd's admin port is fixed.
T_PRIVATE_NETNS=1
. "$(dirname "$0")/../lib/testlib.sh"
. "$ROOT/tests/lib/kube.sh"
AUTHD=${AUTHD:-$ROOT/$BUILD/authd}
APP=${APP_TOOL:-$ROOT/$BUILD/tools/app_tool}
MC=$ROOT/tests/lib/mesh_client.py
TD=cluster.test
ADMIN=http://127.0.0.1:15000
STORE=$T/state/store.mdb

export KUBE_WATCH_CACHE=false
kube_start || { fail "the API server does not start"; finish; }
check "the AllowList CRD from deploy/ is created" kubectl apply -f "$ROOT/deploy/crd-allowlist.yaml"
check "deploy/'s namespace, service account and RBAC are created" \
	kubectl apply -f "$ROOT/deploy/namespace.yaml" -f "$ROOT/deploy/serviceaccount.yaml" -f "$ROOT/deploy/rbac.yaml"
check "the CRD is established" kubectl wait --for condition=established --timeout=60s crd/allowlists.authd.io
kube_sa_token authd authd >"$T/token" || fail "no token for authd/authd"

# ns NAME [LABEL=VALUE]
ns() {
	kubectl create namespace "$1" >/dev/null && { [ -z "${2:-}" ] || kubectl label namespace "$1" "$2" >/dev/null; }
}
# pod NS NAME NODE [labels-json] [annotations-json] [ports-json] [hostNetwork]: created, not yet running.
pod() {
	jq -n --arg ns "$1" --arg name "$2" --arg node "$3" --argjson labels "${4:-{\}}" \
		--argjson ann "${5:-{\}}" --argjson ports "${6:-[]}" --argjson hn "${7:-false}" \
		'{apiVersion:"v1",kind:"Pod",metadata:{name:$name,namespace:$ns,labels:$labels,annotations:$ann},
		  spec:{nodeName:$node,serviceAccountName:"app",hostNetwork:$hn,
			containers:[{name:"app",image:"app:1",ports:$ports}]}}' >"$T/pod.json"
	kubectl create -f "$T/pod.json" >/dev/null
}
ns shop authd.io/mesh=enabled
ns other
ns lab authd.io/mesh=enabled
pod shop web-1 node-a && kube_pod_running shop web-1 10.1.0.11
pod shop web-b node-b && kube_pod_running shop web-b 10.1.0.12
pod other plain node-a && kube_pod_running other plain 10.1.0.13
pod other joined node-a '{"authd.io/mesh":"enabled"}' && kube_pod_running other joined 10.1.0.14
pod lab opted-out node-a '{"authd.io/mesh":"disabled"}' && kube_pod_running lab opted-out 10.1.0.15
pod shop pending node-a
pod shop on-host node-a '{}' '{}' '[]' true && kube_pod_running shop on-host 10.0.0.1

"$AUTHCTL" ca init --dir "$T/state/ca" --trust-domain "$TD" >/dev/null
cat >"$T/authd.yaml" <<YAML
trust_domain: $TD
state_dir: $T/state
admin: 127.0.0.1:15000
access_log: $T/access.log
svid_ttl: 1h
kubernetes:
  server: $KUBE_URL
  ca_file: $KUBE_CA
  token_file: $T/token
  node_name: node-a
workloads:
  - name: client
    namespace: ops
    upstreams:
      - listen: 127.0.0.1:9100
        peer: 127.0.0.1:15301
        target: 127.0.0.1:18080
YAML
# An operator's workload in the registry: the pod sync must leave it alone.
check "an operator's workload is registered" "$AUTHCTL" workload add batch --namespace ops \
	--store "$STORE" --ca-dir "$T/state/ca"
"$AUTHD" --config "$T/authd.yaml" >"$T/authd.log" 2>&1 &
pid=$!
at_exit "kill -CONT $pid 2>/dev/null; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null"
at_exit '[ "$T_FAIL" -eq 0 ] || tail -40 "$T/authd.log" >&2'
ready() { curl -fs -m 5 "$ADMIN/readyz" >/dev/null; }
check "authd lists pods, namespaces and AllowLists and becomes ready" wait_for ready ready

# The pod workloads in the registry, "NS/NAME" sorted, one line.
pod_workloads() {
	"$AUTHCTL" workload list --store "$STORE" -o json | jq -r '[.[] | "\(.namespace)/\(.name)"] | sort | join(" ")'
}
has_workloads() { [ "$(pod_workloads)" = "$1" ]; }
check "exactly node-a's enrolled running pods, and the operator's workloads" \
	wait_for "workloads" has_workloads "ops/batch other/joined shop/web-1"
check_output "the log names the pod and its identity" \
	"pod shop/web-1 enrolled as spiffe://$TD/ns/shop/sa/app" cat "$T/authd.log"
svid_of() {
	curl -fs -m 5 "$ADMIN/workloads" |
		jq -er --arg k "$1" '.[] | select(.namespace + "/" + .name == $k and .svid != null) | .spiffe_id'
}
svid_issued() { [ "$(svid_of "$1")" = "$2" ]; }
check "shop/web-1 is served with its SVID" wait_for "svid" svid_issued shop/web-1 "spiffe://$TD/ns/shop/sa/app"
check "other/joined is served with its SVID" wait_for "svid" svid_issued other/joined "spiffe://$TD/ns/other/sa/app"

# A pod with a mesh listener; the operator's client reaches it through its upstream.
"$APP" echo 18080 >"$T/app.log" 2>&1 &
app=$!
at_exit "kill $app 2>/dev/null"
pod shop api node-a '{}' '{"authd.io/listen":"127.0.0.1:15301"}' '[{"containerPort":18080},{"containerPort":53,"protocol":"UDP"}]' &&
	kube_pod_running shop api 127.0.0.1
listening() { curl -s -m 2 -o /dev/null "http://127.0.0.1:15301/" ; [ $? != 7 ]; }
check "a new pod on node-a is enrolled" wait_for "api" has_workloads "ops/batch other/joined shop/api shop/web-1"
check "its annotated mesh listener opens" wait_for "listener" listening
check_output "its app address is its pod IP and TCP port" '"127.0.0.1:18080"' curl -fs -m 5 "$ADMIN/workloads"

# ---- AllowLists ------------------------------------------------------------------
allowlist() { # NAME FROM TO PORTS
	cat <<YAML
apiVersion: authd.io/v1
kind: AllowList
metadata: {name: $1}
spec:
  rules:
    - {from: "$2", to: "$3", ports: "$4"}
YAML
}
rule_count() { "$AUTHCTL" policy list --store "$STORE" -o json | jq 'length'; }
rules_are() { [ "$(rule_count)" = "$1" ]; }
allowed() {
	"$AUTHCTL" policy check --store "$STORE" --from "$1" --to "$2" --port "$3" | grep -q '^ALLOW'
}
CLIENT=spiffe://$TD/ns/ops/sa/client
API=spiffe://$TD/ns/shop/sa/app
allowlist client-to-api "$CLIENT" "$API" 18080 >"$T/a1.yaml"
allowlist web-to-db "spiffe://$TD/ns/shop/*" "spiffe://$TD/ns/db/sa/db" 5432 >"$T/a2.yaml"
check "kubectl apply of an AllowList" kubectl apply -f "$T/a1.yaml"
check "the store holds its rule" wait_for "rule" rules_are 1
check "policy check on the node allows it" allowed "$CLIENT" "$API" 18080
check "a second AllowList" kubectl apply -f "$T/a2.yaml"
check "the store holds the union" wait_for "union" rules_are 2
check "both allow" allowed "spiffe://$TD/ns/shop/sa/web" "spiffe://$TD/ns/db/sa/db" 5432
allowlist web-to-db "spiffe://$TD/ns/shop/*" "spiffe://$TD/ns/db/sa/db" 5433 >"$T/a2.yaml"
check "an AllowList changed" kubectl apply -f "$T/a2.yaml"
check "the store follows the change" wait_for "change" allowed "spiffe://$TD/ns/shop/sa/web" "spiffe://$TD/ns/db/sa/db" 5433
check_fails "and the old port no longer" allowed "spiffe://$TD/ns/shop/sa/web" "spiffe://$TD/ns/db/sa/db" 5432
check_output "the history names who wrote it" "kubernetes \(AllowList resources\)" \
	"$AUTHCTL" policy history --store "$STORE"

# Refused by the schema: never stored, never seen by authd.
allowlist bad-to "$CLIENT" "*" 80 >"$T/bad1.yaml"
check_output "the schema refuses to: \"*\"" "Invalid value|spec.rules" kubectl apply -f "$T/bad1.yaml"
# Passed by the schema, refused by the policy parser: a reversed port range.
allowlist reversed "$CLIENT" "$API" "90-80" >"$T/bad2.yaml"
rev_before=$("$AUTHCTL" policy list --store "$STORE" -o json | jq -c '[.[].id]')
check "an AllowList the parser refuses is accepted by the API" kubectl apply -f "$T/bad2.yaml"
reported() { kubectl get events -n default -o json | jq -e '.items[] | select(.involvedObject.name == "reversed" and .reason == "InvalidPolicy")' >/dev/null; }
check "it is reported as a Warning Event on the AllowList" wait_for "event" reported
check_output "the Event says why" "spec.rules\[0\].ports" \
	sh -c 'kubectl get events -n default -o json | jq -r ".items[] | select(.involvedObject.name == \"reversed\") | .message"'
check_eq "and the store is unchanged" "$("$AUTHCTL" policy list --store "$STORE" -o json | jq -c '[.[].id]')" "$rev_before"
check_output "/metrics counts it as invalid" '^authd_kube_invalid\{resource="allowlists"\} 1$' curl -fs -m 5 "$ADMIN/metrics"

# Deleting an AllowList closes the tunnels it allowed, as a revoke does.
"$PY" "$MC" stream 127.0.0.1:9100 "$T/stop" >"$T/stream.log" 2>&1 &
at_exit "touch $T/stop"
check "a tunnel from to shop/api streams" wait_for "stream" grep -q "^opened" "$T/stream.log"
check "kubectl delete of its AllowList" kubectl delete allowlist client-to-api
check "the streaming tunnel is closed" wait_for "closed" grep -q "^closed" "$T/stream.log"
check_output "with every byte it carried intact" "^closed bytes=[1-9][0-9]* mismatches=0$" cat "$T/stream.log"
check_output "logged as revoked" '"decision":"revoked"' cat "$T/access.log"
check "the other AllowList's rule stays" rules_are 1

# ---- Deletion retires ----------------------------------------------------------------
check "kubectl delete pod shop/api" kubectl delete pod -n shop api --grace-period=0 --force --wait=false
check "its workload is retired" wait_for "retired" has_workloads "ops/batch other/joined shop/web-1"
closed() { ! listening; }
check "its mesh listener is closed" wait_for "listener closed" closed
check_fails "its SVID is no longer served" svid_of shop/api
kubectl label namespace lab authd.io/mesh- >/dev/null
check "unlabelling a namespace changes nothing for a pod that opted out" has_workloads "ops/batch other/joined shop/web-1"
kubectl label namespace other authd.io/mesh=enabled >/dev/null
check "labelling a namespace enrolls its pods" wait_for "plain" has_workloads "ops/batch other/joined other/plain shop/web-1"

# ---- Too old: relist without losing or doubling --------------------------------------
relists() { "$PY" "$MC" metric "$ADMIN/metrics" authd_kube_relists_total resource=pods reason=too-old 2>/dev/null || echo 0; }
r0=$(relists)
# authd is stopped before its watches end, so none of the changes below can
# reach it through them: it must resume from resourceVersions etcd compacted.
kill -STOP "$pid"
kube_stop_apiserver
kube_start_apiserver || fail "the API server does not come back"
pod shop web-2 node-a && kube_pod_running shop web-2 10.1.0.21
kubectl delete pod -n shop web-1 --grace-period=0 --force >/dev/null 2>&1
pod shop web-3 node-a && kube_pod_running shop web-3 10.1.0.23
kube_etcd_compact || fail "etcd compaction"
kill -CONT "$pid"
check "after the compaction authd converges on node-a's pods" \
	wait_for "converged" has_workloads "ops/batch other/joined other/plain shop/web-2 shop/web-3"
relisted() { [ "$(relists)" != "$r0" ]; }
check "through a relist for a too-old resourceVersion" relisted
check_eq "no workload twice" "$("$AUTHCTL" workload list --store "$STORE" -o json | jq '[.[].name] | length == (unique | length)')" true

# ---- The API server restarted under it ------------------------------------------------
kube_stop_apiserver
check_output "while the API server is down, /readyz still serves what it holds" \
	"^ready" curl -s -m 5 "$ADMIN/readyz"
kube_start_apiserver || fail "the API server does not come back"
pod shop web-4 node-a && kube_pod_running shop web-4 10.1.0.24
check "after the restart it reconnects and sees new pods" \
	wait_for "web-4" has_workloads "ops/batch other/joined other/plain shop/web-2 shop/web-3 shop/web-4"

kill -TERM "$pid"
wait "$pid"
check_eq "authd exits cleanly (ASan: no leak)" "$?" 0
finish
