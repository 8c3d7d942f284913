# Network-namespace "nodes" and "pods" for the end-to-end tests. Source it
# after tests/lib/testlib.sh, then call netns_init (which skips the whole
# script, through `finish`, when namespaces are unavailable: not root, or no
# `ip netns`).
#
# Names. Every run picks a tag ("ad" + 4 hex digits, unused by any
# namespace or link at the time) and every namespace is "authd-TAG-SUFFIX",
# so parallel runs and leftovers of killed runs cannot collide:
#   authd-TAG-fab     the fabric: one bridge, br0, joining the nodes
#   authd-TAG-nN      node N (1..99)
#   authd-TAG-nNpP    pod P (1..99) on node N
# Functions taking a namespace accept the short form (fab, n1, n1p2) or a
# full name. Veths are created directly inside their namespaces (never in
# the caller's), named TAGfab (node side) / TAGnN (bridge side) and TAGpP
# (node side) / eth0 (pod side): at most 10 characters, within IFNAMSIZ.
#
# Addresses (IPv4 only):
#   node N on the fabric       10.99.0.N/24              node_ip N
#   node N facing its pod P    10.(100+N).P.1/24         gw_ip N P
#   pod P on node N            10.(100+N).P.2/24         pod_ip N P
# A pod's default route is its node. Nodes forward (ip_forward=1) and route
# every other node's 10.(100+M).0.0/16 via 10.99.0.M: a flat pod network,
# as in Kubernetes. Loopback is up everywhere.
#
# Teardown. netns_init registers netns_teardown with at_exit, and turns
# SIGINT/SIGTERM/SIGHUP into an exit, so a failing or interrupted test still
# stops every process started with start_bg (SIGTERM, then SIGKILL after
# about 3 s; each one waited for), kills whatever else still runs inside the
# run's namespaces, and deletes the namespaces, which takes their veths
# and the bridge with them.
#
#   in_ns NS CMD...              run CMD inside NS (ip netns exec)
#   start_bg NS LOG CMD...       run CMD inside NS in the background, output
#                                to LOG; its PID is left in $BG_PID
#   stop_bg PID                  SIGTERM PID and wait; its exit status
#   wait_tcp NS IP PORT [SECS]   poll until IP:PORT accepts TCP from NS
#                                (default 10 s); non-zero if it never does
#   wait_until SECS CMD...       poll CMD every 0.1 s until it succeeds
#
# Readiness is polled, never assumed after a fixed sleep; the bounds only
# keep a broken run from hanging.

NS_TAG=""
NS_LIST=()		# namespaces this run created, in order
NS_NODES=()		# node numbers, for the inter-node routes
NS_BG_PIDS=()		# start_bg processes still to stop
BG_PID=""

# netns_init: check the prerequisites, pick the tag, arm the teardown.
netns_init() {
	local i
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: $T_NAME needs root for network namespaces"
		finish
	fi
	if ! ip netns list >/dev/null 2>&1; then
		echo "SKIP: $T_NAME: 'ip netns' is not available"
		finish
	fi
	for i in 1 2 3 4 5 6 7 8; do
		NS_TAG=ad$(printf '%04x' $(((RANDOM << 1 ^ $$ ^ i) & 0xffff)))
		if ! ip netns list | grep -q "^authd-$NS_TAG-" &&
		    ! ip -o link show | grep -q "$NS_TAG"; then
			break
		fi
		NS_TAG=""
	done
	if [ -z "$NS_TAG" ]; then
		echo "netns: no free tag after 8 tries" >&2
		return 1
	fi
	at_exit netns_teardown
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
}

# ns_name NS: the full name of a short one (fab, nN, nNpP).
ns_name() {
	case $1 in
	fab | n[0-9] | n[0-9][0-9] | n[0-9]p[0-9] | n[0-9]p[0-9][0-9] | n[0-9][0-9]p[0-9] | n[0-9][0-9]p[0-9][0-9])
		echo "authd-$NS_TAG-$1" ;;
	*) echo "$1" ;;
	esac
}

node_ip() { echo "10.99.0.$1"; }
gw_ip() { echo "10.$((100 + $1)).$2.1"; }
pod_ip() { echo "10.$((100 + $1)).$2.2"; }

# netns_num WHAT VALUE: VALUE is a number 1..99, else complain.
netns_num() {
	case $2 in
	[1-9] | [1-9][0-9]) return 0 ;;
	esac
	echo "netns: $1 '$2' is not a number from 1 to 99" >&2
	return 1
}

netns_create() {
	local ns=$1
	if ip netns list | grep -q "^$ns\( \|$\)"; then
		echo "netns: $ns already exists" >&2
		return 1
	fi
	ip netns add "$ns" || return 1
	NS_LIST+=("$ns")
	ip -n "$ns" link set lo up
}

netns_fabric() {
	local fab
	fab=$(ns_name fab)
	ip netns list | grep -q "^$fab\( \|$\)" && return 0
	netns_create "$fab" || return 1
	ip -n "$fab" link add br0 type bridge forward_delay 0 &&
	    ip -n "$fab" link set br0 up
}

# node_add N: node N joined to the fabric as 10.99.0.N, with routes to and
# from every node already there.
node_add() {
	local n=$1 ns fab m
	netns_num node "$n" || return 1
	[ -n "$NS_TAG" ] || { echo "netns: call netns_init first" >&2; return 1; }
	ns=$(ns_name "n$n")
	fab=$(ns_name fab)
	netns_fabric || return 1
	netns_create "$ns" || return 1
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1 || return 1
	ip link add "${NS_TAG}fab" netns "$ns" type veth peer name "${NS_TAG}n$n" netns "$fab" ||
	    return 1
	ip -n "$fab" link set "${NS_TAG}n$n" master br0 up &&
	    ip -n "$ns" addr add "$(node_ip "$n")/24" dev "${NS_TAG}fab" &&
	    ip -n "$ns" link set "${NS_TAG}fab" up || return 1
	for m in "${NS_NODES[@]}"; do
		ip -n "$ns" route add "10.$((100 + m)).0.0/16" via "$(node_ip "$m")" &&
		    ip -n "$(ns_name "n$m")" route add "10.$((100 + n)).0.0/16" via "$(node_ip "$n")" ||
		    return 1
	done
	NS_NODES+=("$n")
}

# pod_add N P: pod P on node N, 10.(100+N).P.2 behind the node's 10.(100+N).P.1.
pod_add() {
	local n=$1 p=$2 node ns
	netns_num node "$n" && netns_num pod "$p" || return 1
	node=$(ns_name "n$n")
	if ! ip netns list | grep -q "^$node\( \|$\)"; then
		echo "netns: pod_add $n $p: there is no node $n (node_add it first)" >&2
		return 1
	fi
	ns=$(ns_name "n${n}p$p")
	netns_create "$ns" || return 1
	ip link add "${NS_TAG}p$p" netns "$node" type veth peer name eth0 netns "$ns" || return 1
	ip -n "$node" addr add "$(gw_ip "$n" "$p")/24" dev "${NS_TAG}p$p" &&
	    ip -n "$node" link set "${NS_TAG}p$p" up &&
	    ip -n "$ns" addr add "$(pod_ip "$n" "$p")/24" dev eth0 &&
	    ip -n "$ns" link set eth0 up &&
	    ip -n "$ns" route add default via "$(gw_ip "$n" "$p")"
}

in_ns() {
	local ns
	ns=$(ns_name "$1")
	shift
	ip netns exec "$ns" "$@"
}

# start_bg NS LOG CMD...: `ip netns exec` execs CMD, so $BG_PID is CMD's own PID.
start_bg() {
	local ns log=$2
	ns=$(ns_name "$1")
	shift 2
	ip netns exec "$ns" "$@" >"$log" 2>&1 &
	BG_PID=$!
	NS_BG_PIDS+=("$BG_PID")
}

# stop_bg PID: SIGTERM, wait up to ~3 s, then SIGKILL; returns PID's exit status.
stop_bg() {
	local pid=$1 i rc=0 keep=()
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 30); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || rc=$?
	for i in "${NS_BG_PIDS[@]}"; do
		[ "$i" != "$pid" ] && keep+=("$i")
	done
	NS_BG_PIDS=("${keep[@]}")
	return "$rc"
}

wait_until() {
	local secs=$1 end
	shift
	end=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.1
	done
}

netns_tcp_open() {
	ip netns exec "$1" timeout 2 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null
}

wait_tcp() {
	local ns
	ns=$(ns_name "$1")
	wait_until "${4:-10}" netns_tcp_open "$ns" "$2" "$3"
}

netns_teardown() {
	local i ns pid
	for pid in "${NS_BG_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${NS_BG_PIDS[@]}"; do
		for i in $(seq 30); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	NS_BG_PIDS=()
	# Anything else still inside our namespaces was started by this run (in_ns
	# children left behind); a live process would keep a namespace alive.
	for ((i = ${#NS_LIST[@]} - 1; i >= 0; i--)); do
		ns=${NS_LIST[i]}
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null || echo "netns: could not delete $ns" >&2
	done
	NS_LIST=()
	NS_NODES=()
}
