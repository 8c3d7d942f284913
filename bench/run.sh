#!/usr/bin/env bash
# The benchmarks behind `make bench`. Each section measures one part of
# authd, puts OpenSSL (or another reference) next to it on the same core,
# prints a table and writes $BUILD/bench/SECTION.md and SECTION.json.
#
#   BUILD=build bench/run.sh            every section
#   bench/run.sh certs                  one section (or several, in order)
#
#   BENCH_SECONDS=3   seconds per in-process measurement
#   BENCH_N=200       iterations of each command-line loop
#   BENCH_LOOP_MAX=15 seconds at most per command-line loop (stops early)
#   BENCH_POLICY_RULES=1000,100000,1000000  rule counts of the policy section
#   BENCH_PROXY_SECONDS=5 seconds per measurement of the proxy section
#                     (BENCH_SECONDS when that is set); see bench/proxies.sh
#   BENCH_REVOKE_CONNS=10000 BENCH_WAVE_WORKLOADS=100  the lifecycle section;
#                     see bench/lifecycle.sh
#
# Everything runs on CPU 0 (taskset -c 0; the C benchmarks pin themselves
# with sched_setaffinity) so the figures are single-core and comparable.
# The proxy section pins the server under test to CPU 0 and its load
# generator and backend to CPU 1; the lifecycle section pins nothing (authd
# runs its default one loop per CPU).
# Adding a section: write section_NAME (use md_header, json_machine,
# cli_loop, per_sec, ratio) and add NAME to SECTIONS.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}
DEPS_DIR=${DEPS_DIR:-build/deps}
OUT=$BUILD/bench
BENCH_SECONDS_GIVEN=${BENCH_SECONDS:-}
BENCH_SECONDS=${BENCH_SECONDS:-3}
BENCH_N=${BENCH_N:-200}
BENCH_LOOP_MAX=${BENCH_LOOP_MAX:-15}
BENCH_POLICY_RULES=${BENCH_POLICY_RULES:-1000,100000,1000000}
CPU=0

# Sections in the order they run; later benchmarks add theirs here.
SECTIONS=(certs policy proxy lifecycle)

TMP=$(mktemp -d "${TMPDIR:-/tmp}/authd-bench.XXXXXX")
# at_exit CMD: run CMD when the script ends, whichever way (servers a
# section started must not outlive it).
EXIT_HOOKS=()
at_exit() { EXIT_HOOKS+=("$1"); }
run_exit_hooks() {
	local h
	for h in "${EXIT_HOOKS[@]}"; do
		eval "$h" || true
	done
	rm -rf "$TMP"
}
trap run_exit_hooks EXIT
trap 'exit 130' INT TERM

die() {
	echo "bench: $*" >&2
	exit 1
}

# ---------------------------------------------------------------- helpers

# Pinning: PIN is prepended to every measured command.
if taskset -c "$CPU" true 2>/dev/null; then
	PIN=(taskset -c "$CPU")
	PINNED="CPU $CPU (taskset -c $CPU; C benchmarks use sched_setaffinity)"
else
	PIN=()
	PINNED="NOT pinned (taskset unavailable or CPU $CPU not allowed)"
	echo "bench: warning: running unpinned" >&2
fi

# Monotonic-enough microseconds without forking (bash 5's EPOCHREALTIME).
now_us() {
	local t=${EPOCHREALTIME//[!0-9]/}
	REPLY=$((10#$t))
}

# per_sec COUNT MICROSECONDS -> ops/s with one decimal.
per_sec() {
	awk -v n="$1" -v us="$2" 'BEGIN { printf "%.1f", (us > 0 ? n * 1e6 / us : 0) }'
}

# ratio A B -> A/B with three decimals ("n/a" when B is zero or empty).
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.3f", a / b; else printf "n/a" }'
}

# us_to_s MICROSECONDS -> seconds with three decimals.
us_to_s() {
	awk -v us="$1" 'BEGIN { printf "%.3f", us / 1e6 }'
}

# ms_per_op COUNT MICROSECONDS -> milliseconds per operation.
ms_per_op() {
	awk -v n="$1" -v us="$2" 'BEGIN { printf "%.2f", (n > 0 ? us / n / 1000 : 0) }'
}

# fmt NUMBER [DECIMALS] -> rounded for tables.
fmt() {
	awk -v x="$1" -v d="${2:-0}" 'BEGIN { printf "%.*f", d, x }'
}

json_str() {
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	printf '"%s"' "$s"
}

# cli_loop NAME FUNCTION: run FUNCTION (with the iteration number) BENCH_N
# times, or until BENCH_LOOP_MAX seconds have passed, pinned to CPU. Sets
# LOOP_COUNT and LOOP_US. The first failure aborts the run.
cli_loop() {
	local name=$1 fn=$2 i=0 t0 t1 max_us=$((BENCH_LOOP_MAX * 1000000))
	now_us
	t0=$REPLY
	t1=$t0
	while [ "$i" -lt "$BENCH_N" ]; do
		"$fn" "$i" >"$TMP/loop.out" 2>&1 || {
			cat "$TMP/loop.out" >&2
			die "$name failed at iteration $i"
		}
		i=$((i + 1))
		now_us
		t1=$REPLY
		[ $((t1 - t0)) -lt "$max_us" ] || break
	done
	LOOP_COUNT=$i
	LOOP_US=$((t1 - t0))
}

# The machine, once per run.
machine_info() {
	NPROC=$(nproc 2>/dev/null || echo '?')
	CPU_MODEL=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
	[ -n "$CPU_MODEL" ] || CPU_MODEL=$(lscpu 2>/dev/null | awk -F': *' '/^Model name/ { print $2; exit }')
	[ -n "$CPU_MODEL" ] || CPU_MODEL=unknown
	KERNEL=$(uname -srm)
	local h
	MBEDTLS_VERSION=unknown
	for h in "$DEPS_DIR/mbedtls/include/mbedtls/build_info.h" /usr/include/mbedtls/build_info.h; do
		if [ -r "$h" ]; then
			MBEDTLS_VERSION=$(sed -nE 's/^#define MBEDTLS_VERSION_STRING[[:space:]]+"([^"]*)".*/\1/p' "$h")
			break
		fi
	done
	OPENSSL_VERSION=$(openssl version 2>/dev/null || echo unknown)
	BENCH_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
}

# md_header TITLE: the common header of a section's markdown.
md_header() {
	cat <<EOF
# $1

- date: $BENCH_DATE
- machine: $NPROC CPUs, $CPU_MODEL
- kernel: $KERNEL
- mbedTLS: $MBEDTLS_VERSION
- OpenSSL: $OPENSSL_VERSION
- pinned: $PINNED
EOF
}

json_machine() {
	printf '{"nproc":%s,"cpu_model":%s,"kernel":%s,"mbedtls":%s,"openssl":%s,"pinned":%s,"date":%s}' \
		"$(json_str "$NPROC")" "$(json_str "$CPU_MODEL")" "$(json_str "$KERNEL")" \
		"$(json_str "$MBEDTLS_VERSION")" "$(json_str "$OPENSSL_VERSION")" \
		"$(json_str "$PINNED")" "$(json_str "$BENCH_DATE")"
}

# ---------------------------------------------------------------- certs

# certs_field JSON NAME FIELD: one number from certs_bench --json (one
# operation per line).
certs_field() {
	sed -nE "/\"name\":\"$2\"/ s/.*\"$3\":([0-9.]+).*/\\1/p" <<<"$1"
}

section_certs() {
	local bench=$BUILD/tools/certs_bench authctl=$BUILD/authctl
	local td=bench.example.org id=spiffe://bench.example.org/ns/bench/sa/workload
	local d=$TMP/certs lib speed sign verify
	[ -x "$bench" ] || die "$bench missing: run 'make all' (or make bench)"
	[ -x "$authctl" ] || die "$authctl missing: run 'make all'"
	command -v openssl >/dev/null || die "openssl not found (make deps)"
	mkdir -p "$d"

	echo "== certs: library (certs_bench, ${BENCH_SECONDS}s per operation)" >&2
	lib=$(timeout $((BENCH_SECONDS * 3 + 60)) "$bench" --seconds "$BENCH_SECONDS" --json) || die "certs_bench failed"

	echo "== certs: openssl speed ecdsap256 (${BENCH_SECONDS}s sign + ${BENCH_SECONDS}s verify)" >&2
	speed=$(timeout $((BENCH_SECONDS * 2 + 30)) "${PIN[@]}" openssl speed -mr -seconds "$BENCH_SECONDS" ecdsap256 2>/dev/null) ||
		die "openssl speed failed"
	# "+F4:<n>:256:<sign/s>:<verify/s>" (the F index varies across versions).
	sign=$(awk -F: '/^\+F[0-9]+:/ && $3 == 256 { print $4; exit }' <<<"$speed")
	verify=$(awk -F: '/^\+F[0-9]+:/ && $3 == 256 { print $5; exit }' <<<"$speed")
	if [ -z "$sign" ] || [ -z "$verify" ]; then
		die "cannot parse 'openssl speed -mr' output"
	fi

	# A CA made by authctl; its issuer key is plain PEM, which openssl reads.
	"$authctl" ca init --dir "$d/ca" --trust-domain "$td" >/dev/null ||
		die "authctl ca init failed"
	"$authctl" ca issue --dir "$d/ca" --id "$id" --out "$d/svid" >/dev/null ||
		die "authctl ca issue failed"
	awk '/-----BEGIN/ { n++ } n == 1' "$d/svid/svid.pem" >"$d/leaf.pem"
	# The same profile authd issues: URI SAN, leaf, digitalSignature, TLS EKUs.
	cat >"$d/ext.cnf" <<EOF
subjectAltName = URI:$id
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
	# Both verifiers must accept the chain before we time them.
	"$authctl" ca verify --dir "$d/ca" --cert "$d/svid/svid.pem" --role client >/dev/null ||
		die "authctl ca verify rejects its own SVID"
	openssl verify -CAfile "$d/ca/bundle.pem" -untrusted "$d/ca/issuer.crt" \
		-purpose sslclient "$d/leaf.pem" >/dev/null || die "openssl verify rejects the SVID"

	# The timed operations (called through cli_loop).
	# shellcheck disable=SC2317
	op_authctl_issue() {
		"${PIN[@]}" "$authctl" ca issue --dir "$d/ca" --id "$id" --out "$d/out"
	}
	# shellcheck disable=SC2317
	op_openssl_issue() {
		"${PIN[@]}" openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$d/o.key" -subj /O=authd |
			"${PIN[@]}" openssl x509 -req -CA "$d/ca/issuer.crt" -CAkey "$d/ca/issuer.key" \
				-days 1 -extfile "$d/ext.cnf" -out "$d/o.pem"
	}
	# shellcheck disable=SC2317
	op_authctl_verify() {
		"${PIN[@]}" "$authctl" ca verify --dir "$d/ca" --cert "$d/svid/svid.pem" --role client
	}
	# shellcheck disable=SC2317
	op_openssl_verify() {
		"${PIN[@]}" openssl verify -CAfile "$d/ca/bundle.pem" -untrusted "$d/ca/issuer.crt" \
			-purpose sslclient "$d/leaf.pem"
	}

	echo "== certs: command-line loops (${BENCH_N} iterations, at most ${BENCH_LOOP_MAX}s each)" >&2
	local c_ai u_ai c_oi u_oi c_av u_av c_ov u_ov
	cli_loop "authctl ca issue" op_authctl_issue
	c_ai=$LOOP_COUNT u_ai=$LOOP_US
	cli_loop "openssl req | openssl x509 -req" op_openssl_issue
	c_oi=$LOOP_COUNT u_oi=$LOOP_US
	openssl verify -CAfile "$d/ca/bundle.pem" -untrusted "$d/ca/issuer.crt" -purpose sslclient \
		"$d/o.pem" >/dev/null || die "the certificate openssl issued does not verify"
	cli_loop "authctl ca verify" op_authctl_verify
	c_av=$LOOP_COUNT u_av=$LOOP_US
	cli_loop "openssl verify" op_openssl_verify
	c_ov=$LOOP_COUNT u_ov=$LOOP_US

	# Library level.
	local l_issue l_sign l_verify o_issue o_verify2
	l_issue=$(certs_field "$lib" svid_issue ops_per_sec)
	l_sign=$(certs_field "$lib" ca_sign ops_per_sec)
	l_verify=$(certs_field "$lib" verify_chain ops_per_sec)
	if [ -z "$l_issue" ] || [ -z "$l_sign" ] || [ -z "$l_verify" ]; then
		die "cannot parse certs_bench --json output"
	fi
	# Issuance is a key generation plus a signature; a P-256 key generation
	# costs about one fixed-base multiplication, like a signature, so the
	# OpenSSL estimate is sign/s / 2. A chain check is two ECDSA verifies
	# (leaf by issuer, issuer by root).
	o_issue=$(awk -v s="$sign" 'BEGIN { printf "%.1f", s / 2 }')
	o_verify2=$(awk -v v="$verify" 'BEGIN { printf "%.1f", v / 2 }')

	# Command-line level.
	local s_ai s_oi s_av s_ov
	s_ai=$(per_sec "$c_ai" "$u_ai")
	s_oi=$(per_sec "$c_oi" "$u_oi")
	s_av=$(per_sec "$c_av" "$u_av")
	s_ov=$(per_sec "$c_ov" "$u_ov")

	local md=$OUT/certs.md json=$OUT/certs.json
	{
		md_header "authd benchmarks: certs (X509-SVID issuance and verification)"
		cat <<EOF

## Library level: in process, one core

authd: \`certs_bench\` (${BENCH_SECONDS} s per operation). OpenSSL: \`openssl speed -seconds ${BENCH_SECONDS} ecdsap256\`
(raw: $(fmt "$sign" 1) sign/s, $(fmt "$verify" 1) verify/s). Ratio = authd / OpenSSL; below 1 means authd is slower.

| operation | authd ops/s | p50 µs | p99 µs | OpenSSL reference | OpenSSL ops/s | authd / OpenSSL |
|---|--:|--:|--:|---|--:|--:|
| SVID issuance: P-256 keygen + sign (\`certs_svid_new\`) | $(fmt "$l_issue" 1) | $(fmt "$(certs_field "$lib" svid_issue p50_us)" 1) | $(fmt "$(certs_field "$lib" svid_issue p99_us)" 1) | ecdsap256 sign/s ÷ 2 (keygen ≈ one sign; estimate) | $(fmt "$o_issue" 1) | $(ratio "$l_issue" "$o_issue") |
| signing only (\`certs_ca_sign\`) | $(fmt "$l_sign" 1) | $(fmt "$(certs_field "$lib" ca_sign p50_us)" 1) | $(fmt "$(certs_field "$lib" ca_sign p99_us)" 1) | ecdsap256 sign/s | $(fmt "$sign" 1) | $(ratio "$l_sign" "$sign") |
| chain verification, role client (\`certs_verify_chain\`) | $(fmt "$l_verify" 1) | $(fmt "$(certs_field "$lib" verify_chain p50_us)" 1) | $(fmt "$(certs_field "$lib" verify_chain p99_us)" 1) | ecdsap256 verify/s ÷ 2 (two signatures per chain) | $(fmt "$o_verify2" 1) | $(ratio "$l_verify" "$o_verify2") |

## Command line: one process per operation, ${BENCH_N} iterations

Process start-up dominates these; they compare the tools as an operator uses them.

| operation | authctl | ops/s | ms/op | OpenSSL | ops/s | ms/op | authd / OpenSSL |
|---|---|--:|--:|---|--:|--:|--:|
| issue an SVID | \`authctl ca issue\` (loads the CA, keygen, sign, writes key, chain, bundle; n=$c_ai) | $s_ai | $(ms_per_op "$c_ai" "$u_ai") | \`openssl req -newkey ec \| openssl x509 -req -CA\` (2 processes; n=$c_oi) | $s_oi | $(ms_per_op "$c_oi" "$u_oi") | $(ratio "$s_ai" "$s_oi") |
| verify a chain | \`authctl ca verify --role client\` (n=$c_av) | $s_av | $(ms_per_op "$c_av" "$u_av") | \`openssl verify -CAfile -untrusted -purpose sslclient\` (n=$c_ov) | $s_ov | $(ms_per_op "$c_ov" "$u_ov") | $(ratio "$s_av" "$s_ov") |
EOF
	} >"$md"

	{
		printf '{"section":"certs","machine":%s,\n"library":%s,\n' "$(json_machine)" "$lib"
		printf '"openssl_speed_ecdsap256":{"seconds":%s,"sign_per_sec":%s,"verify_per_sec":%s},\n' \
			"$BENCH_SECONDS" "$sign" "$verify"
		printf '"cli":{"iterations":%s,"max_seconds":%s,"ops":[\n' "$BENCH_N" "$BENCH_LOOP_MAX"
		printf '{"name":"authctl_issue","count":%s,"seconds":%s,"ops_per_sec":%s},\n' \
			"$c_ai" "$(us_to_s "$u_ai")" "$s_ai"
		printf '{"name":"openssl_issue","count":%s,"seconds":%s,"ops_per_sec":%s},\n' \
			"$c_oi" "$(us_to_s "$u_oi")" "$s_oi"
		printf '{"name":"authctl_verify","count":%s,"seconds":%s,"ops_per_sec":%s},\n' \
			"$c_av" "$(us_to_s "$u_av")" "$s_av"
		printf '{"name":"openssl_verify","count":%s,"seconds":%s,"ops_per_sec":%s}\n]},\n' \
			"$c_ov" "$(us_to_s "$u_ov")" "$s_ov"
		printf '"ratios":{"issue_vs_sign_half":%s,"sign":%s,"verify_chain_vs_verify_half":%s,' \
			"$(ratio "$l_issue" "$o_issue")" "$(ratio "$l_sign" "$sign")" \
			"$(ratio "$l_verify" "$o_verify2")"
		printf '"cli_issue":%s,"cli_verify":%s}}\n' "$(ratio "$s_ai" "$s_oi")" "$(ratio "$s_av" "$s_ov")"
	} | sed 's/"n\/a"/null/g; s/:n\/a/:null/g' >"$json"

	if command -v jq >/dev/null && ! jq empty "$json" 2>/dev/null; then
		die "$json is not valid JSON (a bug in bench/run.sh)"
	fi
	cat "$md"
	echo
	echo "wrote $md and $json" >&2
}

# ---------------------------------------------------------------- policy

# policy_field JSON RULES KEY: one number from policy_bench --json (one
# object per rule count, one per line). KEY is a top-level key (apply_s) or
# GROUP.KEY for a latency group (mix.p99_ns).
policy_field() {
	local line
	line=$(grep "\"rules\":$2," <<<"$1") || return 0
	case $3 in
	*.*) sed -nE "s/.*\"${3%%.*}\":\{[^}]*\"${3#*.}\":([0-9.]+).*/\1/p" <<<"$line" ;;
	*) sed -nE "s/.*\"$3\":([0-9.]+).*/\1/p" <<<"$line" ;;
	esac
}

# policy_yaml N: an AllowList of N rules, the same mix policy_bench makes
# (bench/policy_bench.c: 70 % exact -> exact, 20 % namespace -> exact with
# a port range, 9 % trust domain -> namespace, 1 % any -> namespace).
policy_yaml() {
	awk -v n="$1" 'BEGIN {
		print "apiVersion: authd.io/v1"
		print "kind: AllowList"
		print "metadata: {name: bench}"
		print "spec:"
		print "  rules:"
		split("443 8080 5432 6379 9090", port, " ")
		for (i = 0; i < n; i++) {
			c = i % 100
			if (c < 70) {
				f = sprintf("spiffe://bench.local/ns/ns%d/sa/sa%d", i % 1000, i)
				t = sprintf("spiffe://bench.local/ns/ns%d/sa/svc%d", (i * 7) % 1000, i % 5000)
				p = port[i % 5 + 1]
			} else if (c < 90) {
				f = sprintf("\"spiffe://bench.local/ns/ns%d/*\"", i % 1000)
				t = sprintf("spiffe://bench.local/ns/ns%d/sa/api%d", (i * 3) % 1000, i)
				p = "\"8000-8099\""
			} else if (c < 99) {
				f = sprintf("\"spiffe://partner%d.example/*\"", i % 97)
				t = sprintf("\"spiffe://bench.local/ns/team%d/*\"", int(i / 100))
				p = "\"443,8443\""
			} else {
				f = "\"*\""
				t = sprintf("\"spiffe://bench.local/ns/public%d/*\"", int(i / 100))
				p = 443
			}
			printf "    - from: %s\n      to: %s\n      ports: %s\n", f, t, p
		}
	}'
}

# timed_us CMD...: run CMD once (output to $TMP/timed.out), pinned; sets TIMED_US.
timed_us() {
	local t0
	now_us
	t0=$REPLY
	"${PIN[@]}" "$@" >"$TMP/timed.out" 2>&1 || {
		cat "$TMP/timed.out" >&2
		die "$* failed"
	}
	now_us
	TIMED_US=$((REPLY - t0))
}

section_policy() {
	local bench=$BUILD/tools/policy_bench authctl=$BUILD/authctl
	local d=$TMP/policy lib lmdb_version first last
	local -a counts
	[ -x "$bench" ] || die "$bench missing: run 'make all' (or make bench)"
	[ -x "$authctl" ] || die "$authctl missing: run 'make all'"
	mkdir -p "$d"
	IFS=, read -r -a counts <<<"$BENCH_POLICY_RULES"
	first=${counts[0]}
	last=${counts[${#counts[@]} - 1]}

	# The store lives under $TMP (removed on exit); at 1M rules it is ~350 MB
	# and the rule array handed to policy_apply ~4.5 GB of RAM.
	echo "== policy: library (policy_bench, rules $BENCH_POLICY_RULES, ${BENCH_SECONDS}s per check loop)" >&2
	lib=$(TMPDIR=$d timeout $((BENCH_SECONDS * 2 * ${#counts[@]} + 150)) "$bench" \
		--rules "$BENCH_POLICY_RULES" --seconds "$BENCH_SECONDS" --json) || die "policy_bench failed"
	for n in "${counts[@]}"; do
		[ -n "$(policy_field "$lib" "$n" checks_per_sec)" ] ||
			die "cannot parse policy_bench --json output for $n rules"
	done
	lmdb_version=$(sed -nE '1 s/.*"lmdb":"([^"]*)".*/\1/p' <<<"$lib")

	# The command line: authctl parses a YAML AllowList and applies it.
	echo "== policy: authctl policy apply (1000 and 100000 rules from YAML)" >&2
	policy_yaml 1000 >"$d/p1k.yaml"
	policy_yaml 100000 >"$d/p100k.yaml"
	local u_apply1k u_apply u_reapply
	timed_us "$authctl" policy apply --db "$d/p1k.mdb" -f "$d/p1k.yaml"
	u_apply1k=$TIMED_US
	grep -q "applied 1000 changes" "$TMP/timed.out" || die "authctl policy apply (1k): $(tail -n 1 "$TMP/timed.out")"
	timed_us "$authctl" policy apply --db "$d/p100k.mdb" -f "$d/p100k.yaml"
	u_apply=$TIMED_US
	grep -q "applied 100000 changes" "$TMP/timed.out" || die "authctl policy apply (100k): $(tail -n 1 "$TMP/timed.out")"
	timed_us "$authctl" policy apply --db "$d/p100k.mdb" -f "$d/p100k.yaml"
	u_reapply=$TIMED_US
	grep -q "^unchanged" "$TMP/timed.out" || die "authctl policy apply (100k, again) changed something"

	# Checks: an exact rule r (allow) chosen by the iteration number; for a
	# denial, r's source to the service of its neighbour rule j = r +- 1 (an
	# existing destination that r has no rule for: exit 1).
	local -a ports=(443 8080 5432 6379 9090)
	# shellcheck disable=SC2317
	policy_cli_check() {
		local db=$1 n=$2 it=$3 want=$4 r j rc=0
		r=$(((it * 7919) % n))
		r=$((r - r % 100 + r % 70))
		j=$r
		if [ "$want" = deny ]; then
			if [ $((r % 100)) -lt 69 ]; then j=$((r + 1)); else j=$((r - 1)); fi
		fi
		"${PIN[@]}" "$authctl" policy check --db "$db" \
			--from "spiffe://bench.local/ns/ns$((r % 1000))/sa/sa$r" \
			--to "spiffe://bench.local/ns/ns$(((j * 7) % 1000))/sa/svc$((j % 5000))" \
			--port "${ports[j % 5]}" || rc=$?
		if [ "$want" = allow ]; then [ "$rc" -eq 0 ]; else [ "$rc" -eq 1 ]; fi
	}
	# shellcheck disable=SC2317
	op_check_allow_1k() { policy_cli_check "$d/p1k.mdb" 1000 "$1" allow; }
	# shellcheck disable=SC2317
	op_check_allow_100k() { policy_cli_check "$d/p100k.mdb" 100000 "$1" allow; }
	# shellcheck disable=SC2317
	op_check_deny_100k() { policy_cli_check "$d/p100k.mdb" 100000 "$1" deny; }

	echo "== policy: authctl policy check loops (${BENCH_N} iterations, at most ${BENCH_LOOP_MAX}s each)" >&2
	local c_a1 u_a1 c_a u_a c_dn u_dn
	cli_loop "authctl policy check (allow, 1k rules)" op_check_allow_1k
	c_a1=$LOOP_COUNT u_a1=$LOOP_US
	cli_loop "authctl policy check (allow, 100k rules)" op_check_allow_100k
	c_a=$LOOP_COUNT u_a=$LOOP_US
	cli_loop "authctl policy check (deny, 100k rules)" op_check_deny_100k
	c_dn=$LOOP_COUNT u_dn=$LOOP_US

	# Scaling ratios: largest rule count over smallest (flat = 1.0).
	local p99_1 p99_n p50_1 p50_n dp99_1 dp99_n cps_1 cps_n apr_1 apr_n bpr_1 bpr_n rap_1 rap_n
	p99_1=$(policy_field "$lib" "$first" mix.p99_ns)
	p99_n=$(policy_field "$lib" "$last" mix.p99_ns)
	p50_1=$(policy_field "$lib" "$first" mix.p50_ns)
	p50_n=$(policy_field "$lib" "$last" mix.p50_ns)
	dp99_1=$(policy_field "$lib" "$first" deny.p99_ns)
	dp99_n=$(policy_field "$lib" "$last" deny.p99_ns)
	cps_1=$(policy_field "$lib" "$first" checks_per_sec)
	cps_n=$(policy_field "$lib" "$last" checks_per_sec)
	# Apply and re-apply per rule (µs): flat per rule means linear in total.
	apr_1=$(awk -v s="$(policy_field "$lib" "$first" apply_s)" -v n="$first" 'BEGIN { printf "%.3f", s * 1e6 / n }')
	apr_n=$(awk -v s="$(policy_field "$lib" "$last" apply_s)" -v n="$last" 'BEGIN { printf "%.3f", s * 1e6 / n }')
	rap_1=$(awk -v s="$(policy_field "$lib" "$first" reapply_s)" -v n="$first" 'BEGIN { printf "%.3f", s * 1e6 / n }')
	rap_n=$(awk -v s="$(policy_field "$lib" "$last" reapply_s)" -v n="$last" 'BEGIN { printf "%.3f", s * 1e6 / n }')
	bpr_1=$(policy_field "$lib" "$first" bytes_per_rule)
	bpr_n=$(policy_field "$lib" "$last" bytes_per_rule)
	local goal_p99 goal_cps
	goal_p99=$(awk -v x="$p99_n" 'BEGIN { print (x <= 2000 ? "met" : "missed") }')
	goal_cps=$(awk -v x="$cps_n" 'BEGIN { print (x >= 1000000 ? "met" : "missed") }')

	local s_a1 s_a s_dn
	s_a1=$(per_sec "$c_a1" "$u_a1")
	s_a=$(per_sec "$c_a" "$u_a")
	s_dn=$(per_sec "$c_dn" "$u_dn")

	local md=$OUT/policy.md json=$OUT/policy.json n
	{
		md_header "authd benchmarks: policy (LMDB allow-list)"
		cat <<EOF
- LMDB: $lmdb_version
- memory: $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo); store on $(sed -nE '1 s/.*"fs":"([^"]*)".*/\1/p' <<<"$lib") (the bench's temporary directory)

## Library level: in process, one core

\`policy_bench\` (${BENCH_SECONDS} s per check loop). Per rule count: \`policy_apply\` of the whole set into an empty
store (one transaction, fsync included), the same set again (a no-op diff), then \`policy_check\` on one reader
over $(sed -nE '1 s/.*"queries":([0-9]+).*/\1/p' <<<"$lib") pre-parsed queries: 50 % allowed by an exact rule, 25 % allowed through a
namespace / trust-domain / any rule, 25 % denied (all 12 index lookups miss, then the audit lookups).
Latencies are nearest-rank percentiles of per-call \`clock_gettime\` samples, which include
~$(sed -nE '1 s/.*"timer_overhead_ns":([0-9]+).*/\1/p' <<<"$lib") ns of clock overhead each; checks/s is a separate tight loop without per-call timing.
Peak RSS includes the rule array handed to \`policy_apply\` ($(sed -nE '1 s/.*"rule_struct_bytes":([0-9]+).*/\1/p' <<<"$lib") bytes per rule), freed before the
checks, and the harness's query array and latency samples. Index depth: levels of the LMDB B+tree a check
descends per lookup (up to 12 index lookups per check).

| rules | apply s | re-apply s | bytes/rule | file MB | checks/s (mix) | allow p50 / p99 ns | deny p50 / p99 ns | mix p50 / p99 ns | peak RSS MB | index depth |
|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|
EOF
		for n in "${counts[@]}"; do
			printf '| %s | %s | %s | %s | %s | %s | %s / %s | %s / %s | %s / %s | %s | %s |\n' "$n" \
				"$(fmt "$(policy_field "$lib" "$n" apply_s)" 4)" \
				"$(fmt "$(policy_field "$lib" "$n" reapply_s)" 4)" \
				"$(fmt "$(policy_field "$lib" "$n" bytes_per_rule)" 0)" \
				"$(fmt "$(awk -v b="$(policy_field "$lib" "$n" file_alloc_bytes)" 'BEGIN { print b / 1048576 }')" 1)" \
				"$(fmt "$(policy_field "$lib" "$n" checks_per_sec)" 0)" \
				"$(policy_field "$lib" "$n" allow.p50_ns)" "$(policy_field "$lib" "$n" allow.p99_ns)" \
				"$(policy_field "$lib" "$n" deny.p50_ns)" "$(policy_field "$lib" "$n" deny.p99_ns)" \
				"$(policy_field "$lib" "$n" mix.p50_ns)" "$(policy_field "$lib" "$n" mix.p99_ns)" \
				"$(fmt "$(policy_field "$lib" "$n" peak_rss_mb)" 0)" \
				"$(policy_field "$lib" "$n" index_depth)"
		done
		cat <<EOF

## Scaling: $last rules against $first rules

There is no external peer for an allow-list store (proxies are compared in the data-plane benchmark), so the
ratio here is the scaling ratio, $last rules / $first rules: ≈ 1.0 is flat. Goal at the largest count: p99 ≤ 2 µs and ≥ 1M checks/s.

| figure | $first rules | $last rules | ratio | goal at $last |
|---|--:|--:|--:|---|
| check p99, mix (ns) | $p99_1 | $p99_n | $(ratio "$p99_n" "$p99_1") | ≤ 2000 ns: $goal_p99 |
| check p50, mix (ns) | $p50_1 | $p50_n | $(ratio "$p50_n" "$p50_1") | |
| check p99, deny (ns) | $dp99_1 | $dp99_n | $(ratio "$dp99_n" "$dp99_1") | |
| checks/s, mix | $(fmt "$cps_1" 0) | $(fmt "$cps_n" 0) | $(ratio "$cps_n" "$cps_1") | ≥ 1000000: $goal_cps |
| apply, µs per rule | $apr_1 | $apr_n | $(ratio "$apr_n" "$apr_1") | |
| re-apply (no-op), µs per rule | $rap_1 | $rap_n | $(ratio "$rap_n" "$rap_1") | |
| bytes per rule | $(fmt "$bpr_1" 0) | $(fmt "$bpr_n" 0) | $(ratio "$bpr_n" "$bpr_1") | |

## Command line: authctl, one process per operation

| operation | rules | n | seconds | ms/op | ops/s |
|---|--:|--:|--:|--:|--:|
| \`authctl policy apply -f\` (parse YAML, diff, write, fsync) | 1000 | 1 | $(us_to_s "$u_apply1k") | | |
| \`authctl policy apply -f\` | 100000 | 1 | $(us_to_s "$u_apply") | | |
| \`authctl policy apply -f\`, same file again (no-op) | 100000 | 1 | $(us_to_s "$u_reapply") | | |
| \`authctl policy check\`, allowed | 1000 | $c_a1 | $(us_to_s "$u_a1") | $(ms_per_op "$c_a1" "$u_a1") | $s_a1 |
| \`authctl policy check\`, allowed | 100000 | $c_a | $(us_to_s "$u_a") | $(ms_per_op "$c_a" "$u_a") | $s_a |
| \`authctl policy check\`, denied | 100000 | $c_dn | $(us_to_s "$u_dn") | $(ms_per_op "$c_dn" "$u_dn") | $s_dn |
EOF
	} >"$md"

	{
		printf '{"section":"policy","machine":%s,\n"library":[\n' "$(json_machine)"
		sed '$!s/$/,/' <<<"$lib"
		printf '],\n"cli":{"iterations":%s,"max_seconds":%s,"ops":[\n' "$BENCH_N" "$BENCH_LOOP_MAX"
		printf '{"name":"authctl_apply","rules":1000,"seconds":%s},\n' "$(us_to_s "$u_apply1k")"
		printf '{"name":"authctl_apply","rules":100000,"seconds":%s},\n' "$(us_to_s "$u_apply")"
		printf '{"name":"authctl_reapply","rules":100000,"seconds":%s},\n' "$(us_to_s "$u_reapply")"
		printf '{"name":"authctl_check_allow","rules":1000,"count":%s,"seconds":%s,"ops_per_sec":%s},\n' \
			"$c_a1" "$(us_to_s "$u_a1")" "$s_a1"
		printf '{"name":"authctl_check_allow","rules":100000,"count":%s,"seconds":%s,"ops_per_sec":%s},\n' \
			"$c_a" "$(us_to_s "$u_a")" "$s_a"
		printf '{"name":"authctl_check_deny","rules":100000,"count":%s,"seconds":%s,"ops_per_sec":%s}\n]},\n' \
			"$c_dn" "$(us_to_s "$u_dn")" "$s_dn"
		printf '"scaling":{"from_rules":%s,"to_rules":%s,"mix_p99":%s,"mix_p50":%s,"deny_p99":%s,' \
			"$first" "$last" "$(ratio "$p99_n" "$p99_1")" "$(ratio "$p50_n" "$p50_1")" \
			"$(ratio "$dp99_n" "$dp99_1")"
		printf '"checks_per_sec":%s,"apply_per_rule":%s,"reapply_per_rule":%s,"bytes_per_rule":%s},\n' \
			"$(ratio "$cps_n" "$cps_1")" "$(ratio "$apr_n" "$apr_1")" "$(ratio "$rap_n" "$rap_1")" \
			"$(ratio "$bpr_n" "$bpr_1")"
		printf '"goals":{"rules":%s,"p99_le_2us":%s,"checks_per_sec_ge_1m":%s}}\n' "$last" \
			"$([ "$goal_p99" = met ] && echo true || echo false)" \
			"$([ "$goal_cps" = met ] && echo true || echo false)"
	} | sed 's/"n\/a"/null/g; s/:n\/a/:null/g' >"$json"

	if command -v jq >/dev/null && ! jq empty "$json" 2>/dev/null; then
		die "$json is not valid JSON (a bug in bench/run.sh)"
	fi
	rm -rf "$d"
	cat "$md"
	echo
	echo "wrote $md and $json" >&2
}

# ---------------------------------------------------------------- proxy

# section_proxy: the data plane against haproxy, nginx, stunnel and authd.
# shellcheck source=bench/proxies.sh
. "$ROOT/bench/proxies.sh"

# ---------------------------------------------------------------- lifecycle

# section_lifecycle: revocation latency and the CPU of a rotation wave.
# shellcheck source=bench/lifecycle.sh
. "$ROOT/bench/lifecycle.sh"

# ---------------------------------------------------------------- main

run=("$@")
[ ${#run[@]} -gt 0 ] || run=("${SECTIONS[@]}")
for s in "${run[@]}"; do
	declare -F "section_$s" >/dev/null || die "no such section: $s (have: ${SECTIONS[*]})"
done
mkdir -p "$OUT"
machine_info
for s in "${run[@]}"; do
	"section_$s"
done
