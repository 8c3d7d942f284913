# A real Kubernetes control plane for one suite: etcd (Debian's etcd-server)
# and kube-apiserver v1.20.2 (built by mk/kube-apiserver.sh), on loopback
# ports picked free, all state under $T/kube, both killed when the suite
# ends, whether it passes or not. Source it after testlib.sh:
#
#   . "$(dirname "$0")/../lib/testlib.sh"
#   . "$(dirname "$0")/../lib/kube.sh"
#   kube_start
#
# Functions (kube_start, kube_stop_apiserver and kube_start_apiserver must
# run in the suite's own shell, not in $(...) or a pipe: the servers are its
# children and die with it, even when it is killed):
#   kube_start                  etcd + apiserver; waits for /readyz; exports
#                               KUBE_URL KUBE_CA KUBE_ADMIN_TOKEN KUBECONFIG
#                               KUBE_LOG (and KUBE_ETCD_URL, KUBE_ETCD_LOG)
#   kube_stop_apiserver [SIG]   stop only the apiserver (SIG: TERM, or KILL;
#                               after KUBE_STOP_TIMEOUT s, default 10, KILL)
#   kube_start_apiserver        start it again: same port, certificates, etcd
#   kubectl ARGS...             the cached kubectl v1.20 with $KUBECONFIG
#   kube_api METHOD PATH [BODY_FILE|-] [CONTENT_TYPE]
#                               one request as admin (KUBE_TOKEN=... as
#                               someone else); prints the body; on HTTP >= 400
#                               prints it on stderr and fails; the status code
#                               is left in $T/kube/.code
#   kube_sa_token NS SA [AUDIENCE] [SECONDS]
#                               a TokenRequest token (namespace and service
#                               account created if missing)
#   kube_pod_running NS NAME IP phase Running, podIP(s) IP, Ready: what a
#                               kubelet would report (there is none)
#   kube_etcd_compact           compact etcd at its current revision
#
# Knobs (environment, read by kube_start and every kube_start_apiserver):
#   KUBE_WATCH_CACHE=false      --watch-cache=false: watches go to etcd
#   KUBE_COMPACTION=10s         --etcd-compaction-interval (default 5m)
#   KUBE_START_TIMEOUT=120      seconds to wait for /readyz
#   KUBE_STOP_TIMEOUT=10        seconds a TERM'd apiserver gets to exit
#   KUBE_BIN                    where kube-apiserver and kubectl are
#                               (default $DEPS_DIR/kube/bin, DEPS_DIR
#                               defaulting to $ROOT/build/deps)
#
# The apiserver: RSA-2048 serving certificate for 127.0.0.1 and localhost
# from a CA of its own (as kubeadm makes them); authorization Node,RBAC; a
# static admin token in system:masters; service-account tokens signed with
# an RSA key, audience $KUBE_AUDIENCE (the issuer). The ServiceAccount
# admission plugin is off: no controller-manager makes "default" service
# accounts or their token secrets, so pods get only the serviceAccountName
# their spec gives. There is no scheduler or kubelet: create pods with
# spec.nodeName set, report them with kube_pod_running, and delete them with
# ?gracePeriodSeconds=0 (a graceful delete only marks a bound pod, waiting
# for a kubelet that never comes).

kube__deps=${DEPS_DIR:-build/deps}
case $kube__deps in /*) ;; *) kube__deps=$ROOT/$kube__deps ;; esac
KUBE_BIN=${KUBE_BIN:-$kube__deps/kube/bin}
KUBE_DIR=$T/kube
KUBE_AUDIENCE=https://kubernetes.default.svc.cluster.local
kube_etcd_pid=
kube_apiserver_pid=
kube_apiserver_args=()

kube__say() { echo "kube: $*" >&2; }
kube__in_main_shell() {
	[ "$BASHPID" = "$$" ] && return 0
	kube__say "$1 must run in the suite's own shell (not in \$(...), a pipe or a subshell)"
	return 1
}

# kube__free_ports N: N distinct free TCP ports on 127.0.0.1, one a line.
# (Bound together, then released: another process could take one before
# the server binds it; starting fails clearly then.)
kube__free_ports() {
	/usr/bin/python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
PY
}

# kube__spawn LOG CMD...: start CMD in the background, killed (SIGKILL) if
# the suite's shell dies without running its exit hooks. Sets kube__pid.
kube__spawn() {
	local log=$1
	shift
	setpriv --pdeathsig KILL -- "$@" >"$log" 2>&1 </dev/null &
	kube__pid=$!
}

kube__cleanup() {
	local p
	for p in $kube_apiserver_pid $kube_etcd_pid; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	kube_apiserver_pid=
	kube_etcd_pid=
	return 0
}

# kube__certs: the CA, the apiserver's serving certificate and the
# service-account signing key, all RSA-2048 as kubeadm makes them.
kube__certs() {
	local d=$KUBE_DIR/pki
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 2 \
		-keyout "$d/ca.key" -out "$d/ca.crt" -subj "/CN=kubernetes-ca" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null || return 1
	openssl req -new -newkey rsa:2048 -nodes -sha256 -keyout "$d/apiserver.key" \
		-out "$d/apiserver.csr" -subj "/CN=kube-apiserver" 2>/dev/null || return 1
	cat >"$d/apiserver.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc
EXT
	openssl x509 -req -in "$d/apiserver.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
		-CAcreateserial -sha256 -days 2 -extfile "$d/apiserver.ext" \
		-out "$d/apiserver.crt" 2>/dev/null || return 1
	openssl genrsa -out "$d/sa.key" 2048 2>/dev/null || return 1
	openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null || return 1
}

kube__start_etcd() {
	local c=$1 p=$2
	mkdir -p "$KUBE_DIR/etcd"
	chmod 0700 "$KUBE_DIR/etcd"
	KUBE_ETCD_URL=http://127.0.0.1:$c
	KUBE_ETCD_LOG=$KUBE_DIR/etcd.log
	export KUBE_ETCD_URL KUBE_ETCD_LOG
	kube__spawn "$KUBE_ETCD_LOG" etcd --name kube-test --data-dir "$KUBE_DIR/etcd" \
		--listen-client-urls "$KUBE_ETCD_URL" --advertise-client-urls "$KUBE_ETCD_URL" \
		--listen-peer-urls "http://127.0.0.1:$p" --initial-advertise-peer-urls "http://127.0.0.1:$p" \
		--initial-cluster "kube-test=http://127.0.0.1:$p" --initial-cluster-state new \
		--logger zap --log-outputs stderr
	kube_etcd_pid=$kube__pid
	local i
	for i in $(seq 1 300); do
		if ! kill -0 "$kube_etcd_pid" 2>/dev/null; then
			wait "$kube_etcd_pid" 2>/dev/null
			kube_etcd_pid=
			kube__say "etcd exited at start; last lines of $KUBE_ETCD_LOG:"
			tail -n 20 "$KUBE_ETCD_LOG" >&2
			return 1
		fi
		curl -fs -m 2 "$KUBE_ETCD_URL/health" 2>/dev/null | grep -q '"health":"true"' && return 0
		sleep 0.1
	done
	kube__say "etcd not healthy after 30 s; last lines of $KUBE_ETCD_LOG:"
	tail -n 20 "$KUBE_ETCD_LOG" >&2
	return 1
}

kube__wait_ready() {
	local limit=${KUBE_START_TIMEOUT:-120} start=$SECONDS code
	while :; do
		if ! kill -0 "$kube_apiserver_pid" 2>/dev/null; then
			wait "$kube_apiserver_pid" 2>/dev/null
			kube_apiserver_pid=
			kube__say "kube-apiserver exited at start; last lines of $KUBE_LOG:"
			tail -n 30 "$KUBE_LOG" >&2
			return 1
		fi
		code=$(curl -s -m 5 -o "$KUBE_DIR/.readyz" -w '%{http_code}' --cacert "$KUBE_CA" \
			-H "Authorization: Bearer $KUBE_ADMIN_TOKEN" "$KUBE_URL/readyz" 2>/dev/null)
		[ "$code" = 200 ] && return 0
		if [ $((SECONDS - start)) -ge "$limit" ]; then
			kube__say "kube-apiserver not ready after $limit s (last /readyz: HTTP ${code:-none}); last lines of $KUBE_LOG:"
			tail -n 30 "$KUBE_LOG" >&2
			[ -s "$KUBE_DIR/.readyz" ] && grep -v '^\[+\]' "$KUBE_DIR/.readyz" | tail -n 10 >&2
			return 1
		fi
		sleep 0.2
	done
}

# kube_start_apiserver: start the apiserver with the arguments kube_start
# chose (same port, certificates and etcd) and wait for /readyz. The knobs
# KUBE_WATCH_CACHE and KUBE_COMPACTION are read again at every start.
kube_start_apiserver() {
	kube__in_main_shell kube_start_apiserver || return 1
	[ ${#kube_apiserver_args[@]} -gt 0 ] || { kube__say "kube_start_apiserver before kube_start"; return 1; }
	[ -z "$kube_apiserver_pid" ] || { kube__say "kube-apiserver is already running"; return 1; }
	local knobs=(--watch-cache="${KUBE_WATCH_CACHE:-true}"
		--etcd-compaction-interval="${KUBE_COMPACTION:-5m}")
	echo "---- kube-apiserver start $(date -u +%FT%TZ) ${knobs[*]}" >>"$KUBE_LOG"
	setpriv --pdeathsig KILL -- "$KUBE_BIN/kube-apiserver" "${kube_apiserver_args[@]}" "${knobs[@]}" \
		>>"$KUBE_LOG" 2>&1 </dev/null &
	kube_apiserver_pid=$!
	kube__wait_ready
}

# kube_stop_apiserver [SIGNAL]: stop only the apiserver (default TERM, a
# graceful shutdown; KILL for a crash), and wait until it is gone. On TERM
# it stops listening at once, but an open WATCH keeps it (and the stream)
# alive, up to its 60 s shutdown timeout: after KUBE_STOP_TIMEOUT seconds
# (default 10) it is killed.
kube_stop_apiserver() {
	kube__in_main_shell kube_stop_apiserver || return 1
	local sig=${1:-TERM} i
	[ -n "$kube_apiserver_pid" ] || { kube__say "kube-apiserver is not running"; return 1; }
	kill "-$sig" "$kube_apiserver_pid" 2>/dev/null
	for i in $(seq 1 $((${KUBE_STOP_TIMEOUT:-10} * 10))); do
		kill -0 "$kube_apiserver_pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$kube_apiserver_pid" 2>/dev/null
	wait "$kube_apiserver_pid" 2>/dev/null
	kube_apiserver_pid=
	return 0
}

kube_start() {
	kube__in_main_shell kube_start || return 1
	local b
	for b in kube-apiserver kubectl; do
		[ -x "$KUBE_BIN/$b" ] || { kube__say "$KUBE_BIN/$b missing: run make kube-deps"; return 1; }
	done
	for b in etcd etcdctl openssl curl jq setpriv; do
		command -v "$b" >/dev/null || { kube__say "$b not found: run mk/deps.sh kube"; return 1; }
	done
	[ -z "$kube_etcd_pid" ] || { kube__say "kube_start called twice"; return 1; }
	mkdir -p "$KUBE_DIR"
	at_exit kube__cleanup
	# Best effort on a signal too: the exit hooks kill the servers.
	trap 'exit 130' INT
	trap 'exit 143' TERM

	kube__certs || { kube__say "openssl could not make the certificates"; return 1; }
	local ports
	ports=($(kube__free_ports 3)) || return 1
	kube__start_etcd "${ports[0]}" "${ports[1]}" || return 1

	KUBE_URL=https://127.0.0.1:${ports[2]}
	KUBE_CA=$KUBE_DIR/pki/ca.crt
	KUBE_ADMIN_TOKEN=$(openssl rand -hex 24)
	KUBE_LOG=$KUBE_DIR/apiserver.log
	KUBECONFIG=$KUBE_DIR/admin.kubeconfig
	export KUBE_URL KUBE_CA KUBE_ADMIN_TOKEN KUBE_LOG KUBECONFIG KUBE_AUDIENCE
	: >"$KUBE_LOG"
	printf '%s,kube-admin,kube-admin,"system:masters"\n' "$KUBE_ADMIN_TOKEN" >"$KUBE_DIR/tokens.csv"
	chmod 0600 "$KUBE_DIR/tokens.csv"
	cat >"$KUBECONFIG" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: $KUBE_URL
    certificate-authority-data: $(base64 -w0 "$KUBE_CA")
users:
- name: kube-admin
  user:
    token: $KUBE_ADMIN_TOKEN
contexts:
- name: test
  context:
    cluster: test
    user: kube-admin
current-context: test
YAML
	chmod 0600 "$KUBECONFIG"

	local d=$KUBE_DIR/pki
	kube_apiserver_args=(
		--etcd-servers="$KUBE_ETCD_URL"
		--bind-address=127.0.0.1 --advertise-address=127.0.0.1
		--secure-port="${ports[2]}" --insecure-port=0
		--cert-dir="$KUBE_DIR/apiserver"
		--tls-cert-file="$d/apiserver.crt" --tls-private-key-file="$d/apiserver.key"
		--client-ca-file="$d/ca.crt"
		--token-auth-file="$KUBE_DIR/tokens.csv"
		--authorization-mode=Node,RBAC
		--service-account-issuer="$KUBE_AUDIENCE"
		--service-account-signing-key-file="$d/sa.key"
		--service-account-key-file="$d/sa.pub"
		--api-audiences="$KUBE_AUDIENCE"
		--service-cluster-ip-range=10.96.0.0/12
		--disable-admission-plugins=ServiceAccount
		--enable-admission-plugins=NodeRestriction
		--profiling=false
	)
	kube_start_apiserver
}

# kubectl ARGS...: never the machine's kubectl; its caches stay in $T.
kubectl() {
	"$KUBE_BIN/kubectl" --kubeconfig "$KUBECONFIG" --cache-dir "$KUBE_DIR/kubectl-cache" "$@"
}

# kube_api METHOD PATH [BODY_FILE|-] [CONTENT_TYPE]
kube_api() {
	local method=$1 path=$2 body=${3:-} ct=${4:-} code rc=0
	local args=(-sS -m 30 -X "$method" --cacert "$KUBE_CA"
		-H "Authorization: Bearer ${KUBE_TOKEN:-$KUBE_ADMIN_TOKEN}" -H "Accept: application/json"
		-o "$KUBE_DIR/.body" -w '%{http_code}')
	if [ -n "$body" ]; then
		if [ -z "$ct" ]; then
			[ "$method" = PATCH ] && ct=application/merge-patch+json || ct=application/json
		fi
		args+=(-H "Content-Type: $ct" --data-binary "@$body")
	fi
	: >"$KUBE_DIR/.body"
	code=$(curl "${args[@]}" "$KUBE_URL$path") || rc=$?
	echo "${code:-000}" >"$KUBE_DIR/.code"
	if [ "$rc" != 0 ]; then
		echo "kube_api: $method $path: curl failed (exit $rc)" >&2
		return 1
	fi
	if [ "$code" -ge 400 ]; then
		echo "kube_api: $method $path: HTTP $code" >&2
		cat "$KUBE_DIR/.body" >&2
		echo >&2
		return 1
	fi
	cat "$KUBE_DIR/.body"
}

# kube__ensure PATH JSON: create the object with POST PATH unless it exists (409).
kube__ensure() {
	printf '%s' "$2" | kube_api POST "$1" - >/dev/null 2>"$KUBE_DIR/.err" && return 0
	[ "$(cat "$KUBE_DIR/.code")" = 409 ] && return 0
	cat "$KUBE_DIR/.err" >&2
	return 1
}

# kube_sa_token NS SA [AUDIENCE] [SECONDS]: default audience: the apiserver's
# own ($KUBE_AUDIENCE); default lifetime 3600 s (the API's minimum is 600).
kube_sa_token() {
	local ns=$1 sa=$2 aud=${3:-$KUBE_AUDIENCE} secs=${4:-3600}
	kube__ensure /api/v1/namespaces \
		"{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$ns\"}}" || return 1
	kube__ensure "/api/v1/namespaces/$ns/serviceaccounts" \
		"{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\",\"metadata\":{\"name\":\"$sa\"}}" || return 1
	jq -n --arg aud "$aud" --argjson secs "$secs" \
		'{apiVersion:"authentication.k8s.io/v1",kind:"TokenRequest",spec:{audiences:[$aud],expirationSeconds:$secs}}' |
		kube_api POST "/api/v1/namespaces/$ns/serviceaccounts/$sa/token" - >"$KUBE_DIR/.token" || return 1
	jq -er .status.token "$KUBE_DIR/.token"
}

# kube_pod_running NS NAME IP: the pod's status as a kubelet would set it.
kube_pod_running() {
	local ns=$1 name=$2 ip=$3 now
	now=$(date -u +%FT%TZ)
	jq -n --arg ip "$ip" --arg now "$now" '{status:{
		phase:"Running", podIP:$ip, podIPs:[{ip:$ip}], hostIP:"127.0.0.1", startTime:$now,
		conditions:[{type:"Initialized",status:"True",lastTransitionTime:$now},
			{type:"Ready",status:"True",lastTransitionTime:$now},
			{type:"ContainersReady",status:"True",lastTransitionTime:$now},
			{type:"PodScheduled",status:"True",lastTransitionTime:$now}]}}' |
		kube_api PATCH "/api/v1/namespaces/$ns/pods/$name/status" - application/merge-patch+json >/dev/null
}

# kube_etcd_compact: compact etcd's history up to its current revision, so
# any older resourceVersion is "too old" (410) for a watch served by etcd.
kube_etcd_compact() {
	local rev
	rev=$(ETCDCTL_API=3 etcdctl --endpoints="$KUBE_ETCD_URL" endpoint status -w json |
		jq -er '.[0].Status.header.revision') || { kube__say "etcdctl endpoint status failed"; return 1; }
	ETCDCTL_API=3 etcdctl --endpoints="$KUBE_ETCD_URL" compact "$rev" --physical >/dev/null ||
		{ kube__say "etcdctl compact $rev failed"; return 1; }
}
