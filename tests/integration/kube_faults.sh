#!/usr/bin/env bash
# authd's Kubernetes node agent against what a real API server cannot be
# made to do: tests/lib/kube_fake.py, a scripted fake API server (TLS 1.3,
# an RSA-2048 certificate for 127.0.0.1 made here with openssl), answers its
# LISTs and WATCHes from a scenario and records every request. Each scenario
# is a fresh fake and a fresh authd (ASan build):
#   1. happy path: a LIST with one enrolled running pod enrolls it; the fake
#      saw the token from the file and the node's fieldSelector;
#   2. a watch cut inside a chunk (RST, then FIN): no half event applied,
#      authd resumes the watch and converges on a good stream;
#   3. LIST answered 500 then 503: backoff and retry, /readyz names the
#      reason until a LIST works;
#   4. a watch line over KUBE_EVENT_MAX (2 MiB), again and again: refused,
#      logged, relisted, no crash, memory bounded;
#   5. a watch answered 410, and a 200 watch opening with an ERROR 410
#      event: relist for "too-old";
#   6. 401: authd re-reads its token file and recovers with the new token;
#   7. malformed JSON and duplicate keys in events: refused, relist, no crash;
#   8. a CA that did not sign the server's certificate, a certificate for
#      another name, a TLS 1.2-only server: never listed, /readyz says why;
#   9. bad configuration is an error at start naming the file or setting.
# authd's admin port is fixed: in a network namespace of its own.
T_PRIVATE_NETNS=1
. "$(dirname "$0")/../lib/testlib.sh"
AUTHD=${AUTHD:-$ROOT/$BUILD/authd}
[ -x "$AUTHD" ] || { echo "kube_faults: $AUTHD not built"; exit 1; }
FAKE=$ROOT/tests/lib/kube_fake.py
MC=$ROOT/tests/lib/mesh_client.py
ADMIN=http://127.0.0.1:15000
API=127.0.0.1:6443
NODE=node-a

# ---- Certificates ------------------------------------------------------------------
mkcert() { # NAME CA_NAME SAN: an RSA-2048 leaf for SAN signed by CA_NAME
	openssl req -newkey rsa:2048 -nodes -keyout "$T/$1.key" -subj "/CN=$1" -out "$T/$1.csr" 2>/dev/null &&
		openssl x509 -req -in "$T/$1.csr" -CA "$T/$2.crt" -CAkey "$T/$2.key" -CAcreateserial \
			-days 2 -extfile <(printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\n' "$3") \
			-out "$T/$1.crt" 2>/dev/null
}
mkca() {
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/$1.key" -subj "/CN=$1" -days 2 \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
		-out "$T/$1.crt" 2>/dev/null
}
certs() { mkca ca && mkcert server ca IP:127.0.0.1 && mkca otherca && mkcert example ca DNS:example.com; }
check "a CA and RSA-2048 server certificates (127.0.0.1; example.com only)" certs
[ -s "$T/server.crt" ] || finish

# ---- Fake and authd -----------------------------------------------------------------
fake_pid=
# fake NAME [ARGS...]: the fake on $API serving $T/NAME.json, logging to $T/NAME.req.
fake() {
	local name=$1; shift
	: >"$T/$name.out"
	"$PY" "$FAKE" --listen "$API" --cert "${FAKE_CERT:-$T/server.crt}" --key "${FAKE_KEY:-$T/server.key}" \
		--scenario "$T/$name.json" --log "$T/$name.req" "$@" >"$T/$name.out" 2>&1 &
	fake_pid=$!
	wait_for "the fake" grep -q listening "$T/$name.out"
}
fake_stop() {
	[ -n "$fake_pid" ] && { kill "$fake_pid" 2>/dev/null; wait "$fake_pid" 2>/dev/null; }
	fake_pid=
}
at_exit 'fake_stop'

pid=
# authd_start NAME [CA]: a fresh authd (state $T/NAME) against the fake, token $T/NAME.token.
authd_start() {
	local name=$1 ca=${2:-$T/ca.crt}
	mkdir -p "$T/$name"
	"$AUTHCTL" ca init --dir "$T/$name/ca" --trust-domain cluster.test >/dev/null
	[ -f "$T/$name.token" ] || echo "tok-$name" >"$T/$name.token"
	cat >"$T/$name/authd.yaml" <<YAML
trust_domain: cluster.test
state_dir: $T/$name
admin: 127.0.0.1:15000
access_log: off
kubernetes:
  server: https://$API
  ca_file: $ca
  token_file: $T/$name.token
  node_name: $NODE
YAML
	STORE=$T/$name/store.mdb
	LOG=$T/$name/authd.log
	env ${AUTHD_ENV:-} "$AUTHD" --config "$T/$name/authd.yaml" >"$LOG" 2>&1 &
	pid=$!
}
# authd_stop: TERM; passes when it drains and exits 0 (ASan: no leak, no error).
authd_stop() {
	kill -TERM "$pid" 2>/dev/null
	local rc=0
	wait "$pid" || rc=$?
	check_eq "$1: authd exits 0 on TERM (ASan clean)" "$rc" 0
	[ "$rc" = 0 ] || tail -30 "$LOG" >&2
	pid=
}
at_exit '[ -z "$pid" ] || { kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null; }'
at_exit '[ "$T_FAIL" -eq 0 ] || [ -z "${LOG:-}" ] || tail -30 "$LOG" >&2'

ready() { curl -fs -m 5 "$ADMIN/readyz" >/dev/null; }
readyz() { curl -s -m 5 "$ADMIN/readyz"; }
readyz_says() { readyz | grep -Eq -- "$1"; }
workloads() {
	"$AUTHCTL" workload list --store "$STORE" -o json 2>/dev/null |
		jq -r '[.[] | "\(.namespace)/\(.name)"] | sort | join(" ")'
}
has_workloads() { [ "$(workloads)" = "$1" ]; }
metric() { "$PY" "$MC" metric "$ADMIN/metrics" "$@" 2>/dev/null || echo 0; }
metric_at_least() { local want=$1; shift; [ "$(metric "$@")" -ge "$want" ]; }
# reqs NAME RESOURCE list|watch [STATUS]: how many such requests the fake saw.
reqs() {
	jq -s --arg r "$2" --argjson w "$([ "$3" = watch ] && echo true || echo false)" --arg s "${4:-}" \
		'[.[] | select(.resource == $r and .watch == $w and ($s == "" or (.status|tostring) == $s))] | length' "$T/$1.req"
}
reqs_at_least() { [ "$(reqs "$2" "$3" "$4" "${5:-}")" -ge "$1" ]; }
logged() { grep -Eq -- "$1" "$LOG"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"; }

# ---- 1. Happy path -------------------------------------------------------------------
cat >"$T/s1.json" <<'JSON'
{"namespaces": {"list": [{"items": ["shop", "other-"]}]},
 "pods": {"list": [{"items": ["shop/web-1", "other/plain"]}]}}
JSON
fake s1
authd_start s1
check "1: authd lists and becomes ready" wait_for ready ready
check "1: the enrolled running pod is a workload, the unenrolled one not" wait_for workloads has_workloads "shop/web-1"
check_output "1: the fake saw the token from the file as a Bearer token" '^Bearer tok-s1$' \
	jq -r 'select(.resource == "pods") | .auth' "$T/s1.req"
check_output "1: and the node's fieldSelector on the pods LIST" \
	'^/api/v1/pods\?fieldSelector=spec.nodeName%3Dnode-a&limit=250$' \
	jq -r 'select(.resource == "pods" and .watch == false) | .path' "$T/s1.req"
check "1: then a WATCH from the LIST's resourceVersion" wait_for "watch" grep -q \
	'"path": "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a&watch=1&allowWatchBookmarks=true&resourceVersion=100&timeoutSeconds=' "$T/s1.req"
check_output "1: every request asks Connection: close" '^close$' \
	sh -c "jq -r .connection '$T/s1.req' | sort -u"
check_output "1: /metrics counts the pods LIST as 200" '^[1-9]' \
	metric authd_kube_requests_total resource=pods code=200
authd_stop 1
fake_stop

# ---- 2. A watch cut inside a chunk ------------------------------------------------------
cat >"$T/s2.json" <<'JSON'
{"namespaces": {"list": [{"items": ["shop"]}]},
 "pods": {"list": [{"items": ["shop/a"], "rv": "100"}],
  "watch": [
   {"events": [{"type": "ADDED", "object": "shop/b", "rv": "101"}],
    "cut": "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"half\",\"namespace\":\"shop\",\"uid\":\"u-half\",\"resourceVersion\":\"102\"},\"spec\":{},\"status\":{\"phase\":\"Running\",\"podIP\":\"10.1.0.9\"}}}"},
   {"cut": "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"half2\",\"namespace\":\"shop\"", "fin": true},
   {"events": [{"type": "ADDED", "object": "shop/d", "rv": "103"}]}]}}
JSON
fake s2
authd_start s2
check "2: ready" wait_for ready ready
check "2: after the cuts authd converges on the good stream (a, b, d)" wait_for converged has_workloads "shop/a shop/b shop/d"
check "2: neither half event was applied" bash -c "! grep -Eq 'half' <<<'$(workloads)'"
check "2: it reconnected: three pods watches" reqs_at_least 3 s2 pods watch
check_eq "2: each resumed from the last event applied, without a relist" \
	"$(jq -r 'select(.resource == "pods") | "\(.watch):\(.rv)"' "$T/s2.req" | tr '\n' ' ')" \
	"false: true:100 true:101 true:101 "
check "2: the reset is logged" logged "kubernetes: pods: watch: read: connection reset by peer"
check "2: the close inside a chunk is logged" logged "kubernetes: pods: watch: response: connection ended inside the response"
authd_stop 2
fake_stop

# ---- 3. LIST answered 500, then 503 ------------------------------------------------------
cat >"$T/s3.json" <<'JSON'
{"namespaces": {"list": [{"items": ["shop"]}]},
 "pods": {"list": [{"status": 500, "reason": "InternalError", "message": "etcd is sad"},
                   {"status": 503, "reason": "ServiceUnavailable", "message": "try later"},
                   {"status": 503, "reason": "ServiceUnavailable", "message": "try later"},
                   {"items": ["shop/web-1"]}]}}
JSON
fake s3
authd_start s3
check "3: /readyz is 503 naming the 500 while no LIST worked" wait_for "readyz 500" \
	readyz_says '^kubernetes: pods not listed yet: list: HTTP 500: etcd is sad \(InternalError\)'
check_output "3: /readyz answers 503" '^503$' curl -s -m 5 -o /dev/null -w '%{http_code}' "$ADMIN/readyz"
check "3: the retried LIST's 503 is named next" wait_for "readyz 503" \
	readyz_says '^kubernetes: pods not listed yet: list: HTTP 503: try later \(ServiceUnavailable\)'
check "3: authd retries until a LIST works, then is ready" wait_for ready ready
check_eq "3: four pods LISTs (500, 503, 503, 200)" "$(reqs s3 pods list)" 4
check "3: the pod is then a workload" wait_for workloads has_workloads "shop/web-1"
check_output "3: the retries count as relists for an error" '^3$' metric authd_kube_relists_total resource=pods reason=error
check_output "3: /metrics counts the 503s" '^2$' metric authd_kube_requests_total resource=pods code=503
authd_stop 3
fake_stop

# ---- 4. An oversized watch event -------------------------------------------------------------
BIG=$((3 * 1024 * 1024))
cat >"$T/s4.json" <<JSON
{"namespaces": {"list": [{"items": ["shop"]}]},
 "pods": {"list": [{"items": ["shop/a"]}, {"items": ["shop/a"]}, {"items": ["shop/a", "shop/e"]}],
  "watch": [{"hang": 1}, {"big": $BIG}, {"big": $BIG}, {"big": $BIG}, {"big": $BIG},
            {"big": $BIG}, {"big": $BIG}, {"big": $BIG}, {"big": $BIG}, {"hang": 120}]}}
JSON
fake s4
# ASan keeps freed memory in a quarantine (256 MiB by default), which would
# count every refused event's buffer: a small one, so VmRSS shows what authd holds.
AUTHD_ENV="ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4" authd_start s4
check "4: ready" wait_for ready ready
check "4: first workload" wait_for workloads has_workloads "shop/a"
rss0=$(rss_kb)
check "4: eight 3 MiB events later, authd relisted after each (nine pods LISTs)" \
	bash -c "for i in \$(seq 1 300); do [ \$(jq -s '[.[] | select(.resource == \"pods\" and .watch == false)] | length' '$T/s4.req') -ge 9 ] && [ \$(jq -s '[.[] | select(.resource == \"pods\" and .watch)] | length' '$T/s4.req') -ge 10 ] && exit 0; sleep 0.1; done; exit 1"
check "4: authd is alive" kill -0 "$pid"
check "4: and converged on the relisted pods" wait_for workloads has_workloads "shop/a shop/e"
check "4: the refusal is logged" logged 'kubernetes: pods: watch: response: response or event larger than its limit'
check_output "4: counted as relists for an error" '^([89]|[1-9][0-9])$' metric authd_kube_relists_total resource=pods reason=error
rss1=$(rss_kb)
check "4: VmRSS grew by at most 16 MiB (${rss0} kB -> ${rss1} kB)" test $((rss1 - rss0)) -le 16384
check "4: and it is ready" ready
authd_stop 4
fake_stop

# ---- 5. Too old: HTTP 410 and an in-stream ERROR 410 ------------------------------------------
cat >"$T/s5.json" <<'JSON'
{"namespaces": {"list": [{"items": ["shop"]}]},
 "pods": {"list": [{"items": ["shop/a"], "rv": "100"}, {"items": ["shop/a", "shop/b"], "rv": "200"},
                   {"items": ["shop/b", "shop/c"], "rv": "300"}],
  "watch": [{"status": 410, "reason": "Expired", "message": "too old resource version: 100"},
            {"events": [{"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "metadata": {},
                         "status": "Failure", "message": "too old resource version: 200", "reason": "Expired", "code": 410}},
                        {"type": "ADDED", "object": "shop/never", "rv": "250"}]},
            {"hang": 120}]}}
JSON
fake s5
authd_start s5
check "5: converges on the third LIST (b, c)" wait_for converged has_workloads "shop/b shop/c"
check_output "5: two relists for too-old" '^2$' metric authd_kube_relists_total resource=pods reason=too-old
check_eq "5: LIST, WATCH 410, LIST, WATCH with ERROR 410, LIST, WATCH from 300" \
	"$(jq -r 'select(.resource == "pods") | "\(.watch):\(.rv):\(.status)"' "$T/s5.req" | tr '\n' ' ')" \
	"false::200 true:100:410 false::200 true:200:200 false::200 true:300:200 "
check "5: the event after the ERROR in that stream was not applied" bash -c "! grep -q never <<<'$(workloads)'"
check_output "5: the ERROR event is counted" '^1$' metric authd_kube_watch_events_total resource=pods type=error
check "5: the in-stream 410 is logged" logged 'kubernetes: pods: watch too old \(Expired\); listing again'
authd_stop 5
fake_stop

# ---- 6. 401: the token file is read again -------------------------------------------------------
echo "tok-new" >"$T/s6.accept"
echo "tok-old" >"$T/s6.token"
cat >"$T/s6.json" <<'JSON'
{"namespaces": {"list": [{"items": ["shop"]}]}, "pods": {"list": [{"items": ["shop/web-1"]}]}}
JSON
fake s6 --token-file "$T/s6.accept"
authd_start s6
check "6: the old token gets 401s" wait_for "401" reqs_at_least 1 s6 pods list 401
check "6: /readyz names the 401" wait_for "readyz" readyz_says '^kubernetes: pods not listed yet: list: HTTP 401'
check_fails "6: not ready" ready
echo "tok-new" >"$T/s6.token"
check "6: after the token file is rotated authd recovers" wait_for ready ready
check "6: the pod is a workload" wait_for workloads has_workloads "shop/web-1"
check_output "6: with the new token" '^Bearer tok-new$' \
	sh -c "jq -r 'select(.resource == \"pods\" and .status == 200) | .auth' '$T/s6.req' | sort -u"
check_output "6: it logs the token as read again" 'token|working again' cat "$LOG"
authd_stop 6
fake_stop

# ---- 7. Malformed JSON and duplicate keys -------------------------------------------------------
cat >"$T/s7.json" <<'JSON'
{"namespaces": {"list": [{"items": ["shop"]}]},
 "pods": {"list": [{"items": ["shop/a"], "rv": "100"}, {"items": ["shop/a"], "rv": "200"},
                   {"items": ["shop/a", "shop/c"], "rv": "300"}],
  "watch": [{"events": ["{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"bad\",\"namespace\":\"shop\"}"]},
            {"events": ["{\"type\":\"ADDED\",\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\",\"namespace\":\"shop\",\"uid\":\"uid-shop-a\"},\"spec\":{},\"status\":{}}}"]},
            {"hang": 120}]}}
JSON
fake s7
authd_start s7
check "7: converges after both bad events on the third LIST (a, c)" wait_for converged has_workloads "shop/a shop/c"
check_eq "7: each bad event made a relist: three LISTs" "$(reqs s7 pods list)" 3
check "7: the malformed line is logged" logged "kubernetes: pods: watch: an event authd cannot read \(JSON"
check "7: the duplicate key is logged" logged "cannot read \(JSON \(byte [0-9]+\): duplicate object key near '\"type\"'\)"
check "7: authd is alive and ready" ready
authd_stop 7
fake_stop

# ---- 8. Wrong certificates and TLS 1.2 --------------------------------------------------------------
cat >"$T/s8.json" <<'JSON'
{"namespaces": {"list": [{"items": ["shop"]}]}, "pods": {"list": [{"items": ["shop/web-1"]}]}}
JSON
cp "$T/s8.json" "$T/s8b.json"
cp "$T/s8.json" "$T/s8c.json"
fake s8
authd_start s8 "$T/otherca.crt"
check "8: a CA that did not sign the server: /readyz names unknown-authority" wait_for "readyz" \
	readyz_says '^kubernetes: pods not listed yet: list: TLS: unknown-authority'
check_fails "8: not ready" ready
check_eq "8: the fake never got a request" "$(wc -l <"$T/s8.req")" 0
check_eq "8: no workload" "$(workloads)" ""
authd_stop 8a
fake_stop
FAKE_CERT=$T/example.crt FAKE_KEY=$T/example.key fake s8b
authd_start s8b
check "8: a certificate for example.com only: /readyz names peer-id-mismatch" wait_for "readyz" \
	readyz_says '^kubernetes: pods not listed yet: list: TLS: peer-id-mismatch'
check_eq "8: the fake never got a request" "$(wc -l <"$T/s8b.req")" 0
authd_stop 8b
fake_stop
fake s8c --tls12
authd_start s8c
check "8: a TLS 1.2-only server: the handshake is refused, /readyz says TLS" wait_for "readyz" \
	readyz_says '^kubernetes: pods not listed yet: list: TLS'
check_fails "8: not ready" ready
check_eq "8: the fake never got a request" "$(wc -l <"$T/s8c.req")" 0
authd_stop 8c
fake_stop

# ---- 9. Bad configuration ------------------------------------------------------------------------------
mkdir -p "$T/s9"
"$AUTHCTL" ca init --dir "$T/s9/ca" --trust-domain cluster.test >/dev/null
echo tok >"$T/s9.token"
: >"$T/s9.empty"
run9() { # SERVER CA TOKEN
	timeout 20 "$AUTHD" --admin 127.0.0.1:15000 --state-dir "$T/s9" --trust-domain cluster.test \
		--kube-server "$1" --kube-ca "$2" --kube-token "$3" --node-name "$NODE"
}
check_exit_in() { # DESC REGEX CMD...: exits 2 or 3 and its output matches REGEX
	local desc=$1 re=$2 rc=0; shift 2
	"$@" >"$T/.out9" 2>&1 || rc=$?
	if { [ "$rc" = 2 ] || [ "$rc" = 3 ]; } && grep -Eq -- "$re" "$T/.out9"; then pass "$desc (exit $rc)"
	else fail "$desc: exit $rc: $(tail -c 600 "$T/.out9")"; fi
}
check_exit_in "9: a missing CA file names it" "kubernetes: CA file $T/nope.crt: No such file" \
	run9 "https://$API" "$T/nope.crt" "$T/s9.token"
check_exit_in "9: an empty token file names it" "kubernetes: token $T/s9.empty: not a bearer token" \
	run9 "https://$API" "$T/ca.crt" "$T/s9.empty"
check_exit_in "9: an http:// server URL is refused, naming it" "kubernetes: http://$API: .*https" \
	run9 "http://$API" "$T/ca.crt" "$T/s9.token"
finish
