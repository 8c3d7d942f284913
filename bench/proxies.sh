# The data-plane section of bench/run.sh ("proxy"): the same mTLS load
# against haproxy, nginx (stream), stunnel and authd, each ending TLS 1.3
# with a required client certificate (P-256 SVIDs from authctl, one CA for
# every peer) and forwarding to the same plaintext backend. Sourced by
# bench/run.sh, whose helpers (die, md_header, json_machine, json_str, ratio,
# fmt, at_exit, $TMP, $OUT, $BUILD) it uses.
#
#   bench/run.sh proxy                          this section alone
#   BENCH_PROXY_TARGETS="haproxy nginx"         a subset, in this order
#   BENCH_PROXY_SECONDS=5                       seconds per measurement
#   BENCH_IDLE_CONNS=10000                      idle connections for the RSS figure
#
# Installs nothing: `make bench` runs mk/deps.sh bench first. A target whose
# program is missing is skipped with one line saying why.
#
# Adding a target NAME: write target_NAME_check (return 0 when it can run,
# else set SKIP_REASON and return 1) and target_NAME_start (write its config
# under $PX/NAME/, start it with px_spawn, wait with px_wait_port, set
# TGT_ADDR for load_bench --target, TGT_ARGS for extra load_bench flags such
# as --connect or --plain, TGT_TLS=0 when the client side is plaintext, and
# TGT_NOTE for the table), then add NAME to PROXY_TARGETS.

PROXY_TARGETS=(haproxy nginx stunnel authd authd2)
PX_TD=bench.test
PX_SERVER_ID=spiffe://$PX_TD/ns/bench/sa/server
PX_CLIENT_ID=spiffe://$PX_TD/ns/bench/sa/loadgen
PX_APP_ID=spiffe://$PX_TD/ns/bench/sa/client

# ---------------------------------------------------------------- processes

PX_PIDS=()

# px_kill PID: TERM, up to 5 s, then KILL. Only PIDs this script started.
px_kill() {
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

px_cleanup() {
	local pid
	for pid in "${PX_PIDS[@]}"; do
		px_kill "$pid"
	done
	PX_PIDS=()
}

# px_spawn CPUSPEC LOG CMD...: start CMD in the background (pinned when
# CPUSPEC is not empty), output to LOG; sets SPAWN_PID.
px_spawn() {
	local cpu=$1 log=$2
	shift 2
	if [ -n "$cpu" ]; then
		taskset -c "$cpu" "$@" >"$log" 2>&1 </dev/null &
	else
		"$@" >"$log" 2>&1 </dev/null &
	fi
	SPAWN_PID=$!
	PX_PIDS+=("$SPAWN_PID")
}

# px_wait_port PORT PID LOG: until 127.0.0.1:PORT accepts (10 s at most);
# else START_ERR says why.
px_wait_port() {
	local port=$1 pid=$2 log=$3 i
	for i in $(seq 100); do
		if ! kill -0 "$pid" 2>/dev/null; then
			START_ERR="exited at start: $(tail -c 400 "$log" | tr '\n' ' ')"
			return 1
		fi
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	START_ERR="not listening on 127.0.0.1:$port after 10 s"
	return 1
}

px_free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# px_tree PID: PID and its children (nginx's workers).
px_tree() {
	echo "$1"
	pgrep -P "$1" 2>/dev/null || true
}

# px_rss_kib PID: resident memory of PID and its children, KiB.
px_rss_kib() {
	local p sum=0 v
	for p in $(px_tree "$1"); do
		v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || true)
		sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}

# px_cpu_ticks PID: user + system CPU of PID and its children, in clock ticks.
px_cpu_ticks() {
	local p sum=0 v
	for p in $(px_tree "$1"); do
		v=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }' || true)
		sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}

# kv LINE KEY: one value from load_bench's key=value line.
kv() {
	sed -nE "s/^(.* )?$2=([^ ]*).*/\\2/p" <<<"$1"
}

# ---------------------------------------------------------------- targets

target_haproxy_check() {
	command -v haproxy >/dev/null && return 0
	SKIP_REASON="haproxy not installed (mk/deps.sh bench)"
	return 1
}

target_haproxy_start() {
	local d=$PX/haproxy port
	port=$(px_free_port)
	mkdir -p "$d"
	cat "$PX/server/svid.pem" "$PX/server/svid.key" >"$d/server.pem"
	cat >"$d/haproxy.cfg" <<EOF
global
	nbthread 1
	ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256
	ssl-default-bind-options ssl-min-ver TLSv1.3

defaults
	mode tcp
	timeout connect 5s
	timeout client 10m
	timeout server 10m

frontend mtls
	bind 127.0.0.1:$port ssl crt $d/server.pem ca-file $PX/ca/bundle.pem verify required curves P-256
	default_backend app

backend app
	server app 127.0.0.1:$PX_BACKEND_PORT
EOF
	px_spawn "$SERVER_CPU" "$d/log" haproxy -db -f "$d/haproxy.cfg"
	TGT_PID=$SPAWN_PID
	px_wait_port "$port" "$TGT_PID" "$d/log" || return 1
	TGT_ADDR=127.0.0.1:$port
	TGT_FDS=2
	TGT_NOTE="haproxy $(haproxy -v 2>/dev/null | awk 'NR == 1 { print $3 }'), nbthread 1"
}

target_nginx_check() {
	if ! command -v nginx >/dev/null; then
		SKIP_REASON="nginx not installed (mk/deps.sh bench)"
		return 1
	fi
	if [ ! -r /usr/lib/nginx/modules/ngx_stream_module.so ]; then
		SKIP_REASON="nginx's stream module missing (libnginx-mod-stream; mk/deps.sh bench)"
		return 1
	fi
}

target_nginx_start() {
	local d=$PX/nginx port
	port=$(px_free_port)
	mkdir -p "$d"
	# Two descriptors per proxied connection, within the hard limit.
	cat >"$d/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
daemon off;
worker_processes 1;
worker_rlimit_nofile $PX_NOFILE;
pid $d/nginx.pid;
error_log $d/error.log error;

events {
	worker_connections $((PX_NOFILE - 100));
}

stream {
	server {
		listen 127.0.0.1:$port ssl backlog=4096;
		ssl_certificate $PX/server/svid.pem;
		ssl_certificate_key $PX/server/svid.key;
		ssl_client_certificate $PX/ca/bundle.pem;
		ssl_verify_client on;
		ssl_verify_depth 2;
		ssl_protocols TLSv1.3;
		ssl_ecdh_curve prime256v1;
		ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256;
		proxy_pass 127.0.0.1:$PX_BACKEND_PORT;
	}
}
EOF
	px_spawn "$SERVER_CPU" "$d/log" nginx -p "$d" -e "$d/error.log" -c "$d/nginx.conf"
	TGT_PID=$SPAWN_PID
	px_wait_port "$port" "$TGT_PID" "$d/log" || return 1
	TGT_ADDR=127.0.0.1:$port
	TGT_FDS=2
	TGT_NOTE="nginx $(nginx -v 2>&1 | sed -n 's|.*nginx/||p'), master + 1 worker"
}

target_stunnel_check() {
	command -v stunnel4 >/dev/null || command -v stunnel >/dev/null && return 0
	SKIP_REASON="stunnel not installed (mk/deps.sh bench)"
	return 1
}

target_stunnel_start() {
	local d=$PX/stunnel port bin
	bin=$(command -v stunnel4 || command -v stunnel)
	port=$(px_free_port)
	mkdir -p "$d"
	cat >"$d/stunnel.conf" <<EOF
foreground = yes
pid =
debug = 3

[mtls]
accept = 127.0.0.1:$port
connect = 127.0.0.1:$PX_BACKEND_PORT
cert = $PX/server/svid.pem
key = $PX/server/svid.key
CAfile = $PX/ca/bundle.pem
verifyChain = yes
requireCert = yes
sslVersionMin = TLSv1.3
ciphersuites = TLS_AES_128_GCM_SHA256
curves = prime256v1
TIMEOUTidle = 600
EOF
	px_spawn "$SERVER_CPU" "$d/log" "$bin" "$d/stunnel.conf"
	TGT_PID=$SPAWN_PID
	px_wait_port "$port" "$TGT_PID" "$d/log" || return 1
	TGT_ADDR=127.0.0.1:$port
	TGT_FDS=2
	TGT_NOTE="stunnel $("$bin" -version 2>&1 | awk '/^stunnel/ { print $2; exit }'), a thread per connection"
}

# authd (docs/daemon.md): the mesh listener of workload bench/server ends
# mTLS; the client sends "CONNECT 127.0.0.1:BACKEND HTTP/1.1", waits for
# 200, and the rest is the tunnel to the backend (an app of the workload).
target_authd_check() {
	[ -x "$BUILD/authd" ] && return 0
	SKIP_REASON="authd not built ($BUILD/authd missing)"
	return 1
}

# px_authd_config DIR MESH_PORT [UPSTREAM_PORT]: a config with workload
# bench/server (inbound) and, with UPSTREAM_PORT, bench/client whose
# upstream listener dials bench/server's mesh listener.
px_authd_config() {
	local d=$1 mesh=$2 up=${3:-} admin
	admin=$(px_free_port)
	PX_AUTHD_ADMIN=$admin
	cat >"$d/authd.yaml" <<EOF
trust_domain: $PX_TD
state_dir: $d
ca_dir: $PX/ca
store: $d/store.mdb
admin: 127.0.0.1:$admin
access_log: "off"
log_level: warn
workers: 1   # one loop: the server is pinned to one core, like every peer here
limits:
  idle_timeout: 1h
  max_connections: 30000
  max_connections_per_workload: 30000
workloads:
  - name: server
    namespace: bench
    service_account: server
    listen: 127.0.0.1:$mesh
    apps: [127.0.0.1:$PX_BACKEND_PORT]
EOF
	if [ -n "$up" ]; then
		cat >>"$d/authd.yaml" <<EOF
  - name: client
    namespace: bench
    service_account: client
    upstreams:
      - listen: 127.0.0.1:$up
        peer: 127.0.0.1:$mesh
        target: 127.0.0.1:$PX_BACKEND_PORT
        expect_id: $PX_SERVER_ID
EOF
	fi
	if ! "$AUTHCTL" policy allow --db "$d/store.mdb" --from "$PX_CLIENT_ID" --to "$PX_SERVER_ID" \
		--port "$PX_BACKEND_PORT" >"$d/policy.log" 2>&1 ||
		! "$AUTHCTL" policy allow --db "$d/store.mdb" --from "$PX_APP_ID" --to "$PX_SERVER_ID" \
			--port "$PX_BACKEND_PORT" >>"$d/policy.log" 2>&1; then
		START_ERR="authctl policy allow failed: $(tr '\n' ' ' <"$d/policy.log")"
		return 1
	fi
}

# px_authd_ready PID LOG: until /readyz answers 200 (15 s at most).
px_authd_ready() {
	local pid=$1 log=$2 i
	for i in $(seq 150); do
		if ! kill -0 "$pid" 2>/dev/null; then
			START_ERR="exited at start: $(tail -c 400 "$log" | tr '\n' ' ')"
			return 1
		fi
		curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$PX_AUTHD_ADMIN/readyz" 2>/dev/null && return 0
		sleep 0.1
	done
	START_ERR="/readyz not 200 after 15 s"
	return 1
}

target_authd_start() {
	local d=$PX/authd mesh
	mesh=$(px_free_port)
	mkdir -p "$d"
	px_authd_config "$d" "$mesh" || return 1
	px_spawn "$SERVER_CPU" "$d/log" "$BUILD/authd" --config "$d/authd.yaml"
	TGT_PID=$SPAWN_PID
	px_authd_ready "$TGT_PID" "$d/log" || return 1
	TGT_ADDR=127.0.0.1:$mesh
	TGT_ARGS=(--connect "127.0.0.1:$PX_BACKEND_PORT")
	TGT_FDS=2
	TGT_NOTE="authd, mesh listener (mTLS + CONNECT), access log off"
}

# authd2: the whole mesh path through one authd: plaintext into bench/client's
# upstream listener, mTLS (authd as client) to bench/server's mesh listener,
# CONNECT, the backend. authd does both ends of every handshake, and its
# outbound side resumes sessions (docs/daemon.md), so its "handshake" figure
# is new end-to-end connections per second, not full handshakes.
target_authd2_check() {
	target_authd_check
}

target_authd2_start() {
	local d=$PX/authd2 mesh up
	mesh=$(px_free_port)
	up=$(px_free_port)
	mkdir -p "$d"
	px_authd_config "$d" "$mesh" "$up" || return 1
	px_spawn "$SERVER_CPU" "$d/log" "$BUILD/authd" --config "$d/authd.yaml"
	TGT_PID=$SPAWN_PID
	px_authd_ready "$TGT_PID" "$d/log" || return 1
	TGT_ADDR=127.0.0.1:$up
	TGT_ARGS=(--plain)
	TGT_TLS=0
	TGT_NOTE="authd, two hops in one process: plaintext -> upstream -> mTLS -> mesh listener; idle: both hops' memory per client connection"
	TGT_FDS=4	# app, outbound mTLS, inbound mTLS, backend
}

# ---------------------------------------------------------------- measuring

# px_client_args KIND: load_bench's arguments for the current target in
# CLIENT_ARGS. KIND: measure (SVID, server chain not re-checked), verify
# (SVID, server chain checked against the bundle), nocert (no certificate).
px_client_args() {
	CLIENT_ARGS=(--target "$TGT_ADDR" "${TGT_ARGS[@]}")
	if [ "$TGT_TLS" = 1 ]; then
		case $1 in
		measure) CLIENT_ARGS+=(--cert "$PX/client/svid.pem" --key "$PX/client/svid.key" --skip-verify) ;;
		verify) CLIENT_ARGS+=(--cert "$PX/client/svid.pem" --key "$PX/client/svid.key" --cacert "$PX/ca/bundle.pem") ;;
		nocert) CLIENT_ARGS+=(--skip-verify) ;;
		esac
	fi
	[ -z "$CLIENT_CPU" ] || CLIENT_ARGS+=(--cpu "$CLIENT_CPU")
}

# px_load KIND MODE ARGS...: run load_bench against the current target,
# pinned to the client CPU; sets LB_LINE (its key=value line) and LB_CPU
# (the target's CPU use during the run, % of one core). Non-zero and LB_ERR
# when load_bench fails.
px_load() {
	local kind=$1 mode=$2 t0 t1 c0 c1 out rc=0
	shift 2
	px_client_args "$kind"
	local args=("${CLIENT_ARGS[@]}")
	c0=$(px_cpu_ticks "$TGT_PID")
	t0=${EPOCHREALTIME//[!0-9]/}
	out=$(timeout $((PX_SECONDS + 60)) "$LOAD_BENCH" "$mode" "${args[@]}" "$@" 2>"$PX/lb.err") || rc=$?
	t1=${EPOCHREALTIME//[!0-9]/}
	c1=$(px_cpu_ticks "$TGT_PID")
	LB_LINE=$(grep '^mode=' <<<"$out" || true)
	LB_CPU=$(awk -v d=$((c1 - c0)) -v hz="$CLK_TCK" -v us=$((10#$t1 - 10#$t0)) \
		'BEGIN { printf "%.0f", (us > 0 ? d / hz * 1e8 / us : 0) }')
	if [ "$rc" -ne 0 ] || [ -z "$LB_LINE" ]; then
		LB_ERR="load_bench $mode failed (exit $rc): $(tr '\n' ' ' <"$PX/lb.err" | tail -c 300)"
		return 1
	fi
	if grep -q 'first error' "$PX/lb.err"; then
		echo "   ($mode: $(grep 'first error' "$PX/lb.err"))" >&2
	fi
	return 0
}

# px_idle: hold PX_IDLE connections (fewer when the target needs more than
# two descriptors per connection: TGT_FDS); sets IDLE_KIB (per connection), IDLE_HELD.
px_idle() {
	local before after lb pid i args want=$PX_IDLE fds=${TGT_FDS:-2}
	if [ $(((PX_NOFILE - 256) / fds)) -lt "$want" ]; then
		want=$(((PX_NOFILE - 256) / fds / 1000 * 1000))
	fi
	px_client_args measure
	args=("${CLIENT_ARGS[@]}")
	sleep 0.5
	before=$(px_rss_kib "$TGT_PID")
	lb=$PX/idle.out
	"$LOAD_BENCH" idle "${args[@]}" -n "$want" -c 64 -d 120 >"$lb" 2>"$PX/lb.err" </dev/null &
	pid=$!
	PX_PIDS+=("$pid")
	for i in $(seq 1500); do
		grep -q '^ready' "$lb" 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if ! grep -q '^ready' "$lb"; then
		px_kill "$pid"
		LB_ERR="load_bench idle never got ready: $(tr '\n' ' ' <"$PX/lb.err" | tail -c 300)"
		return 1
	fi
	# Let the server settle (lazy frees, late tickets) before reading its RSS.
	sleep 1
	after=$(px_rss_kib "$TGT_PID")
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	IDLE_HELD=$(sed -nE 's/^ready conns=([0-9]+).*/\1/p' "$lb")
	IDLE_BEFORE=$before
	IDLE_AFTER=$after
	if [ "${IDLE_HELD:-0}" -lt "$want" ]; then
		LB_ERR="held only ${IDLE_HELD:-0} of $want idle connections: $(tr '\n' ' ' <"$PX/lb.err" | tail -c 300)"
		return 1
	fi
	IDLE_KIB=$(awk -v a="$after" -v b="$before" -v n="$IDLE_HELD" 'BEGIN { printf "%.1f", (a - b) / n }')
}


# px_measure NAME: the checks, then every figure of one target into R[NAME.*].
px_measure() {
	local n=$1 line
	if [ "$TGT_TLS" = 1 ]; then
		# The server's chain verifies, and a client without a certificate is refused.
		if ! px_load verify handshake -n 1 -c 1 -d 10; then
			LB_ERR="a verifying client fails: $LB_ERR"
			return 1
		fi
		if px_load nocert handshake -n 1 -c 1 -d 10; then
			LB_ERR="accepts a client without a certificate"
			return 1
		fi
	fi
	# Warm-up: lazy initialisation, allocator pools, the backend's accept queue.
	px_load measure handshake -c 8 -d 1 || return 1

	px_idle || return 1
	R[$n.idle_kib]=$IDLE_KIB
	R[$n.idle_conns]=$IDLE_HELD
	R[$n.rss_before_kib]=$IDLE_BEFORE
	R[$n.rss_after_kib]=$IDLE_AFTER
	echo "   idle: $IDLE_HELD connections, RSS $IDLE_BEFORE -> $IDLE_AFTER KiB: $IDLE_KIB KiB each" >&2

	px_load measure handshake -c "$PX_CONC" -d "$PX_SECONDS" || return 1
	line=$LB_LINE
	R[$n.hs]=$(kv "$line" rate)
	R[$n.hs_p50]=$(kv "$line" p50_us)
	R[$n.hs_p99]=$(kv "$line" p99_us)
	R[$n.hs_errors]=$(kv "$line" errors)
	R[$n.hs_cpu]=$LB_CPU
	echo "   handshake: ${R[$n.hs]}/s (server CPU $LB_CPU %)" >&2

	if [ "$TGT_TLS" = 1 ]; then
		px_load measure handshake --resume -c "$PX_CONC" -d "$PX_SECONDS" || return 1
		line=$LB_LINE
		R[$n.res]=$(kv "$line" rate)
		R[$n.res_frac]=$(kv "$line" resumed_frac)
		R[$n.res_errors]=$(kv "$line" errors)
		R[$n.res_cpu]=$LB_CPU
		echo "   resumed: ${R[$n.res]}/s, $(kv "$line" resumed) of $(kv "$line" ok) resumed (server CPU $LB_CPU %)" >&2
	fi

	px_load measure rr -c "$PX_RR_CONC" -d "$PX_SECONDS" || return 1
	line=$LB_LINE
	R[$n.rr]=$(kv "$line" rate)
	R[$n.rr_p50]=$(kv "$line" p50_us)
	R[$n.rr_p99]=$(kv "$line" p99_us)
	R[$n.rr_errors]=$(kv "$line" errors)
	R[$n.rr_cpu]=$LB_CPU
	echo "   rr: ${R[$n.rr]}/s, p50 ${R[$n.rr_p50]} us, p99 ${R[$n.rr_p99]} us (server CPU $LB_CPU %)" >&2

	px_load measure bulk -c 1 -d "$PX_SECONDS" || return 1
	line=$LB_LINE
	R[$n.bulk]=$(kv "$line" mib_s)
	R[$n.bulk_errors]=$(kv "$line" errors)
	R[$n.bulk_cpu]=$LB_CPU
	echo "   bulk: ${R[$n.bulk]} MiB/s (server CPU $LB_CPU %)" >&2
}

# px_target NAME: check, start, measure, stop. R[NAME.status] says how it went.
px_target() {
	local n=$1
	SKIP_REASON= TGT_PID= TGT_ADDR= TGT_NOTE= LB_ERR= START_ERR= TGT_TLS=1
	TGT_ARGS=()
	if ! "target_${n}_check"; then
		echo "== proxy: $n: skipped: $SKIP_REASON" >&2
		R[$n.status]="skipped: $SKIP_REASON"
		return 0
	fi
	echo "== proxy: $n" >&2
	if ! "target_${n}_start"; then
		R[$n.status]="failed to start: ${START_ERR:-see $PX/$n/}"
		echo "   $n: ${R[$n.status]}" >&2
		[ -z "$TGT_PID" ] || px_kill "$TGT_PID"
		return 0
	fi
	R[$n.note]=$TGT_NOTE
	if px_measure "$n"; then
		R[$n.status]=ok
	else
		R[$n.status]="failed: $LB_ERR"
		echo "   $n: ${R[$n.status]}" >&2
	fi
	px_kill "$TGT_PID"
}

# ---------------------------------------------------------------- report

# px_cell NAME KEY [DECIMALS]: a figure for the table, "–" when absent.
px_cell() {
	local v=${R[$1.$2]:-}
	if [ -z "$v" ]; then
		printf '–'
	else
		fmt "$v" "${3:-0}"
	fi
}

# px_ratio NAME KEY: NAME's figure over haproxy's.
px_ratio() {
	local v=${R[$1.$2]:-} b=${R[haproxy.$2]:-}
	if [ -z "$v" ] || [ -z "$b" ]; then
		printf '–'
	else
		ratio "$v" "$b"
	fi
}

px_json_num() {
	local v=${R[$1.$2]:-}
	if [ -n "$v" ]; then
		printf '%s' "$v"
	else
		printf 'null'
	fi
}

# px_resumed_cell NAME: "rate (P %)".
px_resumed_cell() {
	if [ -z "${R[$1.res]:-}" ]; then
		printf '–'
		return
	fi
	printf '%s (%s %%)' "$(px_cell "$1" res)" \
		"$(awk -v f="${R[$1.res_frac]}" 'BEGIN { printf "%.0f", f * 100 }')"
}

px_report() {
	local md=$OUT/proxy.md json=$OUT/proxy.json n first=1 k
	local keys=(hs hs_p50 hs_p99 hs_errors hs_cpu res res_frac res_errors res_cpu rr rr_p50 rr_p99
		rr_errors rr_cpu bulk bulk_errors bulk_cpu idle_kib idle_conns rss_before_kib rss_after_kib)
	{
		md_header "authd benchmarks: data plane (mTLS termination, side by side)"
		cat <<MD
- servers: $SERVER_PIN; load_bench and backend_bench: $CLIENT_PIN
- TLS 1.3, TLS_AES_128_GCM_SHA256, P-256 key exchange, P-256 SVIDs from \`authctl ca issue\` (leaf + issuer,
  one CA for every peer); every server requires a client certificate and verifies its chain
- ${PX_SECONDS} s per measurement; handshakes: $PX_CONC in flight; rr: $PX_RR_CONC connections, 1 KiB requests
  echoed; bulk: one connection, 16 MiB rounds into a counting sink; idle: $PX_IDLE connections held
- a connection counts once a byte came back through the server from the backend (in TLS 1.3 the
  client finishes its handshake before the server has checked the client certificate)

| target | full handshakes/s | resumed handshakes/s (resumed) | 1 KiB rr req/s | rr p50 µs | rr p99 µs | bulk MiB/s | KiB per idle conn |
|---|--:|--:|--:|--:|--:|--:|--:|
MD
		for n in "${PX_RUN[@]}"; do
			if [ "${R[$n.status]}" != ok ]; then
				printf '| %s | %s | | | | | | |\n' "$n" "${R[$n.status]}"
				continue
			fi
			printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$n" \
				"$(px_cell "$n" hs)" "$(px_resumed_cell "$n")" \
				"$(px_cell "$n" rr)" "$(px_cell "$n" rr_p50)" "$(px_cell "$n" rr_p99)" \
				"$(px_cell "$n" bulk 1)" "$(px_cell "$n" idle_kib 1)"
		done
		cat <<MD

Relative to haproxy (target / haproxy): above 1 is better for the rates, below 1 is better for
latency and memory.

| target | full handshakes/s | resumed handshakes/s | rr req/s | rr p50 | rr p99 | bulk MiB/s | KiB per idle conn |
|---|--:|--:|--:|--:|--:|--:|--:|
MD
		for n in "${PX_RUN[@]}"; do
			[ "${R[$n.status]}" = ok ] || continue
			printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$n" \
				"$(px_ratio "$n" hs)" "$(px_ratio "$n" res)" "$(px_ratio "$n" rr)" \
				"$(px_ratio "$n" rr_p50)" "$(px_ratio "$n" rr_p99)" "$(px_ratio "$n" bulk)" \
				"$(px_ratio "$n" idle_kib)"
		done
		cat <<MD

Server CPU during each measurement, % of one core (near 100: the server was the bottleneck; well
below: the client or the backend on the other core was), connection setup latency and errors:

| target | CPU handshakes | CPU resumed | CPU rr | CPU bulk | setup p50 / p99 µs (full) | errors hs / resumed / rr / bulk |
|---|--:|--:|--:|--:|--:|--:|
MD
		for n in "${PX_RUN[@]}"; do
			[ "${R[$n.status]}" = ok ] || continue
			printf '| %s | %s | %s | %s | %s | %s / %s | %s / %s / %s / %s |\n' "$n" \
				"${R[$n.hs_cpu]:-–}" "${R[$n.res_cpu]:-–}" "${R[$n.rr_cpu]:-–}" "${R[$n.bulk_cpu]:-–}" \
				"$(px_cell "$n" hs_p50)" "$(px_cell "$n" hs_p99)" \
				"${R[$n.hs_errors]:-–}" "${R[$n.res_errors]:-–}" "${R[$n.rr_errors]:-–}" "${R[$n.bulk_errors]:-–}"
		done
		echo
		for n in "${PX_RUN[@]}"; do
			[ -z "${R[$n.note]:-}" ] || echo "- $n: ${R[$n.note]}"
		done
	} >"$md"

	{
		printf '{"section":"proxy","machine":%s,\n' "$(json_machine)"
		printf '"settings":{"seconds":%s,"handshake_concurrency":%s,"rr_connections":%s,"rr_bytes":1024,' \
			"$PX_SECONDS" "$PX_CONC" "$PX_RR_CONC"
		printf '"bulk_round_bytes":16777216,"idle_connections":%s,"server_cpu":%s,"client_cpu":%s},\n' \
			"$PX_IDLE" "$(json_str "$SERVER_PIN")" "$(json_str "$CLIENT_PIN")"
		printf '"targets":[\n'
		for n in "${PX_RUN[@]}"; do
			[ "$first" = 1 ] || printf ',\n'
			first=0
			printf '{"name":%s,"status":%s,"note":%s' "$(json_str "$n")" "$(json_str "${R[$n.status]}")" \
				"$(json_str "${R[$n.note]:-}")"
			for k in "${keys[@]}"; do
				printf ',"%s":%s' "$k" "$(px_json_num "$n" "$k")"
			done
			printf '}'
		done
		printf '\n]}\n'
	} >"$json"
	if command -v jq >/dev/null && ! jq empty "$json" 2>/dev/null; then
		die "$json is not valid JSON (a bug in bench/proxies.sh)"
	fi
	cat "$md"
	echo
	echo "wrote $md and $json" >&2
}

# ---------------------------------------------------------------- the section

section_proxy() {
	local n hard backend=$BUILD/tools/backend_bench bpid i failed=()
	LOAD_BENCH=$BUILD/tools/load_bench
	AUTHCTL=$BUILD/authctl
	for n in "$LOAD_BENCH" "$backend" "$AUTHCTL"; do
		[ -x "$n" ] || die "$n missing: run 'make all' (or make bench)"
	done
	PX_SECONDS=${BENCH_PROXY_SECONDS:-${BENCH_SECONDS_GIVEN:-5}}
	PX_CONC=${BENCH_PROXY_CONC:-32}
	PX_RR_CONC=${BENCH_PROXY_RR_CONC:-32}
	case $PX_SECONDS in '' | *[!0-9]*) die "BENCH_PROXY_SECONDS: a whole number of seconds" ;; esac
	[ "$PX_SECONDS" -ge 1 ] && [ "$PX_SECONDS" -le 60 ] || die "BENCH_PROXY_SECONDS: 1..60"
	CLK_TCK=$(getconf CLK_TCK)

	# A proxy holds two descriptors per connection (client and backend); the
	# idle figure uses as many connections as the hard limit allows, up to 10k.
	hard=$(ulimit -Hn)
	[ "$hard" != unlimited ] || hard=1048576
	PX_NOFILE=$hard
	[ "$PX_NOFILE" -le 65536 ] || PX_NOFILE=65536
	PX_IDLE=${BENCH_IDLE_CONNS:-10000}
	case $PX_IDLE in '' | *[!0-9]*) die "BENCH_IDLE_CONNS: a whole number" ;; esac
	[ "$PX_IDLE" -le 20000 ] || die "BENCH_IDLE_CONNS: at most 20000"
	if [ $(((PX_NOFILE - 256) / 2)) -lt "$PX_IDLE" ]; then
		PX_IDLE=$(((PX_NOFILE - 256) / 2 / 1000 * 1000))
		echo "bench: proxy: the hard descriptor limit is $hard (two per proxied connection)," \
			"so $PX_IDLE idle connections, not ${BENCH_IDLE_CONNS:-10000}" >&2
	fi
	[ "$PX_IDLE" -ge 1 ] || die "descriptor limit $hard too low for the idle measurement"
	ulimit -n "$PX_NOFILE"

	# The server under test gets CPU 0 to itself; the client and the backend share CPU 1.
	if [ "$(nproc)" -ge 2 ] && taskset -c 0,1 true 2>/dev/null; then
		SERVER_CPU=0 CLIENT_CPU=1
		SERVER_PIN="CPU 0 (taskset -c 0)" CLIENT_PIN="CPU 1"
	else
		SERVER_CPU= CLIENT_CPU=
		SERVER_PIN="NOT pinned (fewer than 2 CPUs usable)" CLIENT_PIN="NOT pinned"
		echo "bench: warning: proxy section unpinned: the client competes with the server" >&2
	fi

	PX=$(cd "$OUT" && pwd)/proxy
	rm -rf "$PX"
	mkdir -p "$PX"
	at_exit px_cleanup
	"$AUTHCTL" ca init --dir "$PX/ca" --trust-domain "$PX_TD" >/dev/null 2>&1 || die "authctl ca init failed"
	"$AUTHCTL" ca issue --dir "$PX/ca" --id "$PX_SERVER_ID" --out "$PX/server" >/dev/null ||
		die "authctl ca issue (server) failed"
	"$AUTHCTL" ca issue --dir "$PX/ca" --id "$PX_CLIENT_ID" --out "$PX/client" >/dev/null ||
		die "authctl ca issue (client) failed"

	px_spawn "$CLIENT_CPU" "$PX/backend.log" "$backend" --listen 127.0.0.1:0 --lifetime 3600 \
		${CLIENT_CPU:+--cpu "$CLIENT_CPU"}
	bpid=$SPAWN_PID
	PX_BACKEND_PORT=
	for i in $(seq 50); do
		PX_BACKEND_PORT=$(sed -n 's/^port=//p' "$PX/backend.log")
		[ -z "$PX_BACKEND_PORT" ] || break
		kill -0 "$bpid" 2>/dev/null || break
		sleep 0.1
	done
	[ -n "$PX_BACKEND_PORT" ] || die "backend_bench did not start: $(cat "$PX/backend.log")"

	declare -gA R=()
	PX_RUN=()
	if [ -n "${BENCH_PROXY_TARGETS:-}" ]; then
		read -r -a PX_RUN <<<"$BENCH_PROXY_TARGETS"
	else
		PX_RUN=("${PROXY_TARGETS[@]}")
	fi
	for n in "${PX_RUN[@]}"; do
		declare -F "target_${n}_start" >/dev/null || die "no proxy target '$n' (have: ${PROXY_TARGETS[*]})"
	done
	echo "== proxy: ${PX_RUN[*]}; ${PX_SECONDS}s per measurement, $PX_IDLE idle connections" >&2
	for n in "${PX_RUN[@]}"; do
		px_target "$n"
	done
	px_cleanup
	px_report

	for n in "${PX_RUN[@]}"; do
		case ${R[$n.status]} in failed*) failed+=("$n") ;; esac
	done
	[ ${#failed[@]} -eq 0 ] || die "proxy: ${failed[*]} failed (logs in $PX/)"
}
