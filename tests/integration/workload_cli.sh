#!/usr/bin/env bash
# authctl workload end to end against a real LMDB file: add, list, show,
# rm, --json that parses, and bad input that exits 2 and changes nothing.
. "$(dirname "$0")/../lib/testlib.sh"

export AUTHD_POLICY_DB=$T/node.mdb
# The machine's own CA (if any) must not decide which trust domain ids are checked against.
export AUTHD_CA_DIR=$T/no-ca
W="$AUTHCTL workload"
export ID=spiffe://example.org/ns/shop/sa/db SERIAL=3f9c0a7d1e2b4c5d6e7f8091a2b3c4d5
# The registry as list --json shows it, less the clock ("seconds_left").
state() { $W list --json 2>&1 | sed -E 's/"seconds_left": -?[0-9]+//' | sha256sum; }
# json CMD PYTHON: run CMD, then the Python assertions on its JSON output, as d.
json() { $1 >"$T/out.json" && $PY -c "import json, os; d = json.load(open('$T/out.json'))
$2"; }

# --- no store yet -----------------------------------------------------------------
check_exit "list with no store is a failure" 3 $W list
check_output "and says so" "no store there" $W list
check_exit "rm with no store is a failure" 3 $W rm web --namespace shop
check_eq "rm did not create a store" "$(ls "$T")" ""

# --- add / list / show --------------------------------------------------------------
check_output "add prints the workload" "^added shop/web \(service account web\)" \
	$W add web --namespace shop --listen 0.0.0.0:15008 --app 127.0.0.1:8080 --app '[::1]:9090' \
	--upstream "listen=127.0.0.1:9000,peer=10.0.0.2:15008,target=db.shop.svc:5432,id=$ID" \
	--upstream 'listen=unix:/run/authd/cache,1.sock,peer=[fd00::2]:15008,target=[::1]:6379'
check "add an identity-only workload with its own service account" \
	$W add report -n batch --service-account reporter
check "add with --store naming the file" $W add db --namespace shop --listen 0.0.0.0:15009 \
	--app 127.0.0.1:5432 --store "$AUTHD_POLICY_DB"
check_output "list has a header and three rows" "^4$" bash -c "$W list | wc -l"
check_output "list: ports, upstream count, not issued" \
	"^shop/web +web +0\.0\.0\.0:15008 +8080,9090 +2 +not issued +-$" $W list
check_output "list: service account" "^batch/report +reporter " $W list
check "list --json parses and holds the fields" json "$W list --json" '
assert [x["namespace"] + "/" + x["name"] for x in d] == ["batch/report", "shop/db", "shop/web"], d
web = d[2]
assert web["service_account"] == "web" and web["listen"] == "0.0.0.0:15008", web
assert web["apps"] == ["127.0.0.1:8080", "[::1]:9090"], web
u = web["upstreams"]
assert u[0] == {"listen": "127.0.0.1:9000", "peer": "10.0.0.2:15008", "target_host": "db.shop.svc",
                "target_port": 5432, "expect_id": os.environ["ID"]}, u
assert u[1]["listen"] == "unix:/run/authd/cache,1.sock" and u[1]["target_host"] == "::1", u
assert u[1]["expect_id"] is None and web["svid"] is None, u
assert d[0]["listen"] is None and d[0]["apps"] == [] and d[0]["service_account"] == "reporter", d
'
check_output "show names the upstreams" "CONNECT db\.shop\.svc:5432, peer must be $ID" $W show web -n shop
check_output "show: an IPv6 target in brackets" "CONNECT \[::1\]:6379" $W show web -n shop
check_output "show: not issued" "^svid +not issued" $W show web -n shop
check "show --json parses" json "$W show web -n shop --json" 'assert d["name"] == "web" and len(d["upstreams"]) == 2, d'
check_exit "show of a missing workload exits 1" 1 $W show nope -n shop

# --- what the daemon reports about the SVID -----------------------------------------
STATUS=$ROOT/$BUILD/tools/registry_status_tool
NA=$(( $(date +%s) + 7200 ))
check "a status for shop/web (as the daemon writes it)" \
	$STATUS "$AUTHD_POLICY_DB" shop web spiffe://example.org/ns/shop/sa/web $SERIAL $NA
check_output "list shows the serial, the UTC expiry and the time left" \
	"^shop/web .* $SERIAL +$(date -u -d @$NA +%Y-%m-%dT%H:%M:%SZ) \(in [0-9]+[hm][0-9m]*\)$" $W list
check_output "show too" "^expires +.*Z \(in [0-9]+[hm]" $W show web -n shop
check_output "an expired SVID says so" "^expires +.*Z \(expired [0-9]+[hm][0-9m]* ago\)$" \
	bash -c "$STATUS '$AUTHD_POLICY_DB' shop db $ID ab01 $(( $(date +%s) - 3600 )) && $W show db -n shop"
check "the status is in --json" json "$W list --json" '
svid = d[2]["svid"]
assert svid["serial"] == os.environ["SERIAL"] and svid["spiffe_id"].endswith("/sa/web"), svid
assert 0 < svid["seconds_left"] <= 7200 and svid["not_after"].endswith("Z"), svid
assert d[0]["svid"] is None
'
check_exit "a status for a missing workload is refused" 1 \
	$STATUS "$AUTHD_POLICY_DB" shop nope spiffe://example.org/ns/shop/sa/nope ab $NA
check_exit "--help exits 0" 0 $W add --help
check_output "the top-level usage lists workload" "workload" $AUTHCTL --help

# --- bad input exits 2 and changes nothing -------------------------------------------
before=$(state)
add() { $W add "$@"; }
check_exit "a name with upper case" 2 add Web -n shop
check_output "says what a name is" "DNS label" add Web -n shop
check_exit "a namespace with a dot" 2 add x -n shop.prod
check_exit "a 64-character name" 2 add "$(printf 'a%.0s' $(seq 64))" -n shop
check_exit "a bad service account" 2 add x -n shop --service-account 'sa/x'
check_exit "no --namespace" 2 add x
check_exit "no NAME" 2 add -n shop
check_exit "two NAMEs" 2 add x y -n shop
check_exit "a unix inbound listener" 2 add x -n shop --listen unix:/run/x.sock --app 127.0.0.1:1
check_output "names the option and the reason" "^authctl: --listen 'unix:/run/x.sock'.*IP:PORT" \
	add x -n shop --listen unix:/run/x.sock --app 127.0.0.1:1
check_exit "a host name as listener" 2 add x -n shop --listen localhost:15008 --app 127.0.0.1:1
check_output "explains host names" "IP address" add x -n shop --listen localhost:15008 --app 127.0.0.1:1
check_exit "IPv6 without brackets" 2 add x -n shop --listen ::1:15008 --app 127.0.0.1:1
check_exit "port 0" 2 add x -n shop --listen 0.0.0.0:0 --app 127.0.0.1:1
check_exit "port with a leading zero" 2 add x -n shop --listen 0.0.0.0:080 --app 127.0.0.1:1
check_exit "port 65536" 2 add x -n shop --listen 0.0.0.0:65536 --app 127.0.0.1:1
check_exit "listen without an app" 2 add x -n shop --listen 0.0.0.0:15010
check_exit "an app without listen" 2 add x -n shop --app 127.0.0.1:8080
check_exit "two apps on one port" 2 add x -n shop --listen 0.0.0.0:15010 --app 127.0.0.1:80 --app 10.0.0.1:80
check_exit "a unix app" 2 add x -n shop --listen 0.0.0.0:15010 --app unix:/run/app.sock
check_exit "nine apps" 2 add x -n shop --listen 0.0.0.0:15010 $(for p in 1 2 3 4 5 6 7 8 9; do echo --app 127.0.0.1:$p; done)
U=listen=127.0.0.1:9100,peer=10.0.0.2:15008,target=db:5432
check "a good upstream (control)" $W add x -n tmp --upstream $U
check "(removed again)" $W rm x -n tmp
before=$(state)
check_exit "an upstream without target" 2 add x -n shop --upstream listen=127.0.0.1:9100,peer=10.0.0.2:15008
check_exit "an upstream with an unknown field" 2 add x -n shop --upstream "$U,color=red"
check_exit "an upstream field twice" 2 add x -n shop --upstream "$U,peer=10.0.0.3:1"
check_exit "a unix peer" 2 add x -n shop --upstream listen=127.0.0.1:9100,peer=unix:/p,target=db:5432
check_exit "a named peer" 2 add x -n shop --upstream listen=127.0.0.1:9100,peer=db:15008,target=db:5432
check_exit "a target without port" 2 add x -n shop --upstream listen=127.0.0.1:9100,peer=10.0.0.2:15008,target=db
check_exit "an IPv6 target without brackets" 2 add x -n shop --upstream listen=127.0.0.1:9100,peer=10.0.0.2:15008,target=::1:80
check_exit "a target port 0" 2 add x -n shop --upstream listen=127.0.0.1:9100,peer=10.0.0.2:15008,target=db:0
check_exit "a target with an empty label" 2 add x -n shop --upstream listen=127.0.0.1:9100,peer=10.0.0.2:15008,target=a..b:1
check_exit "a numeric-looking target name" 2 add x -n shop --upstream listen=127.0.0.1:9100,peer=10.0.0.2:15008,target=127.1:80
check_exit "an expected ID without a path" 2 add x -n shop --upstream "$U,id=spiffe://example.org"
check_exit "an expected ID that is not SPIFFE" 2 add x -n shop --upstream "$U,id=https://example.org/x"
check_exit "two upstreams on one listen address" 2 add x -n shop --upstream $U --upstream listen=127.0.0.1:9100,peer=10.0.0.3:15008,target=b:1
check_exit "an upstream on the workload's own listener" 2 add x -n shop --listen 127.0.0.1:9100 --app 127.0.0.1:1 --upstream $U
check_exit "an unknown option" 2 add x -n shop --bogus
check_exit "an unknown subcommand" 2 $W frobnicate
check_eq "the store is unchanged after every refused add" "$(state)" "$before"

# An expected ID outside the trust domain can never be proved (the daemon's config refuses it).
$AUTHCTL ca init --trust-domain example.org --dir "$T/ca" >/dev/null
check_exit "an expected ID outside the CA's trust domain: exit 2" 2 \
	env AUTHD_CA_DIR="$T/ca" $W add x -n shop --upstream "$U,id=spiffe://other.org/ns/a/sa/b"
cp "$T/.out" "$T/said"
check_output "... saying which trust domain, and from where" \
	"--upstream id 'spiffe://other.org/ns/a/sa/b': not a workload ID in trust domain example.org \(from $T/ca\)" cat "$T/said"
check_exit "--ca-dir names the CA too" 2 $W add x -n shop --ca-dir "$T/ca" --upstream "$U,id=spiffe://other.org/ns/a/sa/b"
check_exit "--trust-domain decides when given" 2 \
	env AUTHD_CA_DIR="$T/ca" $W add x -n shop --trust-domain other.org --upstream "$U,id=$ID"
check_exit "a --ca-dir with no CA is an error" 2 $W add x -n shop --ca-dir "$T/no-ca" --upstream "$U,id=$ID"
check_exit "--trust-domain on list exits 2" 2 $W list --trust-domain example.org
check_eq "the store is unchanged after every refused expected ID" "$(state)" "$before"
# Listeners authd would refuse to serve: authctl sees the registry, so it refuses them first.
check_exit "a listener on another registry workload's port (it has the wildcard): exit 2" 2 \
	$W add x -n tmp --listen 127.0.0.1:15008 --app 127.0.0.1:1
cp "$T/.out" "$T/said"
check_output "... naming that workload" \
	"workload tmp/x: listen 127.0.0.1:15008 overlaps a listener of shop/web; authd would not serve it" cat "$T/said"
check_exit "an upstream on another workload's upstream address" 2 \
	$W add x -n tmp --upstream "listen=127.0.0.1:9000,peer=10.0.0.2:15008,target=db:5432"
check_exit "a unix upstream on another workload's path" 2 \
	$W add x -n tmp --upstream "listen=unix:/run/authd/cache,1.sock,peer=10.0.0.2:15008,target=db:5432"
check_exit "two of its own listeners overlapping (wildcard and loopback)" 2 \
	$W add x -n tmp --listen 0.0.0.0:9300 --app 127.0.0.1:1 --upstream "listen=127.0.0.1:9300,peer=10.0.0.2:15008,target=db:5432"
check_eq "the store is unchanged after every refused overlap" "$(state)" "$before"
check "replacing a workload on its own addresses is not an overlap" \
	$W add db --namespace shop --listen 0.0.0.0:15009 --app 127.0.0.1:5432 --replace
check "the same port on another IP is not an overlap" $W add x -n tmp --listen 127.0.0.2:9000 --app 127.0.0.1:1
check "(removed again)" $W rm x -n tmp
check "an expected ID inside the trust domain is stored" \
	env AUTHD_CA_DIR="$T/ca" $W add x -n tmp --upstream "$U,id=$ID"
check "(removed again)" $W rm x -n tmp

# -o json is the one spelling (--json stays as an alias); help per subcommand.
check "list -o json parses" json "$W list -o json" 'assert len(d) == 3, d'
check "show -o json parses" json "$W show web -n shop -o json" 'assert d["name"] == "web", d'
check_exit "-o json on add exits 2 (it prints no data)" 2 $W add y -n shop -o json
check_exit "-o yaml exits 2" 2 $W list -o yaml
for sub in add rm list show; do
	check_output "workload $sub --help prints its usage" "^usage: authctl workload $sub" $W $sub --help
done
check_exit "workload add -h exits 0" 0 $W add -h

# --- duplicates, replace, rm -----------------------------------------------------------
check_exit "adding an existing workload is refused (exit 1)" 1 $W add db -n shop --listen 0.0.0.0:15011 --app 127.0.0.1:5432
check_output "and says to replace it" "exists \(--replace" $W add db -n shop --listen 0.0.0.0:15011 --app 127.0.0.1:5432
check_eq "the duplicate changed nothing" "$(state)" "$before"
check_output "--replace stores the new definition" "^stored shop/db" \
	$W add db -n shop --listen 0.0.0.0:15011 --app 127.0.0.1:5432 --replace
check_output "list shows it" "^shop/db +db +0\.0\.0\.0:15011 " $W list
check_exit "rm of a missing workload exits 1" 1 $W rm nope -n shop
check_output "and names it" "no workload shop/nope" $W rm nope -n shop
check_exit "rm without --namespace" 2 $W rm web
check_output "rm removes" "^removed shop/web" $W rm web --namespace shop
check_exit "it is gone" 1 $W show web -n shop
check "list --json after rm" json "$W list --json" 'assert [x["name"] for x in d] == ["report", "db"], d'
check "rm the rest" bash -c "$W rm report -n batch && $W rm db -n shop"
check_output "an empty registry says so" "^no workloads$" $W list
check_output "and --json is an empty array" "^\[\]$" $W list --json

# --- it is the policy store's file ------------------------------------------------------
check "policy rules and workloads share the file" $AUTHCTL policy allow \
	--from spiffe://example.org/ns/shop/sa/web --to $ID --port 5432
check "the policy store still verifies" $AUTHCTL policy verify-db
check_exit "a file that is not a store is refused" 3 $W list --store /etc/hostname
finish
