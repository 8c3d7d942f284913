#!/usr/bin/env bash
# Self-test of tests/lib/netns.sh and the app_tool servers, without authd:
# two nodes with two pods each; pods reach their node, the other node and
# (through the nodes' routes) the other node's pods; namespaces isolate
# loopback; a megabyte crosses two nodes byte for byte; bad arguments are
# refused; and a run that fails, or is killed with SIGTERM, leaves no
# namespace, link or process behind.
source "$(dirname "$0")/../lib/testlib.sh"
source "$ROOT/tests/lib/netns.sh"

APP=${APP_TOOL:-$ROOT/$BUILD/tools/app_tool}
if [ ! -x "$APP" ]; then
	fail "$APP not built (make)"
	finish
fi
netns_init

# leftovers TAG: namespaces and root-namespace links still named with TAG.
leftovers() {
	{ ip netns list | grep "authd-$1-"; ip -o link show | grep "$1"; } || true
}

check "node 1 added" node_add 1
check "node 2 added" node_add 2
for n in 1 2; do
	for p in 1 2; do
		check "pod $p on node $n added" pod_add "$n" "$p"
	done
done
check_eq "seven namespaces carry the run's tag" \
    "$(ip netns list | grep -c "^authd-$NS_TAG-")" 7
check_eq "nothing was created in the caller's namespace" "$(ip -o link show | grep -c "$NS_TAG")" 0
check_eq "addresses follow the plan" "$(node_ip 2) $(gw_ip 1 2) $(pod_ip 2 1)" \
    "10.99.0.2 10.101.2.1 10.102.1.2"
longest=$(for ns in n1 n2 n1p1 fab; do in_ns "$ns" ip -o link show; done |
    awk -F': ' '{ sub(/@.*/, "", $2); print length($2) }' | sort -n | tail -n 1)
check "interface names fit IFNAMSIZ (longest $longest)" test "$longest" -le 15
check_output "pod 2 on node 1 has its address" "inet 10\.101\.2\.2/24" in_ns n1p2 ip -4 addr show eth0
check_output "a pod routes through its node" "default via 10\.101\.2\.1" in_ns n1p2 ip route
check_eq "nodes forward" "$(in_ns n1 sysctl -n net.ipv4.ip_forward)" 1

# Servers: an HTTP app in every pod and on node 2, an echo app on node 2's pod 2.
for n in 1 2; do
	for p in 1 2; do
		start_bg "n${n}p$p" "$T/app-n${n}p$p.log" "$APP" http 8080 "n${n}p$p"
	done
done
start_bg n2 "$T/app-n2.log" "$APP" http 8081 node2
start_bg n2p2 "$T/echo.log" "$APP" echo 7000
app_pid=$BG_PID
check "pod app ready (wait_tcp)" wait_tcp n2p1 "$(pod_ip 2 1)" 8080
check "node app ready" wait_tcp n2 "$(node_ip 2)" 8081
check "echo app ready" wait_tcp n2p2 "$(pod_ip 2 2)" 7000
check_eq "start_bg runs the command in the namespace" \
    "$(ip netns identify "$app_pid")" "$(ns_name n2p2)"

check_output "a pod reaches its node" "hello from node2" \
    in_ns n2p1 curl -sS -m 5 "http://$(gw_ip 2 1):8081/"
check_output "a pod reaches the other node" "hello from node2" \
    in_ns n1p1 curl -sS -m 5 "http://$(node_ip 2):8081/"
check_output "a node reaches its pod's app" "^path /from-node$" \
    in_ns n1 curl -sS -m 5 "http://$(pod_ip 1 2):8080/from-node"
check_output "a pod reaches a pod on the other node" "hello from n2p2" \
    in_ns n1p1 curl -sS -m 5 "http://$(pod_ip 2 2):8080/"
check_output "a pod reaches the other pod on its node" "hello from n1p1" \
    in_ns n1p2 curl -sS -m 5 "http://$(pod_ip 1 1):8080/"
check_output "a pod reaches its own app on loopback" "echoed 10 bytes intact" \
    in_ns n2p2 "$APP" send 127.0.0.1:7000 10
check_exit "a pod's loopback is its own, not its neighbour's" 1 \
    in_ns n2p1 "$APP" send 127.0.0.1:7000 10
check_fails "a node's loopback is not its pods'" in_ns n1 curl -sS -m 5 http://127.0.0.1:8080/
check_output "the http app refuses other methods" "^HTTP/1.1 405" \
    in_ns n1p1 curl -sS -i -m 5 -X POST "http://$(pod_ip 2 1):8080/"

check_output "1 MiB echoed across two nodes byte for byte" "echoed 1048576 bytes intact" \
    in_ns n1p1 "$APP" send "$(pod_ip 2 2):7000" 1048576
check_output "an empty stream is echoed (FIN for FIN)" "echoed 0 bytes intact" \
    in_ns n1p2 "$APP" send "$(pod_ip 2 2):7000" 0
check_exit "send notices a peer that is not an echo" 1 \
    in_ns n1p1 "$APP" send "$(pod_ip 2 1):8080" 1000
check_exit "send to a closed port fails" 1 in_ns n1p1 "$APP" send "$(pod_ip 2 1):9" 10
check_exit "app_tool refuses a bad address" 2 "$APP" send localhost:7000 10
check_exit "app_tool refuses a bad port" 2 "$APP" echo 70000
check_exit "app_tool refuses an unknown mode" 2 "$APP" serve 8080

check_fails "wait_tcp gives up on a closed port" wait_tcp n1 "$(node_ip 1)" 9 1
check_output "pod_add refuses a missing node" "there is no node 3" pod_add 3 1
check_output "node_add refuses 0" "not a number from 1 to 99" node_add 0
check_output "node_add refuses junk" "not a number from 1 to 99" node_add x
check_output "node_add refuses a node twice" "already exists" node_add 1
check_eq "refused calls created nothing" "$(ip netns list | grep -c "^authd-$NS_TAG-")" 7

check_exit "stop_bg stops a server, which exits 0 on SIGTERM" 0 stop_bg "$app_pid"
check_fails "the stopped server is gone" kill -0 "$app_pid"

# Teardown, seen from outside: a child test builds a topology with a server
# and then fails (or is killed); afterwards nothing of its tag may remain.
cat >"$T/child.sh" <<EOF
source "$ROOT/tests/lib/testlib.sh"
source "$ROOT/tests/lib/netns.sh"
netns_init
node_add 1 && node_add 2 && pod_add 1 1 || exit 3
start_bg n1p1 /dev/null "$APP" http 8080 child
wait_tcp n1p1 10.101.1.2 8080 || exit 3
echo "\$NS_TAG \$BG_PID" >"\$1"
[ "\${2:-}" = hold ] && while :; do sleep 0.1; done
fail "deliberate failure"
finish
EOF
check_exit "a failing child test exits non-zero" 1 bash "$T/child.sh" "$T/child1"
read -r tag pid <"$T/child1"
check_eq "its namespaces and links are gone" "$(leftovers "$tag")" ""
check_fails "its server is gone" kill -0 "$pid"

bash "$T/child.sh" "$T/child2" hold >"$T/child2.log" 2>&1 &
child=$!
check "a held child is up" wait_until 20 test -s "$T/child2"
kill -TERM "$child"
rc=0
wait "$child" || rc=$?
check_eq "a child killed with SIGTERM exits 143" "$rc" 143
read -r tag pid <"$T/child2"
check_eq "its namespaces and links are gone" "$(leftovers "$tag")" ""
check_fails "its server is gone" kill -0 "$pid"

if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
	cp "$T/child.sh" /tmp/authd-netns-child.$$.sh
	chmod 644 /tmp/authd-netns-child.$$.sh
	at_exit "rm -f /tmp/authd-netns-child.$$.sh"
	check_exit "without root the test skips with exit 0" 0 \
	    setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    bash /tmp/authd-netns-child.$$.sh /dev/null
	cp "$T/.out" "$T/skip.out"
	check_output "it says why" "^SKIP: .*needs root" cat "$T/skip.out"
	check_output "and still reports its (empty) count" "0 passed, 0 failed" cat "$T/skip.out"
fi

finish
