# shellcheck shell=bash
# The lifecycle section of bench/run.sh ("lifecycle", issue 5): how fast a
# policy revocation closes established tunnels, and what a rotation wave
# (every workload's SVID re-issued at once) costs authd in CPU. Sourced by
# bench/run.sh after bench/proxies.sh, whose process helpers (px_spawn,
# px_kill, px_free_port, px_cpu_ticks, kv; every PID in PX_PIDS is killed at
# exit) it uses, with run.sh's die, md_header, json_machine, json_str, fmt,
# at_exit, $TMP, $OUT, $BUILD.
#
#   bench/run.sh lifecycle                 this section alone
#   BENCH_REVOKE_CONNS=10000               revoked tunnels of the large run (fewer
#                                          when authd's descriptor limit forbids it)
#   BENCH_REVOKE_SMALL=1000                revoked tunnels of the comparison runs (0: none)
#   BENCH_REVOKE_REPEAT=3                  how many comparison runs
#   BENCH_REVOKE_UNRELATED=500             tunnels under a rule that stays (both runs)
#   BENCH_WAVE_WORKLOADS=100               workloads registered for the rotation wave
#
# One authd (its default workers: one event loop per CPU), unpinned, like
# the load generator and the backend; everything on loopback, everything
# under $BUILD/bench/lifecycle/.

LC_TD=lifecycle.test
LC_SERVER_ID=spiffe://$LC_TD/ns/bench/sa/server
LC_REVOKED_ID=spiffe://$LC_TD/ns/bench/sa/revoked
LC_KEPT_ID=spiffe://$LC_TD/ns/bench/sa/kept
# Seconds of authd CPU sampled before a wave (and while tunnels are held).
LC_BASE_SECONDS=2
# /metrics is polled this often (s) while waiting for a wave to finish;
# the baseline polls at the same rate, so the scrapes cost both the same.
LC_POLL=0.02

# ---------------------------------------------------------------- helpers

lc_metrics() {
	curl -fsS --max-time 5 "http://127.0.0.1:$LC_ADMIN/metrics"
}

# lc_metric PREFIX: the sum of every series whose line starts with PREFIX
# (e.g. 'authd_svid_issued_total{result="ok"}'), 0 when none.
lc_metric() {
	lc_metrics | awk -v p="$1" 'index($0, p) == 1 { s += $NF } END { printf "%d\n", s }'
}

# lc_cpu_ns PID: CPU time of every thread of PID so far, in ns
# (/proc/PID/task/*/schedstat: exact, where /proc/PID/stat counts 10 ms ticks).
lc_cpu_ns() {
	cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'
}

# lc_wait_line FILE REGEX SECONDS PID: until a line of FILE matches (0), PID
# exits or SECONDS pass (1).
lc_wait_line() {
	local f=$1 re=$2 i
	for i in $(seq $(($3 * 10))); do
		grep -qE "$re" "$f" 2>/dev/null && return 0
		kill -0 "$4" 2>/dev/null || break
		sleep 0.1
	done
	grep -qE "$re" "$f" 2>/dev/null
}

# lc_poll_for SECONDS: poll /metrics every LC_POLL for SECONDS (the baseline's load).
lc_poll_for() {
	local end
	end=$(awk -v t="$EPOCHREALTIME" -v s="$1" 'BEGIN { printf "%.6f", t + s }')
	while awk -v t="$EPOCHREALTIME" -v e="$end" 'BEGIN { exit !(t < e) }'; do
		lc_metric 'authd_svid_issued_total{result="ok"}' >/dev/null
		sleep "$LC_POLL"
	done
}

# lc_base poll|quiet: authd's CPU over LC_BASE_SECONDS, with /metrics
# polled as while waiting for a wave, or left alone; sets BASE_CPU_NS, BASE_US.
lc_base() {
	local c0 c1 t0 t1
	c0=$(lc_cpu_ns "$LC_PID")
	now_us
	t0=$REPLY
	if [ "$1" = poll ]; then
		lc_poll_for "$LC_BASE_SECONDS"
	else
		sleep "$LC_BASE_SECONDS"
	fi
	c1=$(lc_cpu_ns "$LC_PID")
	now_us
	t1=$REPLY
	BASE_CPU_NS=$((c1 - c0))
	BASE_US=$((t1 - t0))
}

# lc_free_ports N: N ports free now, below the ephemeral range
# (net.ipv4.ip_local_port_range), so no client socket takes one while authd
# is down between a kill -9 and its restart.
lc_free_ports() {
	/usr/bin/python3 -c '
import random, socket, sys
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
want, got = int(sys.argv[1]), []
ports = list(range(10000, lo))
random.shuffle(ports)
for p in ports:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); got.append(p)
    except OSError:
        pass
    s.close()
    if len(got) == want:
        break
print(" ".join(map(str, got)))' "$1"
}

# lc_client GROUP: load_bench's TLS arguments as workload GROUP (revoked, kept).
lc_client() {
	LC_ARGS=(--target "127.0.0.1:$LC_MESH" --connect "127.0.0.1:$LC_BACKEND_PORT"
		--cert "$LC/$1/svid.pem" --key "$LC/$1/svid.key" --skip-verify)
}

# ---------------------------------------------------------------- the wave

# lc_wave NAME: baseline, then `authctl ca rotate` and wait until every
# served workload has a new SVID; results in R[NAME.*].
lc_wave() {
	local n=$1 want before got c0 c1 t0 t1 tr0 tr1 k0 k1 i
	want=$((LC_WAVE + 1))	# the wave's workloads and bench/server
	lc_base poll
	R[$n.base_cpu_ns]=$BASE_CPU_NS
	R[$n.base_us]=$BASE_US
	before=$(lc_metric 'authd_svid_issued_total{result="ok"}')
	k0=$(px_cpu_ticks "$LC_PID")
	c0=$(lc_cpu_ns "$LC_PID")
	now_us
	tr0=$REPLY
	"$AUTHCTL" ca rotate --dir "$LC/ca" >"$LC/rotate.log" 2>&1 || {
		LC_ERR="authctl ca rotate failed: $(tr '\n' ' ' <"$LC/rotate.log")"
		return 1
	}
	now_us
	tr1=$REPLY
	got=$before
	for i in $(seq 3000); do	# 60 s at most
		got=$(lc_metric 'authd_svid_issued_total{result="ok"}')
		[ $((got - before)) -lt "$want" ] || break
		sleep "$LC_POLL"
	done
	now_us
	t1=$REPLY
	c1=$(lc_cpu_ns "$LC_PID")
	k1=$(px_cpu_ticks "$LC_PID")
	if [ $((got - before)) -lt "$want" ]; then
		LC_ERR="rotation wave: $((got - before)) of $want SVIDs re-issued after 60 s"
		return 1
	fi
	t0=$tr1
	R[$n.svids]=$((got - before))
	R[$n.rotate_ms]=$(awk -v us=$((tr1 - tr0)) 'BEGIN { printf "%.1f", us / 1e3 }')
	R[$n.wall_ms]=$(awk -v us=$((t1 - t0)) 'BEGIN { printf "%.1f", us / 1e3 }')
	R[$n.cpu_ms]=$(awk -v ns=$((c1 - c0)) 'BEGIN { printf "%.1f", ns / 1e6 }')
	R[$n.cpu_ticks_ms]=$(awk -v k=$((k1 - k0)) -v hz="$CLK_TCK" 'BEGIN { printf "%.0f", k * 1000 / hz }')
	# Idle CPU over the same wall time (rotate command included), from the baseline's rate.
	R[$n.idle_ms]=$(awk -v b="$BASE_CPU_NS" -v bus="$BASE_US" -v us=$((t1 - tr0)) \
		'BEGIN { printf "%.1f", (bus > 0 ? b / bus * us / 1e6 : 0) }')
	R[$n.per_svid_ms]=$(awk -v c="${R[$n.cpu_ms]}" -v s="${R[$n.svids]}" 'BEGIN { printf "%.2f", c / s }')
	R[$n.net_per_svid_ms]=$(awk -v c="${R[$n.cpu_ms]}" -v i="${R[$n.idle_ms]}" -v s="${R[$n.svids]}" \
		'BEGIN { printf "%.2f", (c - i) / s }')
	echo "   wave ($n): ${R[$n.svids]} SVIDs in ${R[$n.wall_ms]} ms after rotate returned," \
		"authd CPU ${R[$n.cpu_ms]} ms (idle ${R[$n.idle_ms]} ms), ${R[$n.per_svid_ms]} ms per SVID" >&2
}

# ---------------------------------------------------------------- revocation

# lc_revoke NAME N U: U tunnels as "kept" (a rule that stays), N as
# "revoked"; revoke the latter's rule and time every close. With WAVE set,
# a rotation wave runs while all of them are held (before the revocation).
# Results in R[NAME.*]; non-zero and LC_ERR when something is wrong.
lc_revoke() {
	local n=$1 want=$2 kept=$3 label=$4 kpid wpid fifo fd line r0 r1 a0 a1 w t_commit i k rc
	echo "== lifecycle: revocation, $want tunnels revoked, $kept kept" >&2
	R[$n.n]=$want
	R[$n.kept]=$kept
	R[$n.label]=$label
	r0=$(lc_metric 'authd_connections_total{direction="inbound",decision="revoked"')
	a0=$(grep -c '"decision":"revoked"' "$LC/access.log" 2>/dev/null || true)

	# The kept group first: it must ride out the whole revocation.
	lc_client kept
	"$LOAD_BENCH" idle "${LC_ARGS[@]}" --resume -n "$kept" -c 64 -d 120 \
		>"$LC/$n.kept.out" 2>"$LC/$n.kept.err" </dev/null &
	kpid=$!
	PX_PIDS+=("$kpid")
	LC_KPID=$kpid
	lc_wait_line "$LC/$n.kept.out" '^ready' 120 "$kpid" || {
		LC_ERR="the kept group never got ready: $(tail -c 300 "$LC/$n.kept.err" | tr '\n' ' ')"
		return 1
	}

	# The revoked group reads the write's times from a FIFO held open here.
	fifo=$LC/$n.fifo
	rm -f "$fifo"
	mkfifo "$fifo"
	exec {fd}<>"$fifo"
	lc_client revoked
	"$LOAD_BENCH" watch "${LC_ARGS[@]}" --resume -n "$want" -c 64 -d 30 \
		>"$LC/$n.watch.out" 2>"$LC/$n.watch.err" <"$fifo" &
	wpid=$!
	PX_PIDS+=("$wpid")
	LC_WPID=$wpid
	if ! lc_wait_line "$LC/$n.watch.out" '^ready' 120 "$wpid"; then
		exec {fd}>&-
		LC_ERR="the revoked group never got ready: $(tail -c 300 "$LC/$n.watch.err" | tr '\n' ' ')"
		return 1
	fi
	R[$n.ready_kept]=$(sed -nE 's/^ready conns=([0-9]+).*/\1/p' "$LC/$n.kept.out")
	R[$n.ready]=$(sed -nE 's/^ready conns=([0-9]+).*/\1/p' "$LC/$n.watch.out")
	if [ "${R[$n.ready]}" -lt "$want" ] || [ "${R[$n.ready_kept]}" -lt "$kept" ]; then
		exec {fd}>&-
		LC_ERR="held only ${R[$n.ready]} of $want revoked and ${R[$n.ready_kept]} of $kept kept tunnels:"
		LC_ERR+=" $(tail -c 300 "$LC/$n.watch.err" "$LC/$n.kept.err" | tr '\n' ' ')"
		return 1
	fi
	R[$n.active]=$(lc_metric 'authd_active_connections{direction="inbound"}')
	echo "   holding $((want + kept)) tunnels (authd counts ${R[$n.active]} inbound)" >&2

	# authd's CPU while it holds them (the 1 s tick walks every tunnel; it re-checks those whose rule expired),
	# and with WAVE, a rotation wave on top.
	lc_base quiet
	R[$n.hold_cpu_ms_s]=$(awk -v ns="$BASE_CPU_NS" -v us="$BASE_US" 'BEGIN { printf "%.1f", ns / us }')
	echo "   authd CPU while holding them: ${R[$n.hold_cpu_ms_s]} ms per second" >&2
	if [ -n "${WAVE:-}" ]; then
		lc_wave "$WAVE" || { exec {fd}>&-; return 1; }
	fi

	# The write, and its times to the watcher.
	line=$("$REVOKE_BENCH" --db "$LC/store.mdb" --from "$LC_REVOKED_ID" --to "$LC_SERVER_ID") || {
		exec {fd}>&-
		LC_ERR="revoke_bench failed"
		return 1
	}
	echo "$(kv "$line" write_start_ns) $(kv "$line" write_end_ns)" >&"$fd"
	echo "$line" >"$LC/$n.revoke"
	t_commit=$(kv "$line" write_end_ns)
	rc=0
	for i in $(seq 400); do	# 40 s: load_bench gives up after 30
		kill -0 "$wpid" 2>/dev/null || break
		sleep 0.1
	done
	wait "$wpid" 2>/dev/null || rc=$?
	LC_WPID=''	# reaped: its number may be reused
	exec {fd}>&-
	rm -f "$fifo"
	w=$(grep '^mode=watch' "$LC/$n.watch.out" || true)
	if [ -z "$w" ]; then
		LC_ERR="load_bench watch gave no result (exit $rc): $(tail -c 300 "$LC/$n.watch.err" | tr '\n' ' ')"
		return 1
	fi
	for k in min_us closed open early before_end not_closed write_us p50_us p90_us p99_us max_us \
		start_p50_us start_p99_us start_max_us resumed seconds errors; do
		R[$n.$k]=$(kv "$w" "$k")
	done
	echo "   closed ${R[$n.closed]} of ${R[$n.ready]}: first ${R[$n.min_us]} us, p50 ${R[$n.p50_us]} us, p99 ${R[$n.p99_us]} us," \
		"max ${R[$n.max_us]} us after the write returned (write ${R[$n.write_us]} us)" >&2

	# The kept group rides out at least one more tick (1 s) of re-checks.
	while [ $(($(date +%s%N) - t_commit)) -lt 1500000000 ]; do sleep 0.1; done
	# New connections: the kept identity still gets through, the revoked one does not.
	lc_client kept
	R[$n.new_kept]=fail
	"$LOAD_BENCH" handshake "${LC_ARGS[@]}" -n 1 -c 1 -d 10 >"$LC/$n.new.out" 2>&1 && R[$n.new_kept]=ok
	lc_client revoked
	R[$n.new_revoked]=admitted
	"$LOAD_BENCH" handshake "${LC_ARGS[@]}" -n 1 -c 1 -d 10 >>"$LC/$n.new.out" 2>&1 ||
		{ grep -q 'CONNECT: answered "HTTP/1.1 403' "$LC/$n.new.out" && R[$n.new_revoked]=refused; } ||
		R[$n.new_revoked]="failed otherwise"
	kill -TERM "$kpid" 2>/dev/null || true
	wait "$kpid" 2>/dev/null || true
	LC_KPID=''
	line=$(grep '^mode=idle' "$LC/$n.kept.out" || true)
	R[$n.kept_ok]=$(kv "$line" ok)
	R[$n.kept_dropped]=$(kv "$line" dropped)
	r1=$(lc_metric 'authd_connections_total{direction="inbound",decision="revoked"')
	R[$n.metric_revoked]=$((r1 - r0))
	# The access log is written when a connection ends; give the loops a moment.
	sleep 0.5
	a1=$(grep -c '"decision":"revoked"' "$LC/access.log" 2>/dev/null || true)
	R[$n.log_revoked]=$((a1 - a0))
	echo "   kept: ${R[$n.kept_ok]:-?} held, ${R[$n.kept_dropped]:-?} dropped; new connections: kept" \
		"${R[$n.new_kept]}, revoked ${R[$n.new_revoked]}; authd counted ${R[$n.metric_revoked]} revoked," \
		"logged ${R[$n.log_revoked]}" >&2

	# (lc_after_run puts the rule back.) Every revoked tunnel closed after the write, none of the others.
	LC_ERR=
	[ "${R[$n.closed]}" = "${R[$n.ready]}" ] && [ "${R[$n.open]}" = 0 ] ||
		LC_ERR+="${R[$n.open]} revoked tunnels still open; "
	[ "${R[$n.early]}" = 0 ] || LC_ERR+="${R[$n.early]} closed before the write; "
	[ "${R[$n.not_closed]}" = 0 ] || LC_ERR+="${R[$n.not_closed]} seemed closed but were not; "
	[ "${R[$n.kept_ok]:-0}" = "$kept" ] && [ "${R[$n.kept_dropped]:-1}" = 0 ] ||
		LC_ERR+="kept tunnels: ${R[$n.kept_ok]:-?} of $kept held, ${R[$n.kept_dropped]:-?} dropped; "
	[ "${R[$n.new_kept]}" = ok ] || LC_ERR+="a new kept connection failed; "
	[ "${R[$n.new_revoked]}" = refused ] || LC_ERR+="a new revoked connection was ${R[$n.new_revoked]}; "
	[ "${R[$n.metric_revoked]}" = "$want" ] ||
		LC_ERR+="authd counted ${R[$n.metric_revoked]} revoked, not $want; "
	[ -z "$LC_ERR" ]
}

# lc_after_run: whatever a run left (a failed one may leave its clients
# and its rule revoked) goes, so the next run starts clean.
lc_after_run() {
	local i
	[ -z "${LC_KPID:-}" ] || px_kill "$LC_KPID"
	[ -z "${LC_WPID:-}" ] || px_kill "$LC_WPID"
	LC_KPID='' LC_WPID=''
	# An identical rule is stored once: this only writes when it is missing.
	"$AUTHCTL" policy allow --db "$LC/store.mdb" --from "$LC_REVOKED_ID" --to "$LC_SERVER_ID" \
		--port "$LC_BACKEND_PORT" >/dev/null 2>&1 || true
	for i in $(seq 100); do
		[ "$(lc_metric 'authd_active_connections{direction="inbound"}')" -gt 0 ] || break
		sleep 0.1
	done
}

# ---------------------------------------------------------------- restart

# lc_restart: kill -9 authd with every workload served, start it again at
# once, and time (from the kill) the first tunnel through it and /readyz 200
# (every SVID issued again: keys lived only in memory). Results in R[restart.*].
lc_restart() {
	local t0 now_t i tunnel_us='' ready_us=''
	lc_client kept
	kill -KILL "$LC_PID" 2>/dev/null
	wait "$LC_PID" 2>/dev/null
	now_us
	t0=$REPLY
	px_spawn "" "$LC/authd-restart.log" prlimit --nofile="$LC_NOFILE:$LC_NOFILE" "$BUILD/authd" \
		--config "$LC/authd.yaml"
	LC_PID=$SPAWN_PID
	for i in $(seq 3000); do
		kill -0 "$LC_PID" 2>/dev/null || { LC_ERR="authd exited: $(tail -c 300 "$LC/authd-restart.log")"; return 1; }
		if [ -z "$tunnel_us" ] &&
			"$LOAD_BENCH" handshake "${LC_ARGS[@]}" --resume -c 1 -n 2 -d 1 >/dev/null 2>&1; then
			now_us
			tunnel_us=$((REPLY - t0))
		fi
		if [ -z "$ready_us" ] &&
			curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$LC_ADMIN/readyz" 2>/dev/null; then
			now_us
			ready_us=$((REPLY - t0))
		fi
		[ -n "$tunnel_us" ] && [ -n "$ready_us" ] && break
		sleep 0.01
	done
	[ -n "$tunnel_us" ] && [ -n "$ready_us" ] || { LC_ERR="not serving 30 s after the restart"; return 1; }
	R[restart.tunnel_ms]=$(awk -v u="$tunnel_us" 'BEGIN { printf "%.0f", u / 1000 }')
	R[restart.ready_ms]=$(awk -v u="$ready_us" 'BEGIN { printf "%.0f", u / 1000 }')
	R[restart.svids]=$((LC_WAVE + 1))
	echo "   restart after kill -9: first tunnel ${R[restart.tunnel_ms]} ms, /readyz ${R[restart.ready_ms]} ms" >&2
}

# ---------------------------------------------------------------- set-up

# lc_start: CA, client SVIDs, backend, authd with bench/server and the
# wave's workloads, every SVID issued.
lc_start() {
	local bpid i ports p
	"$AUTHCTL" ca init --dir "$LC/ca" --trust-domain "$LC_TD" >/dev/null 2>&1 || die "authctl ca init failed"
	"$AUTHCTL" ca issue --dir "$LC/ca" --id "$LC_REVOKED_ID" --out "$LC/revoked" >/dev/null ||
		die "authctl ca issue failed"
	"$AUTHCTL" ca issue --dir "$LC/ca" --id "$LC_KEPT_ID" --out "$LC/kept" >/dev/null ||
		die "authctl ca issue failed"

	px_spawn "" "$LC/backend.log" "$BUILD/tools/backend_bench" --listen 127.0.0.1:0 --lifetime 3600
	bpid=$SPAWN_PID
	LC_BACKEND_PORT=
	for i in $(seq 50); do
		LC_BACKEND_PORT=$(sed -n 's/^port=//p' "$LC/backend.log")
		[ -z "$LC_BACKEND_PORT" ] || break
		kill -0 "$bpid" 2>/dev/null || break
		sleep 0.1
	done
	[ -n "$LC_BACKEND_PORT" ] || die "backend_bench did not start: $(cat "$LC/backend.log")"

	read -r LC_MESH LC_ADMIN <<<"$(lc_free_ports 2)"
	cat >"$LC/authd.yaml" <<EOF
trust_domain: $LC_TD
state_dir: $LC
ca_dir: $LC/ca
store: $LC/store.mdb
admin: 127.0.0.1:$LC_ADMIN
access_log: $LC/access.log
log_level: info
limits:
  idle_timeout: 1h
  max_connections: $LC_MAXCONN
  max_connections_per_workload: $LC_MAXCONN
workloads:
  - name: server
    namespace: bench
    service_account: server
    listen: 127.0.0.1:$LC_MESH
    apps: [127.0.0.1:$LC_BACKEND_PORT]
EOF
	for p in revoked kept; do
		"$AUTHCTL" policy allow --db "$LC/store.mdb" --from "spiffe://$LC_TD/ns/bench/sa/$p" \
			--to "$LC_SERVER_ID" --port "$LC_BACKEND_PORT" >/dev/null || die "authctl policy allow failed"
	done
	# The wave's workloads, registered in the store as an operator would,
	# each with a mesh listener of its own (a TLS server config per SVID).
	ports=$(lc_free_ports "$LC_WAVE")
	i=0
	for p in $ports; do
		"$AUTHCTL" workload add "w$i" --namespace wave --db "$LC/store.mdb" \
			--listen "127.0.0.1:$p" --app "127.0.0.1:$LC_BACKEND_PORT" >/dev/null ||
			die "authctl workload add failed"
		i=$((i + 1))
	done

	px_spawn "" "$LC/authd.log" prlimit --nofile="$LC_NOFILE:$LC_NOFILE" "$BUILD/authd" --config "$LC/authd.yaml"
	LC_PID=$SPAWN_PID
	for i in $(seq 600); do
		kill -0 "$LC_PID" 2>/dev/null || die "authd exited at start: $(tail -c 400 "$LC/authd.log")"
		if curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$LC_ADMIN/readyz" 2>/dev/null &&
			[ "$(lc_metric 'authd_svid_issued_total{result="ok"}')" -ge $((LC_WAVE + 1)) ]; then
			break
		fi
		sleep 0.1
	done
	[ "$(lc_metric 'authd_svid_issued_total{result="ok"}')" -ge $((LC_WAVE + 1)) ] ||
		die "authd: not every SVID issued after 60 s: $(tail -c 400 "$LC/authd.log")"
	LC_WORKERS=$(nproc)
}

# ---------------------------------------------------------------- report

lc_cell() {
	local v=${R[$1.$2]:-}
	if [ -z "$v" ]; then printf '–'; else fmt "$v" "${3:-0}"; fi
}

# lc_ms NAME KEY: a µs figure as ms with two decimals.
lc_ms() {
	local v=${R[$1.$2]:-}
	if [ -z "$v" ]; then printf '–'; else awk -v x="$v" 'BEGIN { printf "%.2f", x / 1000 }'; fi
}

lc_json_num() {
	local v=${R[$1.$2]:-}
	case $v in
	'' | *[!0-9.]*) printf 'null' ;;
	*) printf '%s' "$v" ;;
	esac
}

lc_report() {
	local md=$OUT/lifecycle.md json=$OUT/lifecycle.json n first k
	{
		md_header "authd benchmarks: lifecycle (revocation latency, rotation wave CPU)"
		cat <<MD
- authd: default \`workers\` (one event loop per CPU: $LC_WORKERS here), log_level info, access log to a
  file, unpinned; load_bench and backend_bench unpinned on the same CPUs; everything on loopback
- descriptors: authd's limit $LC_NOFILE ($LC_NOFILE_NOTE)

## Revocation: policy write → tunnel closed

$LC_N_NOTE Each tunnel is a resumed TLS 1.3 mTLS connection to bench/server's mesh
listener, CONNECT to the backend, one echoed byte; then it idles. \`revoke_bench\` removes the revoked
group's rule in one LMDB write (\`policy_revoke_match\`, as \`authctl policy revoke --from --to\`) and reads
CLOCK_REALTIME just before and just after it; \`load_bench watch\` stamps each tunnel's close with
CLOCK_REALTIME as epoll reports it. Latency = close − end of the write (closes seen before the write had
returned count as 0: the commit makes the revision visible, then touches the file to wake watchers). authd notices
the revision by a file event on the store (or its 1 s tick) and re-checks every established tunnel.
There is no reference here: haproxy, nginx and stunnel have no live policy (a reload leaves established
connections as they are).

| run | revoked | kept | closed | first close ms | p50 ms | p99 ms | last close ms | write ms | kept tunnels untouched | new conn: kept / revoked | authd CPU holding, ms/s |
|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|
MD
		for n in "${LC_RUNS[@]}"; do
			if [ -z "${R[$n.closed]:-}" ]; then
				printf '| %s | %s | %s | %s | | | | | | | | |\n' "${R[$n.label]}" "${R[$n.n]}" "${R[$n.kept]}" \
					"${R[$n.status]}"
				continue
			fi
			printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s of %s | %s / %s | %s |\n' \
				"${R[$n.label]}" "${R[$n.ready]:-${R[$n.n]}}" "${R[$n.kept]}" "${R[$n.closed]:-–}" \
				"$(lc_ms "$n" min_us)" "$(lc_ms "$n" p50_us)" "$(lc_ms "$n" p99_us)" "$(lc_ms "$n" max_us)" \
				"$(lc_ms "$n" write_us)" \
				"$(( ${R[$n.kept_ok]:-0} - ${R[$n.kept_dropped]:-0} ))" "${R[$n.kept]}" \
				"${R[$n.new_kept]:-–}" "${R[$n.new_revoked]:-–}" "${R[$n.hold_cpu_ms_s]:-–}"
		done
		cat <<MD

authd's CPU without tunnels: $LC_IDLE_CPU ms per second (its 1 s tick; "holding" is the same with the
tunnels open, nothing sent on them). Times are from the end of the write. "first close" is how long authd took to notice the revision and
act; "last close − first close" is the time to close them all. A first close far above a few ms means
authd noticed on its 1 s tick, not on the file event (see bench/README.md). Each run: its status,
authd's own count (\`authd_connections_total{decision="revoked"}\`) and access-log lines for it, and
the closes seen before the write had returned (counted as 0 ms; from the write's start they are in
lifecycle.json, \`start_*_us\`):

MD
		for n in "${LC_RUNS[@]}"; do
			echo "- ${R[$n.label]}: ${R[$n.status]}; authd counted ${R[$n.metric_revoked]:-?} revoked," \
				"access log ${R[$n.log_revoked]:-?}; ${R[$n.before_end]:-?} closes before the write returned"
		done
		cat <<MD

## Rotation wave: every SVID on the node re-issued

$((LC_WAVE + 1)) workloads (bench/server and $LC_WAVE registered with \`authctl workload add\`, each with a mesh
listener), then \`authctl ca rotate\` (a new issuer under the same root). authd sees ca_dir change,
waits its 200 ms debounce, reloads and re-issues every SVID (P-256 key and signature on its thread pool,
one at a time; a TLS server config per SVID; the SVID's status written to the store). Wall: from
\`ca rotate\` returning to the last \`authd_svid_issued_total{result="ok"}\` (/metrics polled every
${LC_POLL}s; the debounce is included). CPU: authd's threads from before the rotate command to the end
(/proc/PID/task/*/schedstat); idle: authd's CPU over the same time at the rate measured just before
(${LC_BASE_SECONDS}s, /metrics polled the same way). Reference: \`certs_bench\` svid_issue, the library's
keygen + sign alone on one core (what a wave cannot go below); OpenSSL's figures for the same are in
the certs section.

| state | SVIDs | wall ms | \`ca rotate\` ms | authd CPU ms | idle CPU ms, same wall | CPU ms per SVID | net of idle | certs_svid_new ms (library floor) | per SVID / floor |
|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|
MD
		for n in "${LC_WAVES[@]}"; do
			if [ -z "${R[$n.svids]:-}" ]; then
				printf '| %s | %s | | | | | | | | |\n' "$n" "${R[$n.status]:-not run}"
				continue
			fi
			printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "${R[$n.label]}" \
				"${R[$n.svids]}" "$(lc_cell "$n" wall_ms 0)" "$(lc_cell "$n" rotate_ms 0)" \
				"$(lc_cell "$n" cpu_ms 0)" "$(lc_cell "$n" idle_ms 0)" "${R[$n.per_svid_ms]}" \
				"${R[$n.net_per_svid_ms]}" "${LC_FLOOR_MS:-–}" \
				"$( [ -n "${LC_FLOOR_MS:-}" ] && ratio "${R[$n.net_per_svid_ms]}" "$LC_FLOOR_MS" || printf '–')"
		done
		cat <<MD

## Restart after kill -9

authd killed with SIGKILL while serving $((LC_WAVE + 1)) workloads, started again at once with the same
config and store. Times from the kill: the first tunnel through bench/server (load_bench, retried
every 10 ms) and \`/readyz\` 200, which needs every SVID issued again (keys lived only in memory).

| workloads | first tunnel ms | /readyz 200 ms | status |
|--:|--:|--:|---|
| ${R[restart.svids]:-–} | ${R[restart.tunnel_ms]:-–} | ${R[restart.ready_ms]:-–} | ${R[restart.status]:-not run} |
MD
	} >"$md"

	{
		printf '{"section":"lifecycle","machine":%s,\n' "$(json_machine)"
		printf '"settings":{"workers":%s,"nofile":%s,"wave_workloads":%s,"poll_s":%s,"base_s":%s},\n' \
			"$LC_WORKERS" "$LC_NOFILE" "$LC_WAVE" "$LC_POLL" "$LC_BASE_SECONDS"
		printf '"idle_cpu_ms_s":%s,\n' "$LC_IDLE_CPU"
		printf '"revocation":[\n'
		first=1
		for n in "${LC_RUNS[@]}"; do
			[ "$first" = 1 ] || printf ',\n'
			first=0
			printf '{"name":%s,"status":%s,"new_kept":%s,"new_revoked":%s' "$(json_str "$n")" \
				"$(json_str "${R[$n.status]}")" "$(json_str "${R[$n.new_kept]:-}")" \
				"$(json_str "${R[$n.new_revoked]:-}")"
			for k in n kept ready ready_kept active closed open early before_end not_closed write_us min_us \
				p50_us p90_us p99_us max_us start_p50_us start_p99_us start_max_us resumed seconds \
				kept_ok kept_dropped metric_revoked log_revoked hold_cpu_ms_s; do
				printf ',"%s":%s' "$k" "$(lc_json_num "$n" "$k")"
			done
			printf '}'
		done
		printf '\n],\n"rotation":[\n'
		first=1
		for n in "${LC_WAVES[@]}"; do
			[ "$first" = 1 ] || printf ',\n'
			first=0
			printf '{"name":%s,"status":%s' "$(json_str "$n")" "$(json_str "${R[$n.status]:-not run}")"
			for k in svids wall_ms rotate_ms cpu_ms cpu_ticks_ms idle_ms per_svid_ms net_per_svid_ms \
				base_cpu_ns base_us; do
				printf ',"%s":%s' "$k" "$(lc_json_num "$n" "$k")"
			done
			printf '}'
		done
		printf '\n],\n"restart":{"status":%s,"workloads":%s,"tunnel_ms":%s,"ready_ms":%s},\n' \
			"$(json_str "${R[restart.status]:-not run}")" "${R[restart.svids]:-null}" \
			"${R[restart.tunnel_ms]:-null}" "${R[restart.ready_ms]:-null}"
		printf '"library_floor_ms":%s}\n' "${LC_FLOOR_MS:-null}"
	} >"$json"
	if command -v jq >/dev/null && ! jq empty "$json" 2>/dev/null; then
		die "$json is not valid JSON (a bug in bench/lifecycle.sh)"
	fi
	cat "$md"
	echo
	echo "wrote $md and $json" >&2
}

# ---------------------------------------------------------------- the section

section_lifecycle() {
	local t hard big small reps kept reserve fit failed=() lib i
	LOAD_BENCH=$BUILD/tools/load_bench
	REVOKE_BENCH=$BUILD/tools/revoke_bench
	AUTHCTL=$BUILD/authctl
	for t in "$BUILD/authd" "$LOAD_BENCH" "$REVOKE_BENCH" "$BUILD/tools/backend_bench" \
		"$BUILD/tools/certs_bench" "$AUTHCTL"; do
		[ -x "$t" ] || die "$t missing: run 'make all' (or make bench)"
	done
	for t in curl prlimit mkfifo; do
		command -v "$t" >/dev/null || die "lifecycle: $t not found"
	done
	CLK_TCK=$(getconf CLK_TCK)
	big=${BENCH_REVOKE_CONNS:-10000}
	small=${BENCH_REVOKE_SMALL:-1000}
	reps=${BENCH_REVOKE_REPEAT:-3}
	kept=${BENCH_REVOKE_UNRELATED:-500}
	LC_WAVE=${BENCH_WAVE_WORKLOADS:-100}
	for t in "$big" "$small" "$reps" "$kept" "$LC_WAVE"; do
		case $t in '' | *[!0-9]*) die "BENCH_REVOKE_*, BENCH_WAVE_WORKLOADS: whole numbers" ;; esac
	done
	[ "$big" -ge 1 ] && [ "$big" -le 20000 ] || die "BENCH_REVOKE_CONNS: 1..20000"
	[ "$small" -le 20000 ] || die "BENCH_REVOKE_SMALL: 0..20000"
	[ "$reps" -ge 1 ] && [ "$reps" -le 20 ] || die "BENCH_REVOKE_REPEAT: 1..20"
	[ "$kept" -ge 1 ] && [ "$kept" -le 20000 ] || die "BENCH_REVOKE_UNRELATED: 1..20000"
	[ "$LC_WAVE" -ge 1 ] && [ "$LC_WAVE" -le 1000 ] || die "BENCH_WAVE_WORKLOADS: 1..1000"

	# authd holds two descriptors per tunnel (peer, app) plus one listener
	# per workload per loop. Raise its limit where we may (CAP_SYS_RESOURCE);
	# else the revoked count shrinks to the largest thousand that fits.
	hard=$(ulimit -Hn)
	[ "$hard" != unlimited ] || hard=1048576
	if [ "$hard" -lt 65536 ] && (ulimit -Hn 65536) 2>/dev/null; then
		LC_NOFILE=65536
		LC_NOFILE_NOTE="raised from $hard"
	else
		LC_NOFILE=$hard
		[ "$LC_NOFILE" -le 65536 ] || LC_NOFILE=65536
		LC_NOFILE_NOTE="the hard limit; not raisable here (no CAP_SYS_RESOURCE)"
	fi
	reserve=$((256 + 2 * $(nproc) * (LC_WAVE + 1)))
	fit=$(((LC_NOFILE - reserve) / 2 - kept))
	LC_N_NOTE="$big tunnels revoked, $kept kept (a rule that stays) next to them."
	if [ "$fit" -lt "$big" ]; then
		LC_N_NOTE="$((fit / 1000 * 1000)) tunnels revoked, not $big: authd's descriptor limit is $LC_NOFILE"
		LC_N_NOTE+=" ($LC_NOFILE_NOTE), it needs two per tunnel, and $kept kept tunnels (a rule that"
		LC_N_NOTE+=" stays) and the listeners need their share."
		big=$((fit / 1000 * 1000))
		echo "bench: lifecycle: authd's descriptor limit is $LC_NOFILE, so $big revoked tunnels" \
			"(+ $kept kept), not ${BENCH_REVOKE_CONNS:-10000}" >&2
	fi
	[ "$big" -ge 1 ] || die "lifecycle: descriptor limit $LC_NOFILE too low"
	[ "$small" -lt "$big" ] || small=0
	LC_MAXCONN=$((big + kept + 100))

	LC=$(cd "$OUT" && pwd)/lifecycle
	rm -rf "$LC"
	mkdir -p "$LC"
	at_exit px_cleanup
	declare -gA R=()

	echo "== lifecycle: authd with $((LC_WAVE + 1)) workloads" >&2
	lc_start

	lc_base quiet
	LC_IDLE_CPU=$(awk -v ns="$BASE_CPU_NS" -v us="$BASE_US" 'BEGIN { printf "%.1f", ns / us }')
	echo "   authd CPU idle, no tunnels: $LC_IDLE_CPU ms per second" >&2

	LC_RUNS=()
	LC_WAVES=(wave_idle wave_tunnels)
	R[wave_idle.label]="idle (no tunnels)"
	R[wave_tunnels.label]="$((big + kept)) tunnels held"
	for i in $(seq "$reps"); do
		[ "$small" -gt 0 ] || break
		LC_RUNS+=("revoke_small_$i")
		if WAVE='' lc_revoke "revoke_small_$i" "$small" "$kept" "$small, #$i"; then
			R[revoke_small_$i.status]=ok
		else
			R[revoke_small_$i.status]="failed: $LC_ERR"
			echo "   ${R[revoke_small_$i.status]}" >&2
		fi
		lc_after_run
	done
	LC_RUNS+=(revoke_big)
	if WAVE=wave_tunnels lc_revoke revoke_big "$big" "$kept" "$big"; then R[revoke_big.status]=ok; else
		R[revoke_big.status]="failed: $LC_ERR"
		echo "   ${R[revoke_big.status]}" >&2
	fi
	lc_after_run
	[ -n "${R[wave_tunnels.svids]:-}" ] && R[wave_tunnels.status]=ok

	echo "== lifecycle: rotation wave, no tunnels" >&2
	if lc_wave wave_idle; then R[wave_idle.status]=ok; else
		R[wave_idle.status]="failed: $LC_ERR"
		echo "   ${R[wave_idle.status]}" >&2
	fi
	echo "== lifecycle: kill -9 and restart with $((LC_WAVE + 1)) workloads" >&2
	if lc_restart; then R[restart.status]=ok; else
		R[restart.status]="failed: $LC_ERR"
		echo "   ${R[restart.status]}" >&2
	fi
	px_cleanup

	echo "== lifecycle: certs_bench (1 s per operation): the library's issuance cost" >&2
	lib=$(timeout 60 "$BUILD/tools/certs_bench" --seconds 1 --json) || lib=
	LC_FLOOR_MS=$(sed -nE '/"name":"svid_issue"/ s/.*"p50_us":([0-9.]+).*/\1/p' <<<"$lib" |
		awk 'NF { printf "%.2f", $1 / 1000 }')
	lc_report

	for t in "${LC_RUNS[@]}" "${LC_WAVES[@]}" restart; do
		case ${R[$t.status]:-failed} in ok) ;; *) failed+=("$t") ;; esac
	done
	[ ${#failed[@]} -eq 0 ] || die "lifecycle: ${failed[*]} failed (logs in $LC/)"
}
