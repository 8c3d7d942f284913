#!/usr/bin/env bash
# The Kubernetes test harness (tests/lib/kube.sh) and the API facts authd's
# node agent relies on, checked against a real kube-apiserver v1.20.2 and etcd:
#   - the apiserver serves an RSA certificate, over TLS 1.3;
#   - a LIST filtered on spec.nodeName returns only that node's pods, and a
#     WATCH with bookmarks delivers only that node's events;
#   - after an etcd compaction (watch cache off), a WATCH from an old
#     resourceVersion is answered HTTP 200 with an in-stream ERROR event,
#     code 410, reason Expired; an Exact LIST at that version gets HTTP 410;
#   - authd's service account, with the DaemonSet's RBAC, may read pods and
#     namespaces and create events, but not write pods or touch secrets; a
#     token for another audience is refused (401);
#   - restarting the apiserver keeps the data.
# All ports are picked free on 127.0.0.1: no network namespace needed.
. "$(dirname "$0")/../lib/testlib.sh"
. "$(dirname "$0")/../lib/kube.sh"

kube_start || { fail "the control plane starts"; finish; }
pass "etcd and kube-apiserver start and answer /readyz ($KUBE_URL)"
PORT=${KUBE_URL##*:}

# pod NS NAME NODE: a pod already bound to NODE (there is no scheduler).
pod() {
	jq -n --arg ns "$1" --arg name "$2" --arg node "$3" '{apiVersion:"v1",kind:"Pod",
		metadata:{namespace:$ns,name:$name,labels:{app:$name}},
		spec:{nodeName:$node,serviceAccountName:"web",automountServiceAccountToken:false,
			containers:[{name:"app",image:"registry.invalid/app:1"}]}}' |
		kube_api POST "/api/v1/namespaces/$1/pods" - >/dev/null
}
ns() {
	jq -n --arg n "$1" '{apiVersion:"v1",kind:"Namespace",metadata:{name:$n}}' |
		kube_api POST /api/v1/namespaces - >/dev/null
}
# names JSON_FILE: "ns/name" of a list's items, sorted, one line.
names() { jq -r '[.items[] | .metadata.namespace + "/" + .metadata.name] | sort | join(" ")' "$1"; }
# events FILE: "TYPE ns/name" of a watch stream's events, one a line.
events() { jq -r '.type + " " + (.object.metadata.namespace // "") + "/" + (.object.metadata.name // "")' "$1"; }
# watch_url FIELD_SELECTOR RV TIMEOUT
watch_url() {
	echo "$KUBE_URL/api/v1/pods?fieldSelector=$1&watch=1&allowWatchBookmarks=true&resourceVersion=$2&timeoutSeconds=$3"
}
# curl as admin; an array, not a function, so that `&` starts curl itself
# and $! is the pid that `kill` must end.
CURL_ADMIN=(curl -sS -N --cacert "$KUBE_CA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN")

# ---- TLS: an RSA serving certificate, TLS 1.3 ---------------------------------------------
openssl s_client -connect "127.0.0.1:$PORT" -tls1_3 -CAfile "$KUBE_CA" -verify_return_error \
	-verify_ip 127.0.0.1 -servername localhost </dev/null >"$T/s_client.txt" 2>&1
check_output "openssl s_client -tls1_3 negotiates TLS 1.3 with the apiserver" \
	'^New, TLSv1\.3, Cipher is TLS_' cat "$T/s_client.txt"
check_output "the chain verifies against KUBE_CA, for IP 127.0.0.1" \
	'Verify return code: 0 \(ok\)' cat "$T/s_client.txt"
check_output "the apiserver's key is RSA-2048" '^Server public key is 2048 bit' cat "$T/s_client.txt"
check_output "and its certificate says rsaEncryption" 'Public Key Algorithm: rsaEncryption' \
	bash -c "openssl x509 -noout -text <'$T/s_client.txt'"
check_output "the handshake is signed with RSA-PSS" '^Peer signature type: RSA-PSS' cat "$T/s_client.txt"
check_output "the cached kubectl is v1.20" '^Client Version: v1\.20\.[0-9]+$' kubectl version --short
check_output "and talks to the apiserver through KUBECONFIG" '^Server Version: v1\.20\.2$' kubectl version --short

# ---- A node's pods: LIST ---------------------------------------------------------------------
check "namespace apps is created" ns apps
check "namespace other is created" ns other
for p in "apps a1 node-a" "apps a2 node-a" "other a3 node-a" "apps b1 node-b" "other b2 node-b"; do
	# shellcheck disable=SC2086
	check "pod ${p% *} created on ${p##* }" pod $p
done
check "kube_pod_running sets a1's status" kube_pod_running apps a1 10.244.1.11
check_eq "a1 is then Running with its pod IP" \
	"$(kube_api GET /api/v1/namespaces/apps/pods/a1 | jq -r '"\(.status.phase) \(.status.podIP) \(.status.podIPs[0].ip)"')" \
	"Running 10.244.1.11 10.244.1.11"
kube_api GET '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a&limit=500' >"$T/list-a.json"
check_eq "LIST ?fieldSelector=spec.nodeName=node-a returns node-a's pods only" \
	"$(names "$T/list-a.json")" "apps/a1 apps/a2 other/a3"
kube_api GET '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-b' >"$T/list-b.json"
check_eq "and node-b's LIST node-b's" "$(names "$T/list-b.json")" "apps/b1 other/b2"
RV_LIST=$(jq -r .metadata.resourceVersion "$T/list-a.json")
check_output "the LIST carries a resourceVersion to watch from" '^[0-9]+$' echo "$RV_LIST"
check_output "kubectl's field selector agrees" '^apps/a1 apps/a2 other/a3 $' kubectl get pods -A \
	--field-selector spec.nodeName=node-a -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name} {end}{"\n"}'

# ---- A node's pods: WATCH ------------------------------------------------------------------
"${CURL_ADMIN[@]}" -m 60 "$(watch_url spec.nodeName%3Dnode-a "$RV_LIST" 50)" >"$T/watch-a.json" 2>"$T/watch-a.err" &
watch_pid=$!
at_exit "kill $watch_pid 2>/dev/null"
# node-b's changes first, then node-a's: events come in resourceVersion
# order, so once node-a's last one is seen any node-b event would be too.
# Without a kubelet a graceful delete only marks a bound pod (MODIFIED with
# a deletionTimestamp): gracePeriodSeconds=0 removes it, as a kubelet would.
pod apps b3 node-b
kube_api DELETE '/api/v1/namespaces/apps/pods/b3?gracePeriodSeconds=0' >/dev/null
pod apps a4 node-a
kube_pod_running apps a4 10.244.1.14
kube_api DELETE '/api/v1/namespaces/apps/pods/a4?gracePeriodSeconds=0' >/dev/null
check "the node-a WATCH delivers a4's DELETED" wait_for "a4 DELETED" grep -q '"type":"DELETED".*"name":"a4"' "$T/watch-a.json"
kill "$watch_pid" 2>/dev/null
wait "$watch_pid" 2>/dev/null
events "$T/watch-a.json" | grep -v '^BOOKMARK' >"$T/watch-a.txt"
# a4: created, Running (kube_pod_running), marked for deletion, deleted.
check_eq "it delivers a4's ADDED, MODIFIED, MODIFIED, DELETED, and nothing of node-b" \
	"$(paste -sd, "$T/watch-a.txt")" "ADDED apps/a4,MODIFIED apps/a4,MODIFIED apps/a4,DELETED apps/a4"
check_output "the first MODIFIED event carries the pod IP" '"podIP":"10\.244\.1\.14"' \
	grep -m 1 '"type":"MODIFIED"' "$T/watch-a.json"
RV_WATCH=$(tail -n 1 "$T/watch-a.json" | jq -r .object.metadata.resourceVersion)
# Another node's pod moves the pods' resourceVersion on while node-a's watch
# is open: the watch cache sends that watch a BOOKMARK with the newer
# resourceVersion about 2 s before its deadline (and every minute), so it
# keeps up without an event of its own. (v1.20.2 sends none when nothing
# newer than the watch's start was written while it was open.)
"${CURL_ADMIN[@]}" -m 30 -D "$T/watch-bm.headers" "$(watch_url spec.nodeName%3Dnode-a "$RV_WATCH" 5)" \
	>"$T/watch-bm.json" 2>&1 &
watch_pid=$!
at_exit "kill $watch_pid 2>/dev/null"
check "the quiet node-a WATCH is open (HTTP 200)" wait_for "watch headers" grep -q '^HTTP/[0-9.]* 200' "$T/watch-bm.headers"
pod apps b4 node-b
RV_B4=$(kube_api GET /api/v1/namespaces/apps/pods/b4 | jq -r .metadata.resourceVersion)
wait "$watch_pid"
check_eq "it ends at timeoutSeconds having sent only BOOKMARKs (one or two)" \
	"$(events "$T/watch-bm.json" | sort -u | paste -sd,)" "BOOKMARK /"
check_eq "which carry the resourceVersion of node-b's newer pod" \
	"$(jq -r .object.metadata.resourceVersion "$T/watch-bm.json" | sort -u | paste -sd,)" "$RV_B4"

# ---- authd's service account and its RBAC --------------------------------------------------
TOKEN=$(kube_sa_token authd authd) || TOKEN=
check_output "kube_sa_token prints a JWT for authd/authd" '^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$' echo "$TOKEN"
check_output "its issuer, audience and subject are the expected ones" \
	"^$KUBE_AUDIENCE $KUBE_AUDIENCE system:serviceaccount:authd:authd\$" \
	bash -c "cut -d. -f2 <<<'$TOKEN' | tr '_-' '/+' | base64 -d 2>/dev/null | jq -r '.iss + \" \" + .aud[0] + \" \" + .sub'"
# The DaemonSet's RBAC (the deploy/ manifests will hold the same rules).
cat >"$T/rbac.yaml" <<'YAML'
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: authd
rules:
  - apiGroups: [""]
    resources: [pods, namespaces]
    verbs: [get, list, watch]
  - apiGroups: [authd.io]
    resources: [allowlists]
    verbs: [get, list, watch]
  - apiGroups: ["", events.k8s.io]
    resources: [events]
    verbs: [create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: authd
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: authd
subjects:
  - kind: ServiceAccount
    name: authd
    namespace: authd
YAML
check "kubectl apply creates the ClusterRole and its binding" kubectl apply -f "$T/rbac.yaml"
as_authd() { KUBE_TOKEN=$TOKEN kube_api "$@"; }
# code_of METHOD PATH [BODY]: the HTTP status the authd token gets.
code_of() {
	as_authd "$@" >/dev/null 2>&1
	cat "$KUBE_DIR/.code"
}
check "the authd token can LIST the node's pods (once RBAC has the binding)" \
	wait_for "RBAC" as_authd GET '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a'
check_eq "and sees node-a's pods" \
	"$(as_authd GET '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a' | jq -r '[.items[].metadata.name] | sort | join(" ")')" \
	"a1 a2 a3"
check_eq "it can GET a namespace" "$(code_of GET /api/v1/namespaces/apps)" 200
check_output "it can WATCH pods" '"type":"ADDED"' \
	curl -sS -m 10 --cacert "$KUBE_CA" -H "Authorization: Bearer $TOKEN" \
	"$KUBE_URL/api/v1/pods?watch=1&timeoutSeconds=1&fieldSelector=spec.nodeName%3Dnode-a"
jq -n '{apiVersion:"v1",kind:"Event",metadata:{generateName:"authd-"},
	involvedObject:{kind:"Pod",namespace:"apps",name:"a1"},reason:"Test",message:"from authd",type:"Normal"}' >"$T/event.json"
check_eq "it can create an event" "$(code_of POST /api/v1/namespaces/apps/events "$T/event.json")" 201
pod_body() {
	jq -n '{apiVersion:"v1",kind:"Pod",metadata:{namespace:"apps",name:"evil"},
		spec:{nodeName:"node-a",containers:[{name:"app",image:"registry.invalid/evil:1"}]}}'
}
pod_body >"$T/evil.json"
check_eq "it gets 403 creating a pod" "$(code_of POST /api/v1/namespaces/apps/pods "$T/evil.json")" 403
kube_api GET /api/v1/namespaces/apps/pods/a2 | jq '.metadata.labels.app = "changed"' >"$T/a2.json"
check_eq "it gets 403 updating a pod (PUT)" "$(code_of PUT /api/v1/namespaces/apps/pods/a2 "$T/a2.json")" 403
echo '{"metadata":{"labels":{"app":"changed"}}}' >"$T/a2.patch"
check_eq "it gets 403 patching a pod" "$(code_of PATCH /api/v1/namespaces/apps/pods/a2 "$T/a2.patch")" 403
check_eq "it gets 403 setting a pod's status" \
	"$(code_of PATCH /api/v1/namespaces/apps/pods/a2/status "$T/a2.patch")" 403
check_eq "it gets 403 deleting a pod" "$(code_of DELETE /api/v1/namespaces/apps/pods/a2)" 403
jq -n '{apiVersion:"v1",kind:"Secret",metadata:{name:"s"},stringData:{k:"v"}}' |
	kube_api POST /api/v1/namespaces/apps/secrets - >/dev/null
check_eq "it gets 403 reading a secret" "$(code_of GET /api/v1/namespaces/apps/secrets/s)" 403
check_eq "it gets 403 listing secrets cluster-wide" "$(code_of GET /api/v1/secrets)" 403
check_eq "it gets 403 watching secrets" "$(code_of GET '/api/v1/namespaces/apps/secrets?watch=1&timeoutSeconds=1')" 403
jq -n '{apiVersion:"v1",kind:"Secret",metadata:{name:"t"},stringData:{k:"v"}}' >"$T/secret.json"
check_eq "it gets 403 creating a secret" "$(code_of POST /api/v1/namespaces/apps/secrets "$T/secret.json")" 403
can_i() { "$KUBE_BIN/kubectl" --kubeconfig /dev/null --server "$KUBE_URL" --certificate-authority "$KUBE_CA" \
	--token "$TOKEN" --cache-dir "$KUBE_DIR/kubectl-cache" auth can-i "$@"; }
check_output "kubectl auth can-i with its token: it may watch pods" '^yes$' can_i watch pods -A
check_output "kubectl auth can-i with its token: it may not get secrets" '^no$' can_i get secrets -n apps
# allowed VERB GROUP RESOURCE: a SelfSubjectAccessReview with the authd token
# (kubectl's can-i will not ask about a resource the server does not serve
# yet, as allowlists.authd.io before its CRD exists).
allowed() {
	jq -n --arg v "$1" --arg g "$2" --arg r "$3" '{apiVersion:"authorization.k8s.io/v1",
		kind:"SelfSubjectAccessReview",spec:{resourceAttributes:{verb:$v,group:$g,resource:$r}}}' |
		as_authd POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews - | jq -r .status.allowed
}
check_eq "it may list allowlists.authd.io" "$(allowed list authd.io allowlists)" true
check_eq "it may watch allowlists.authd.io" "$(allowed watch authd.io allowlists)" true
check_eq "it may not create allowlists.authd.io" "$(allowed create authd.io allowlists)" false
OTHER=$(kube_sa_token authd authd authd-signer 600) || OTHER=
check_output "a token for audience authd-signer is issued" '^eyJ' echo "$OTHER"
check_eq "but the apiserver refuses it: 401" \
	"$(KUBE_TOKEN=$OTHER kube_api GET /api/v1/pods >/dev/null 2>&1; cat "$KUBE_DIR/.code")" 401
check_eq "as it refuses a made-up token: 401" \
	"$(KUBE_TOKEN=not-a-token kube_api GET /api/v1/pods >/dev/null 2>&1; cat "$KUBE_DIR/.code")" 401

# ---- Restart, with the watch cache off --------------------------------------------------
pod apps kept node-a
check "kube_stop_apiserver stops the apiserver" kube_stop_apiserver
check_fails "nothing answers on its port then" curl -s -m 5 --cacert "$KUBE_CA" "$KUBE_URL/readyz"
KUBE_WATCH_CACHE=false KUBE_COMPACTION=10s kube_start_apiserver >"$T/restart.log" 2>&1
check_eq "kube_start_apiserver starts it again, watch cache off, on the same port" "$?" 0
check_output "with the knobs on its command line" '^---- kube-apiserver start .* --watch-cache=false --etcd-compaction-interval=10s$' \
	grep '^---- kube-apiserver start' "$KUBE_LOG"
check_eq "a pod created before the restart is listed after it" \
	"$(kube_api GET '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a' | jq -r '[.items[].metadata.name] | sort | join(" ")')" \
	"a1 a2 a3 kept"

# ---- A resourceVersion compacted away ----------------------------------------------------------
# RV_LIST is older than every write since (pods, events, RBAC, secrets).
check "kube_etcd_compact compacts etcd at its current revision" kube_etcd_compact
"${CURL_ADMIN[@]}" -m 30 -D "$T/old.headers" "$(watch_url spec.nodeName%3Dnode-a "$RV_LIST" 10)" >"$T/old.json" 2>&1
check_output "a WATCH from the compacted resourceVersion gets HTTP 200" '^HTTP/[0-9.]+ 200' head -n 1 "$T/old.headers"
check_output "then one ERROR event: code 410, reason Expired" '^ERROR 410 Expired The resourceVersion for the provided watch is too old\.$' \
	jq -r 'select(.type == "ERROR") | "ERROR \(.object.code) \(.object.reason) \(.object.message)"' "$T/old.json"
check_eq "and nothing else" "$(jq -r .type "$T/old.json" | paste -sd,)" ERROR
code=$("${CURL_ADMIN[@]}" -m 30 -o "$T/exact.json" -w '%{http_code}' \
	"$KUBE_URL/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a&resourceVersion=$RV_LIST&resourceVersionMatch=Exact")
check_eq "an Exact LIST at that resourceVersion gets HTTP 410" "$code" 410
check_output "with reason Expired" '^410 Expired$' jq -r '"\(.code) \(.reason)"' "$T/exact.json"
RV_NOW=$(kube_api GET '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a' | jq -r .metadata.resourceVersion)
"${CURL_ADMIN[@]}" -m 30 "$(watch_url spec.nodeName%3Dnode-a "$RV_NOW" 60)" >"$T/relist.json" 2>&1 &
watch_pid=$!
at_exit "kill $watch_pid 2>/dev/null"
pod apps a5 node-a
check "a WATCH from a fresh LIST's resourceVersion works again" \
	wait_for "a5 ADDED" grep -q '"type":"ADDED".*"name":"a5"' "$T/relist.json"
kill "$watch_pid" 2>/dev/null
wait "$watch_pid" 2>/dev/null
finish
