#!/usr/bin/env bash
# `make dev`: run authd's self-contained dev node in the foreground
# (`authd --dev`, docs/daemon.md): a CA, an LMDB store, two sample
# workloads with an app each and a sample policy, all on loopback, with the
# commands to try an allowed and a denied connection printed at start.
# State lives in build/dev and survives restarts; `rm -rf build/dev` starts
# over. Ctrl-C drains and stops it.
set -euo pipefail
BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
exec "$ROOT/$BUILD/authd" --dev --state-dir "$ROOT/$BUILD/dev" "$@"
