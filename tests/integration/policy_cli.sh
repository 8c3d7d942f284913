#!/usr/bin/env bash
# authctl policy end to end against a real LMDB file: writes, reads, apply,
# bad input that must change nothing, kill -9 of writers, concurrent
# writers and readers, signed bundles.
. "$(dirname "$0")/../lib/testlib.sh"

export AUTHD_POLICY_DB=$T/policy.mdb
P="$AUTHCTL policy"
A=spiffe://example.org/ns/shop/sa/frontend
B=spiffe://example.org/ns/shop/sa/db
C=spiffe://example.org/ns/batch/sa/report
state() { $P export -o json 2>&1 | sed '/authd.io\/revision/d' | sha256sum; }

# --- allow / list / check ---------------------------------------------------------
check_exit "check with no store is a failure, not a silent deny" 3 $P check --from $A --to $B --port 5432
check_output "allow prints the new rule" "^allowed #1 from $A to $B ports 5432" \
	$P allow --from $A --to $B --port 5432 --comment "frontend reads orders"
check_output "check: ALLOW and the rule" "^ALLOW .* by rule #1 " $P check --from $A --to $B --port 5432
check_exit "check allow exits 0" 0 $P check --from $A --to $B --port 5432
check_output "check: DENY and why" "^DENY .*no rule allows it" $P check --from $C --to $B --port 5432
check_exit "check deny exits 1" 1 $P check --from $C --to $B --port 5432
check_output "check: other ports only" "^DENY .*other ports only.*#1" $P check --from $A --to $B --port 22
check "allow a namespace to reach a port range" $P allow --from 'spiffe://example.org/ns/batch/*' --to $B --port 8000-8099
check_exit "namespace rule allows" 0 $P check --from $C --to $B --port 8050
check "allow any peer on a list of ports, expiring" $P allow --from '*' --to 'spiffe://example.org/ns/shop/*' --port 80,443 --expires 2h
check_exit "any-peer rule allows" 0 $P check --from spiffe://other.org/ns/x/sa/y --to $A --port 443
check_exit "expiring rule denies once past" 1 $P check --from spiffe://other.org/ns/x/sa/y --to $A --port 443 --at $(( $(date +%s) + 3 * 3600 ))
check_output "expired rule is named" "has expired" $P check --from spiffe://other.org/ns/x/sa/y --to $A --port 443 --at $(( $(date +%s) + 3 * 3600 ))
check_output "list shows three rules" "^3$" bash -c "$P list | tail -n +2 | wc -l"
check_output "list --to filters" "frontend reads orders" $P list --to $B
check "list -o json parses" bash -c "$P list -o json | $PY -c 'import json,sys; r=json.load(sys.stdin); assert len(r)==3 and r[0][\"id\"]==1, r'"
check_eq "same rule twice is one rule" "$($P allow --from $A --to $B --port 5432 --comment 'frontend reads orders' | grep -o '#[0-9]*')" "#1"

# --- bad input changes nothing ------------------------------------------------------
before=$(state)
check_output "'*' as a destination is refused" "only as a source" $P allow --from $A --to '*'
check_exit "'*' as a destination exits 2" 2 $P allow --from $A --to '*'
check_output "a malformed selector says what is wrong" "empty segment" $P allow --from spiffe://example.org/ns//x --to $B
check_output "a wildcard in the wrong place is explained" "namespace|trust domain" $P allow --from 'spiffe://example.org/ns/*' --to $B
check_exit "port 0 is refused" 2 $P allow --from $A --to $B --port 0
check_exit "port 70000 is refused" 2 $P allow --from $A --to $B --port 70000
check_exit "a reversed range is refused" 2 $P allow --from $A --to $B --port 90-80
check_exit "a bad duration is refused" 2 $P allow --from $A --to $B --expires 2y
check_exit "a past expiry is refused" 2 $P allow --from $A --to $B --expires 2020-01-01T00:00:00Z
check_exit "a comment with a control character is refused" 2 $P allow --from $A --to $B --comment "$(printf 'a\tb')"
check_exit "missing --to is a usage error" 2 $P allow --from $A
check_exit "revoking an unknown id exits 1" 1 $P revoke 999
check_exit "revoke with junk id is a usage error" 2 $P revoke abc
check_eq "store unchanged after every refused write" "$(state)" "$before"

# --- revoke -------------------------------------------------------------------------
check "revoke by id" $P revoke 1
check_exit "revoked rule no longer allows" 1 $P check --from $A --to $B --port 5432
check "revoke by selectors" $P revoke --from 'spiffe://example.org/ns/batch/*' --to $B
check_exit "that rule is gone too" 1 $P check --from $C --to $B --port 8050

# --- history, audit -------------------------------------------------------------------
check_output "history names who and what" "revoke #1" $P history
check_output "history records the user" "$(id -un) \(uid $(id -u)\)" $P history -n 1
check "audit on" $P audit --to 'spiffe://example.org/ns/shop/*' on
check_output "audit lets a would-be denial through" "^AUDIT" $P check --from $C --to $B --port 5432
check_exit "audit exits 0" 0 $P check --from $C --to $B --port 5432
check_output "audit lists the destination" "ns/shop/\*" $P audit
check "audit off" $P audit --to 'spiffe://example.org/ns/shop/*' off
check_exit "denied again after audit off" 1 $P check --from $C --to $B --port 5432

# --- apply and export ---------------------------------------------------------------
cat >"$T/set.yaml" <<YAML
apiVersion: authd.io/v1
kind: AllowList
metadata:
  name: shop
spec:
  audit:
    - "spiffe://example.org/ns/batch/*"
  rules:
    - from: $A
      to: $B
      ports: [5432]
      comment: frontend reads orders
    - from: "spiffe://example.org/ns/batch/*"
      to: $B
      ports: "8000-8099"
YAML
check_output "apply --dry-run shows the diff" "would add +.*$A" $P apply -f "$T/set.yaml" --dry-run
rev_before=$($P history -n 1 | tail -n 1 | awk '{print $1}')
check_eq "dry run writes nothing" "$($P history -n 1 | tail -n 1 | awk '{print $1}')" "$rev_before"
check_output "apply reports the changes" "applied [0-9]+ change" $P apply -f "$T/set.yaml"
check_output "apply again changes nothing" "unchanged" $P apply -f "$T/set.yaml"
check_exit "applied rule allows" 0 $P check --from $A --to $B --port 5432
check_exit "the any-peer rule is gone (not in the file)" 1 $P check --from spiffe://other.org/ns/x/sa/y --to $A --port 443
$P export >"$T/export.yaml"
check_output "export round-trips through apply unchanged" "unchanged" $P apply -f "$T/export.yaml"
check "export -o json is JSON" bash -c "$P export -o json | $PY -c 'import json,sys; d=json.load(sys.stdin); assert d[\"kind\"]==\"AllowList\" and len(d[\"spec\"][\"rules\"])==2'"
$P export -o json >"$T/export.json"
check_output "JSON export applies unchanged" "unchanged" $P apply -f "$T/export.json"

before=$(state)
bad() { # bad NAME REGEX: a broken file is refused with a message matching REGEX
	check_output "bad file ($1) names the place" "$2" $P apply -f "$T/bad.yaml"
	check_exit "bad file ($1) exits 2" 2 $P apply -f "$T/bad.yaml"
}
printf 'apiVersion: authd.io/v1\nkind: AllowList\nspec:\n  rules:\n    - from: %s\n      to: %s\n      ports: [80, abc]\n' $A $B >"$T/bad.yaml"
bad "bad port" 'spec.rules\[0\].ports.*line 7'
printf 'apiVersion: authd.io/v1\nkind: AllowList\nspec:\n  rules:\n    - from: %s\n      to: %s\n    - from: %s\n      to: "*"\n' $A $B $A >"$T/bad.yaml"
bad "any as destination" 'spec.rules\[1\].to'
printf 'apiVersion: authd.io/v1\nkind: AllowList\nspec:\n  rules:\n    - from: %s\n      too: %s\n' $A $B >"$T/bad.yaml"
bad "typo in a field" 'too'
printf 'apiVersion: authd.io/v2\nkind: AllowList\nspec: {}\n' >"$T/bad.yaml"
bad "wrong apiVersion" 'apiVersion'
printf 'apiVersion: authd.io/v1\nkind: AllowList\nspec:\n  rules: [ {from: %s, to: %s\n' $A $B >"$T/bad.yaml"
bad "broken YAML" 'line [0-9]+'
printf 'apiVersion: authd.io/v1\nkind: AllowList\nspec:\n  rules:\n    - from: %s\n      to: %s\n      expires: 2020-01-01T00:00:00Z\n' $A $B >"$T/bad.yaml"
bad "expired rule" 'expires'
check_eq "store unchanged after every refused apply" "$(state)" "$before"

# --- signed bundles --------------------------------------------------------------------
check "keygen" $P keygen --key "$T/sign.key" --pub "$T/sign.pub"
check_eq "signing key is 0600" "$(stat -c %a "$T/sign.key")" 600
check_exit "keygen refuses to overwrite" 2 $P keygen --key "$T/sign.key" --pub "$T/sign.pub"
check "bundle sign" $P bundle sign -f "$T/set.yaml" --key "$T/sign.key" --out "$T/set.sig"
check_output "bundle verify accepts" "^OK" $P bundle verify -f "$T/set.yaml" --pub "$T/sign.pub" --sig "$T/set.sig"
check "reformatted but equal policy still verifies (canonical form)" \
	$P bundle verify -f "$T/export.yaml" --pub "$T/sign.pub" --sig "$T/set.sig"
sed 's/5432/5433/' "$T/set.yaml" >"$T/tampered.yaml"
check_output "a changed port breaks the signature" "BAD SIGNATURE" $P bundle verify -f "$T/tampered.yaml" --pub "$T/sign.pub" --sig "$T/set.sig"
check_exit "bad signature exits 1" 1 $P bundle verify -f "$T/tampered.yaml" --pub "$T/sign.pub" --sig "$T/set.sig"
$P keygen --key "$T/other.key" --pub "$T/other.pub" >/dev/null
check_exit "another key's public half rejects it" 1 $P bundle verify -f "$T/set.yaml" --pub "$T/other.pub" --sig "$T/set.sig"

# A signed apply verifies first; a bad signature or a lone half writes nothing.
before=$(state)
check_exit "apply with a bad signature exits 1" 1 \
	$P apply -f "$T/tampered.yaml" --pub "$T/sign.pub" --sig "$T/set.sig"
cp "$T/.out" "$T/said"
check_output "... says it was not applied" "not applied; the store is unchanged" cat "$T/said"
check_exit "apply with another key's public half exits 1" 1 \
	$P apply -f "$T/set.yaml" --pub "$T/other.pub" --sig "$T/set.sig"
check_exit "apply with --sig but no --pub exits 2" 2 $P apply -f "$T/set.yaml" --sig "$T/set.sig"
check_exit "apply with --pub but no --sig exits 2" 2 $P apply -f "$T/set.yaml" --pub "$T/sign.pub"
check_eq "store unchanged after every refused signed apply" "$(state)" "$before"
check "apply with a good signature applies" $P apply -f "$T/set.yaml" --pub "$T/sign.pub" --sig "$T/set.sig"

# --- options a subcommand does not take: refused, never ignored ---------------------------
before=$(state)
check_exit "revoke --port exits 2 (it would revoke every port)" 2 $P revoke --from $A --to $B --port 80
cp "$T/.out" "$T/said"
check_output "... and says revoke takes no --port" "policy revoke does not take --port" cat "$T/said"
check_exit "audit --from exits 2" 2 $P audit --from $A
cp "$T/.out" "$T/said"
check_output "... naming the option" "policy audit does not take --from" cat "$T/said"
check_exit "audit --to SEL on -o json exits 2 (it prints no data)" 2 $P audit --to $B on -o json
check_exit "-o yaml on check exits 2" 2 $P check -o yaml --from $A --to $B --port 1
check_exit "allow --dry-run exits 2" 2 $P allow --from $A --to $B --dry-run
check_exit "list --expires exits 2" 2 $P list --expires 1h
check_exit "verify-db -f exits 2" 2 $P verify-db -f "$T/set.yaml"
check_exit "apply --key exits 2" 2 $P apply -f "$T/set.yaml" --key "$T/sign.key"
check_eq "store unchanged after every refused option" "$(state)" "$before"

# --- -o json everywhere a subcommand prints data: valid JSON, escaped ------------------------
jq_() { # jq_ DESC PYTHON CMD...: CMD's stdout parses as JSON and the assertions on d hold
	local desc=$1 py=$2; shift 2
	check "$desc" bash -c '"$@" >"$0/j.json"; '"$PY"' -c "import json; d = json.load(open(\"$0/j.json\")); '"$py"'"' "$T" "$@"
}
jq_ "check -o json: an allow, with its rule" 'assert d[\"verdict\"] == \"allow\" and d[\"rule\"][\"ports\"] == \"5432\", d' \
	$P check -o json --from $A --to $B --port 5432
check_exit "check -o json keeps the exit code of a deny" 1 $P check -o json --from $C --to $B --port 5432
jq_ "check -o json: a deny says why" 'assert d[\"verdict\"] == \"deny\" and d[\"reason\"] == \"no-rule\" and d[\"rule\"] is None, d' \
	$P check -o json --from spiffe://example.org/ns/x/sa/none --to $B --port 5432
jq_ "history -o json: entries with who and signed" 'assert d[\"requires_signatures\"] is False and len(d[\"entries\"]) == 3 and d[\"entries\"][-1][\"signed\"] is False, d' \
	$P history -o json -n 3
jq_ "audit -o json: an array of destinations" 'assert d == [\"spiffe://example.org/ns/batch/*\"], d' $P audit -o json
# A comment with a quote, a backslash and UTF-8 comes back intact from JSON.
$P allow --db "$T/esc.mdb" --from $A --to $B --comment 'say "hi" \ café' >/dev/null
jq_ "list -o json escapes a comment" 'assert d[0][\"comment\"] == \"say \\\"hi\\\" \\\\ caf\\u00e9\", d' $P list -o json --db "$T/esc.mdb"
jq_ "history -o json escapes it too" 'assert \"say\" in d[\"entries\"][0][\"what\"] or d[\"entries\"][0][\"who\"], d' $P history -o json --db "$T/esc.mdb"

# --- a store that accepts only signed changes ----------------------------------------------
S() { AUTHD_POLICY_DB=$T/signed.mdb $P "$@"; }
S apply -f "$T/set.yaml" >/dev/null
check_output "require-signed shows it is off" "signed changes only: no" S require-signed
check_output "history says unsigned changes are accepted" "^unsigned changes accepted" S history
check_exit "require-signed --pub a missing file exits 2" 2 S require-signed --pub "$T/nope.pub"
check_exit "require-signed --key of a key that is not among --pub exits 2" 2 \
	S require-signed --pub "$T/sign.pub" --key "$T/other.key"
# re_quote: stdin as an extended regex matching itself (keys are base64: + is special).
re_quote() { sed 's/[][\\.*^$+?(){}|]/\\&/g'; }
check_output "require-signed --pub turns it on and lists the key" "key $(re_quote <"$T/sign.pub")" \
	S require-signed --pub "$T/sign.pub"
check_output "history says so, naming the key" "^signed changes only: applies must be signed by $(head -c 8 "$T/sign.pub" | re_quote)" S history
check_output "require-signed shows it is on" "signed changes only: yes, 1 key" S require-signed
sstate() { S export -o json 2>&1 | sha256sum; }
before=$(sstate)
check_exit "an unsigned apply is refused: exit 1" 1 S apply -f "$T/set.yaml"
cp "$T/.out" "$T/said"
check_output "... saying the store accepts only signed changes" "accepts only signed changes" cat "$T/said"
check_output "... and that nothing was applied" "not applied; the store is unchanged" cat "$T/said"
check_exit "allow is refused: exit 1" 1 S allow --from $C --to $B --port 1
cp "$T/.out" "$T/said"
check_output "... saying why" "allow: this store accepts only signed changes" cat "$T/said"
check_exit "revoke by id is refused" 1 S revoke 1
check_exit "revoke by selectors is refused" 1 S revoke --from $A --to $B
check_exit "audit on is refused" 1 S audit --to $B on
check_exit "audit off is refused" 1 S audit --to 'spiffe://example.org/ns/batch/*' off
check_exit "a bad signature is refused: exit 1" 1 S apply -f "$T/tampered.yaml" --sig "$T/set.sig"
cp "$T/.out" "$T/said"
check_output "... BAD SIGNATURE" "BAD SIGNATURE" cat "$T/said"
$P bundle sign -f "$T/tampered.yaml" --key "$T/other.key" --out "$T/other.sig" >/dev/null
check_exit "another key's signature is refused (no --pub)" 1 S apply -f "$T/tampered.yaml" --sig "$T/other.sig"
check_exit "another key's signature is refused, even with its --pub" 1 \
	S apply -f "$T/tampered.yaml" --sig "$T/other.sig" --pub "$T/other.pub"
cp "$T/.out" "$T/said"
check_output "... saying the store does not accept that key" "which this store does not accept" cat "$T/said"
check_exit "turning it off without --key is refused: exit 1" 1 S require-signed off
check_exit "turning it off with another key is refused" 1 S require-signed off --key "$T/other.key"
check_exit "replacing the keys without --key is refused" 1 S require-signed --pub "$T/other.pub"
check_eq "store unchanged after every refused change" "$(sstate)" "$before"
check_output "require-signed still lists only the first key" "^  key $(re_quote <"$T/sign.pub")$" S require-signed
check_output "the dry run of an unsigned file still works (it writes nothing)" "dry run" \
	S apply -f "$T/tampered.yaml" --dry-run
sed 's/5432/6543/' "$T/set.yaml" >"$T/set2.yaml"
$P bundle sign -f "$T/set2.yaml" --key "$T/sign.key" --out "$T/set2.sig" >/dev/null
check_output "a signed apply applies, without --pub (the store's key)" "applied .*\(signed\)" \
	S apply -f "$T/set2.yaml" --sig "$T/set2.sig"
check_output "and with --pub naming it" "applied .*\(signed\)" \
	S apply -f "$T/set.yaml" --sig "$T/set.sig" --pub "$T/sign.pub"
check_output "history marks the signed entry with its key" "^[0-9]+ +[0-9TZ:-]+ +.*\) +$(head -c 8 "$T/sign.pub" | re_quote) +apply" S history -n 1
check_output "history marks unsigned entries with -" "\) +- +require-signed on" S history
S history -o json >"$T/h.json"
check "history -o json: requires signatures, the signer of the last entry" $PY -c "import json
d = json.load(open('$T/h.json'))
assert d['requires_signatures'] and d['signers'] == [open('$T/sign.pub').read().strip()], d
assert d['entries'][-1]['signed'] and d['entries'][-1]['signer'] == d['signers'][0], d"
# An authctl from before signed-only stores would ignore the keys: it must refuse the store.
if [ -n "${AUTHCTL_OLD:-}" ]; then
	check_exit "an older authctl refuses a signed-only store (exit 3)" 3 $AUTHCTL_OLD policy list --db "$T/signed.mdb"
fi
check_output "changing the keys with a current key's secret: both" "on, 2 keys" \
	S require-signed --pub "$T/sign.pub" --pub "$T/other.pub" --key "$T/sign.key"
check_output "now the other key's signature applies" "applied" S apply -f "$T/tampered.yaml" --sig "$T/other.sig"
check_output "off with a current key's secret" "off; unsigned changes are accepted again" \
	S require-signed off --key "$T/other.key"
check_output "history records off, signed" "$(head -c 8 "$T/other.pub" | re_quote) +require-signed off" S history -n 1
check "unsigned changes are accepted again" S allow --from $C --to $B --port 1
check_output "and the store is consistent" "^consistent" S verify-db
if [ -n "${AUTHCTL_OLD:-}" ]; then
	check "an older authctl reads the store again once it is off" $AUTHCTL_OLD policy list --db "$T/signed.mdb"
fi

# --- help, one subcommand at a time ----------------------------------------------------------
for sub in allow revoke list check apply export history audit require-signed keygen bundle verify-db; do
	check_output "policy $sub --help prints its usage" "^usage: authctl policy $sub" $P $sub --help
done
check_exit "policy check -h exits 0" 0 $P check -h
check_output "policy allow --help does not list other subcommands" "^[^r]*$" bash -c "$P allow --help | grep -c revoke"

# --- foreign and damaged files ---------------------------------------------------------
printf 'not a database\n' >"$T/text.mdb"
check_output "a text file at --db is a clear error" "not an authd policy store" $P list --db "$T/text.mdb"
check_exit "and exits 3" 3 $P allow --db "$T/text.mdb" --from $A --to $B
check_eq "and is left as it was" "$(cat "$T/text.mdb")" "not a database"
head -c 100000 /dev/urandom >"$T/random.mdb"
check_exit "random bytes at --db: clear error, no crash" 3 $P list --db "$T/random.mdb"

# --- a growing map ------------------------------------------------------------------------
gen() { # gen N TAG: an AllowList of N rules plus one shared "keep" rule, every comment TAG
	{
		printf 'apiVersion: authd.io/v1\nkind: AllowList\nspec:\n  rules:\n'
		printf '    - {from: "spiffe://example.org/ns/keep/sa/x", to: "%s", ports: "443", comment: "%s"}\n' $B "$2"
		for i in $(seq 1 "$1"); do
			printf '    - {from: "spiffe://example.org/ns/load/sa/c%s", to: "%s", ports: "443", comment: "%s"}\n' "$i" $B "$2"
		done
	}
}
gen 3000 big >"$T/big.yaml"
check "a store with a 64 KiB map grows to take 3000 rules" \
	env AUTHD_POLICY_MAP_SIZE=65536 $AUTHCTL policy apply --db "$T/small.mdb" -f "$T/big.yaml"
check_output "and is consistent" "consistent: 3001 rules" $P verify-db --db "$T/small.mdb"

# A quota (AUTHD_POLICY_MAP_MAX): the write that does not fit fails whole and names why.
$P allow --db "$T/quota.mdb" --from spiffe://example.org/ns/a/sa/x --to $B --port 443 >/dev/null
$P export --db "$T/quota.mdb" >"$T/quota.before"
check_output "an apply past AUTHD_POLICY_MAP_MAX fails: size limit" "reached its size limit" \
	env AUTHD_POLICY_MAP_MAX=262144 $AUTHCTL policy apply --db "$T/quota.mdb" -f "$T/big.yaml"
$P export --db "$T/quota.mdb" >"$T/quota.after"
check "and the store is as it was" cmp -s "$T/quota.before" "$T/quota.after"
check_output "a malformed AUTHD_POLICY_MAP_MAX is named" 'AUTHD_POLICY_MAP_MAX=1e9: expected a byte count' \
	env AUTHD_POLICY_MAP_MAX=1e9 $AUTHCTL policy list --db "$T/quota.mdb"

# --- kill -9 of a writer never leaves a partial state ------------------------------------
gen 4000 setA >"$T/A.yaml"
gen 3000 setB | sed 's/c\([0-9]*\)"/d\1"/' >"$T/B.yaml"
export AUTHD_POLICY_DB=$T/crash.mdb
$P apply -f "$T/A.yaml" >/dev/null
bad_state=0
for i in $(seq 1 25); do
	f=$T/B.yaml
	[ $((i % 2)) = 0 ] && f=$T/A.yaml
	$AUTHCTL policy apply -f "$f" >/dev/null 2>&1 &
	pid=$!
	sleep "0.0$((RANDOM % 9))$((RANDOM % 10))"
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	out=$($P verify-db 2>&1) || { bad_state=1; echo "after kill $i: $out"; break; }
	n=$(echo "$out" | sed -E 's/consistent: ([0-9]+) rules.*/\1/')
	tags=$($P list -o json | $PY -c 'import json,sys; print(" ".join(sorted({r["comment"] for r in json.load(sys.stdin)})))')
	if ! { [ "$n" = 4001 ] && [ "$tags" = setA ]; } && ! { [ "$n" = 3001 ] && [ "$tags" = setB ]; }; then
		bad_state=1
		echo "after kill $i: $n rules with tags '$tags'"
		break
	fi
done
check_eq "25 writers killed mid-apply: every state is all of A or all of B" "$bad_state" 0

# --- concurrent writers and readers --------------------------------------------------------
export AUTHD_POLICY_DB=$T/conc.mdb
$P apply -f "$T/A.yaml" >/dev/null
( for i in 1 2 3 4; do $P apply -f "$T/B.yaml" >/dev/null; $P apply -f "$T/A.yaml" >/dev/null; done ) &
w1=$!
( for i in 1 2 3 4; do $P allow --from "spiffe://example.org/ns/x/sa/w$i" --to $C --port 1 >/dev/null; done ) &
w2=$!
torn=0
reads=0
while kill -0 $w1 2>/dev/null; do
	tags=$($P list -o json | $PY -c 'import json,sys
rs=[r for r in json.load(sys.stdin) if r["comment"]]
t=sorted({r["comment"] for r in rs})
ok=(t==["setA"] and len(rs)==4001) or (t==["setB"] and len(rs)==3001)
print("ok" if ok else "torn %s %d" % (t, len(rs)))')
	reads=$((reads + 1))
	[ "$tags" = ok ] || { torn=1; echo "reader saw: $tags"; break; }
	# The shared rule is replaced (its comment differs) inside each apply's
	# one transaction: a check never falls in between.
	$P check --from spiffe://example.org/ns/keep/sa/x --to $B --port 443 >/dev/null ||
		{ torn=1; echo "a check was denied mid-apply"; break; }
done
wait $w1 $w2
check_eq "readers never see a half-applied apply ($reads reads during 8 applies)" "$torn" 0
check_output "after concurrent writers the store is consistent, every write counted" "consistent: 400[1-5] rules, revision 13," $P verify-db

finish
