#!/usr/bin/env bash
# `make dev`: authd's self-contained dev walkthrough. Until the daemon
# lands (see the README's status table) it exercises the CA and the
# allow-list end to end in build/dev: a fresh trust domain, two workload
# SVIDs, a real mutual-TLS handshake between them with OpenSSL, a policy
# store with one rule and an allowed and a denied check, then prints
# commands to try next.
set -euo pipefail
BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
AUTHCTL=$ROOT/$BUILD/authctl
DEV=$ROOT/$BUILD/dev
TD=dev.authd.local
port=${DEV_PORT:-18443}

rm -rf "$DEV"
mkdir -p "$DEV"
run() { printf '\n$ %s\n' "$*"; "$@"; }

run "$AUTHCTL" ca init --trust-domain $TD --dir "$DEV/ca"
run "$AUTHCTL" ca show --dir "$DEV/ca"
run "$AUTHCTL" ca issue --dir "$DEV/ca" --id spiffe://$TD/ns/shop/sa/frontend --ttl 1h --out "$DEV/frontend"
run "$AUTHCTL" ca issue --dir "$DEV/ca" --id spiffe://$TD/ns/shop/sa/db --ttl 1h --out "$DEV/db"
run "$AUTHCTL" ca verify --dir "$DEV/ca" --cert "$DEV/frontend/svid.pem" --role client

echo
echo "== a mutual-TLS handshake between the two SVIDs (OpenSSL as both peers)"
sleep 10 | openssl s_server -quiet -accept "127.0.0.1:$port" -tls1_3 -naccept 1 \
	-cert "$DEV/db/svid.pem" -key "$DEV/db/svid.key" -cert_chain "$DEV/db/svid.pem" \
	-CAfile "$DEV/ca/bundle.pem" -Verify 2 -verify_return_error >"$DEV/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do
	ss -ltn "sport = :$port" | grep -q LISTEN && break
	sleep 0.1
done
if { echo "hello from frontend"; sleep 1; } | openssl s_client -quiet -connect "127.0.0.1:$port" -tls1_3 \
	-cert "$DEV/frontend/svid.pem" -key "$DEV/frontend/svid.key" -cert_chain "$DEV/frontend/svid.pem" -CAfile "$DEV/ca/bundle.pem" \
	-verify_return_error >"$DEV/client.log" 2>&1; then
	wait "$server" || true
	if grep -q "hello from frontend" "$DEV/server.log"; then
		echo "handshake OK: db verified frontend's SVID and received 'hello from frontend'"
	else
		echo "handshake done but the message did not arrive; see $DEV/server.log"
		exit 1
	fi
else
	echo "handshake failed; see $DEV/client.log and $DEV/server.log"
	exit 1
fi

echo
echo "== the allow-list: frontend may reach db on 5432, nothing else"
export AUTHD_POLICY_DB=$DEV/policy.mdb
run "$AUTHCTL" policy allow --from spiffe://$TD/ns/shop/sa/frontend --to spiffe://$TD/ns/shop/sa/db \
	--port 5432 --comment "frontend reads orders"
run "$AUTHCTL" policy check --from spiffe://$TD/ns/shop/sa/frontend --to spiffe://$TD/ns/shop/sa/db --port 5432
run "$AUTHCTL" policy check --from spiffe://$TD/ns/shop/sa/db --to spiffe://$TD/ns/shop/sa/frontend --port 8080 || true

cat <<MSG

Try next (everything lives in $DEV):
  export AUTHD_POLICY_DB=$DEV/policy.mdb
  $AUTHCTL policy check --from spiffe://$TD/ns/shop/sa/frontend --to spiffe://$TD/ns/shop/sa/db --port 22
  $AUTHCTL policy list; $AUTHCTL policy export; $AUTHCTL policy history
  $AUTHCTL ca verify --dir $DEV/ca --cert $DEV/db/svid.pem
  $AUTHCTL ca verify --dir $DEV/ca --cert $DEV/db/svid.pem --at \$(( \$(date +%s) + 7200 ))   # expired
  $AUTHCTL ca verify --dir $DEV/ca --cert $DEV/db/svid.pem --trust-domain other.org          # foreign
  $AUTHCTL ca rotate --dir $DEV/ca --new-root && $AUTHCTL ca bundle list --dir $DEV/ca
  openssl x509 -in $DEV/frontend/svid.pem -noout -text
MSG
