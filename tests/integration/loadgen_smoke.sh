#!/usr/bin/env bash
# The data-plane bench tools (bench/load_bench.c, bench/backend_bench.c) work
# and refuse bad input: load_bench completes mTLS handshakes against
# `openssl s_server -Verify` with an authctl-issued SVID and fails without a
# certificate; rr, bulk and idle run against backend_bench in plaintext.
# About 5 s; counts are only checked to be non-zero, never timed.
. "$(dirname "$0")/../lib/testlib.sh"

# The sanitizer build when there is one, like the other integration tests.
TOOLS=$ROOT/build/asan/tools
[ -x "$TOOLS/load_bench" ] || TOOLS=$ROOT/$BUILD/tools
LB=$TOOLS/load_bench
BE=$TOOLS/backend_bench
for b in "$LB" "$BE" "$AUTHCTL"; do
	[ -x "$b" ] || { fail "$b missing (make all asan)"; finish; }
done

TD=smoke.test
"$AUTHCTL" ca init --dir "$T/ca" --trust-domain "$TD" >/dev/null 2>&1
"$AUTHCTL" ca issue --dir "$T/ca" --id "spiffe://$TD/ns/bench/sa/server" --out "$T/server" >/dev/null
"$AUTHCTL" ca issue --dir "$T/ca" --id "spiffe://$TD/ns/bench/sa/client" --out "$T/client" >/dev/null
CLIENT=(--cert "$T/client/svid.pem" --key "$T/client/svid.key" --cacert "$T/ca/bundle.pem")

# wait_line FILE REGEX: until FILE has a line matching REGEX (5 s at most).
wait_line() {
	local i
	for i in $(seq 50); do
		grep -Eq "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# check_run DESC REGEX CMD...: CMD exits 0 (so no sanitizer report either)
# and its output matches REGEX.
check_run() {
	local desc=$1 re=$2 rc=0
	shift 2
	"$@" >"$T/.out" 2>&1 || rc=$?
	if [ "$rc" -eq 0 ] && grep -Eq -- "$re" "$T/.out"; then
		pass "$desc"
	else
		fail "$desc: exit $rc, want 0 and /$re/: $(tail -c 600 "$T/.out")"
	fi
}

# ---------------------------------------------------------------- argument checks

check_exit "no mode" 2 "$LB"
check_exit "unknown mode" 2 "$LB" flood --target 127.0.0.1:1 --skip-verify
check_exit "no target" 2 "$LB" handshake --skip-verify
check_exit "negative duration" 2 "$LB" handshake --target 127.0.0.1:1 --skip-verify -d -1
check_exit "zero duration" 2 "$LB" handshake --target 127.0.0.1:1 --skip-verify -d 0
check_exit "duration over 120 s" 2 "$LB" handshake --target 127.0.0.1:1 --skip-verify -d 121
check_exit "duration not a number" 2 "$LB" rr --target 127.0.0.1:1 --skip-verify -d 5s
check_exit "concurrency over the limit" 2 "$LB" handshake --target 127.0.0.1:1 --skip-verify -c 20001
check_exit "negative concurrency" 2 "$LB" handshake --target 127.0.0.1:1 --skip-verify -c -5
check_exit "idle count over the limit" 2 "$LB" idle --target 127.0.0.1:1 --skip-verify -n 20001
check_exit "rr size over 1 MiB" 2 "$LB" rr --target 127.0.0.1:1 --skip-verify --size 1048577
check_exit "bulk size over 256 MiB" 2 "$LB" bulk --target 127.0.0.1:1 --skip-verify --size 268435457
check_exit "-n in rr mode" 2 "$LB" rr --target 127.0.0.1:1 --skip-verify -n 5
check_exit "--resume outside handshake mode" 2 "$LB" rr --target 127.0.0.1:1 --skip-verify --resume
check_exit "TLS without --cacert or --skip-verify" 2 "$LB" handshake --target 127.0.0.1:1
check_exit "--cert without --key" 2 "$LB" handshake --target 127.0.0.1:1 --skip-verify --cert "$T/client/svid.pem"
check_exit "--plain with a TLS option" 2 "$LB" rr --target 127.0.0.1:1 --plain --cacert "$T/ca/bundle.pem"
check_exit "bad --connect" 2 "$LB" handshake --target 127.0.0.1:1 --skip-verify --connect 'a b:1'
check_output "non-loopback target refused" 'only loopback' "$LB" handshake --target 10.0.0.1:443 --skip-verify
check_exit "non-loopback target exit code" 2 "$LB" handshake --target 192.0.2.1:443 --skip-verify
check_exit "host name target refused" 2 "$LB" handshake --target localhost:443 --skip-verify
check_exit "backend: non-loopback listen refused" 2 "$BE" --listen 0.0.0.0:0
check_exit "backend: negative lifetime" 2 "$BE" --listen 127.0.0.1:0 --lifetime -1
check_exit "backend: no --listen" 2 "$BE"

# ---------------------------------------------------------------- mTLS against openssl s_server

openssl s_server -accept 127.0.0.1:0 -cert "$T/server/svid.pem" -key "$T/server/svid.key" \
	-cert_chain "$T/ca/issuer.crt" -CAfile "$T/ca/bundle.pem" -Verify 2 -verify_return_error \
	-tls1_3 -www -naccept 100000 >"$T/s_server.out" 2>&1 </dev/null &
SPID=$!
at_exit "kill $SPID 2>/dev/null; wait $SPID 2>/dev/null"
if wait_line "$T/s_server.out" '^ACCEPT'; then
	SPORT=$(sed -nE 's/^ACCEPT .*:([0-9]+)$/\1/p' "$T/s_server.out")
	check_run "handshakes against s_server -Verify with an SVID" ' ok=20 errors=0' \
		"$LB" handshake --target "127.0.0.1:$SPORT" "${CLIENT[@]}" --probe http -c 2 -n 20 -d 10
	check_run "resumed handshakes reuse the ticket" ' ok=20 errors=0 .*resumed=[1-9]' \
		"$LB" handshake --target "127.0.0.1:$SPORT" "${CLIENT[@]}" --probe http -c 2 -n 20 -d 10 --resume
	check_exit "no client certificate: exit 1" 1 \
		"$LB" handshake --target "127.0.0.1:$SPORT" --cacert "$T/ca/bundle.pem" --probe http -n 1 -d 5
	check_output "no client certificate: the server's alert is reported" 'certificate required' \
		"$LB" handshake --target "127.0.0.1:$SPORT" --cacert "$T/ca/bundle.pem" --probe http -n 1 -d 5
	# A server whose chain is not under the client's roots is refused.
	"$AUTHCTL" ca init --dir "$T/other" --trust-domain other.test >/dev/null 2>&1
	check_exit "a server outside --cacert's roots: exit 1" 1 \
		"$LB" handshake --target "127.0.0.1:$SPORT" --cert "$T/client/svid.pem" \
		--key "$T/client/svid.key" --cacert "$T/other/bundle.pem" --probe http -n 1 -d 5
else
	fail "openssl s_server did not start: $(cat "$T/s_server.out")"
fi

# ---------------------------------------------------------------- plaintext modes against backend_bench

"$BE" --listen 127.0.0.1:0 --lifetime 60 >"$T/backend.out" 2>"$T/backend.err" </dev/null &
BPID=$!
at_exit "kill $BPID 2>/dev/null; wait $BPID 2>/dev/null"
if wait_line "$T/backend.out" '^port='; then
	BPORT=$(sed -n 's/^port=//p' "$T/backend.out")
	check_run "plain handshake mode (connect + echo probe)" ' ok=200 errors=0' \
		"$LB" handshake --plain --target "127.0.0.1:$BPORT" -c 4 -n 200 -d 10
	check_run "rr: 1 KiB echoed" 'mode=rr .* ok=[1-9][0-9]* errors=0 size=1024' \
		"$LB" rr --plain --target "127.0.0.1:$BPORT" -c 2 -d 1
	check_run "bulk: the sink confirms every round" 'mode=bulk .*errors=0 size=1048576 bytes=[1-9]' \
		"$LB" bulk --plain --target "127.0.0.1:$BPORT" --size 1048576 -d 1
	# A line on stdin releases the idle connections before -d.
	check_run "idle: holds 200 connections until a line on stdin" \
		'^ready conns=200 errors=0' bash -c "echo go | '$LB' idle --plain --target 127.0.0.1:$BPORT -n 200 -c 50 -d 60"
	cp "$T/.out" "$T/idle.out"
	check_run "idle: then reports them" 'mode=idle .* ok=200 errors=0 dropped=0' cat "$T/idle.out"
	check_output "a refused connection is reported" 'first error: connect: Connection refused' \
		"$LB" handshake --plain --target 127.0.0.1:1 -n 1 -d 1
	kill -TERM "$BPID"
	rc=0
	wait "$BPID" || rc=$?
	check_eq "backend: exits 0 on SIGTERM (no sanitizer report)" "$rc" 0
	check_output "backend: counted what it served" 'bytes echoed' cat "$T/backend.err"
else
	fail "backend_bench did not start: $(cat "$T/backend.err")"
fi

finish
