#!/usr/bin/env bash
# Install what authd's build, tests and benchmarks need from Debian's apt
# archive. Only missing packages are installed; nothing is done when all are
# present. Each package is listed with the reason it is needed.
#
#   mk/deps.sh          build and test dependencies (make deps, make test, CI)
#   mk/deps.sh bench    those plus the reference proxies of `make bench`
#   mk/deps.sh kube     those plus what the Kubernetes test harness needs
#                       (make kube-deps, part of make test)
set -euo pipefail

pkgs=(
	build-essential	# cc, make
	pkg-config	# finds the libraries below
	cmake		# builds mbedTLS 3.6 from source
	dpkg-dev	# dpkg-source unpacks the mbedTLS source package
	patch		# applies mk/patches to the mbedTLS source
	clang		# libFuzzer fuzz targets
	libclang-rt-14-dev # libFuzzer and sanitizer runtimes for clang
	clang-tools-14	# scan-build for make check
	libsodium-dev	# randomness, key sealing, Ed25519, memzero
	liblmdb-dev	# the policy store
	lmdb-utils	# mdb_stat/mdb_dump in tests
	libuv1-dev	# the daemon's event loop
	libyaml-dev	# policy and config files
	libjansson-dev	# JSON: Kubernetes API objects the daemon reads
	openssl		# independent checks of what we issue; test peers
	libssl-dev	# bench/load_bench.c: a cheap mTLS client (OpenSSL's assembly P-256)
	python3-cryptography # a second X.509 parser in tests
	curl		# a real mesh client in tests
	iproute2	# network namespaces in tests
	ca-certificates
)
# The data-plane benchmark's reference servers (bench/proxies.sh), each
# ending mTLS in front of the same backend; only `make bench` installs them.
bench_pkgs=(
	haproxy		# reference mTLS terminator
	nginx		# reference mTLS terminator (stream proxy)
	libnginx-mod-stream # nginx's stream module, built with stream_ssl
	stunnel4	# reference mTLS terminator
)
# A real Kubernetes control plane for the tests (mk/kube-apiserver.sh,
# tests/lib/kube.sh); make test installs these through make kube-deps.
kube_pkgs=(
	golang-go	# builds kube-apiserver from Debian's kubernetes source package
	golang-github-modern-go-reflect2-dev # replaces the vendored reflect2 1.0.1, which panics on Go >= 1.18
	etcd-server	# the apiserver's store in the tests
	etcd-client	# etcdctl: compacts etcd for "resourceVersion too old" tests
	jq		# JSON in tests/lib/kube.sh and its suites
	yamllint	# lints the deploy/ manifests
	python3-yaml	# reads the deploy/ manifests in kube_deploy.sh
	npm		# fetches kubectl v1.20 (@aws-cdk/asset-kubectl-v20); skipped when npm exists
)
for group in "$@"; do
	case $group in
	bench) pkgs+=("${bench_pkgs[@]}") ;;
	kube) pkgs+=("${kube_pkgs[@]}") ;;
	*)
		echo "deps: unknown group '$group' (known: bench, kube)" >&2
		exit 2
		;;
	esac
done
names=()
for p in "${pkgs[@]}"; do
	names+=("${p%%[[:space:]]*}")
done

missing=()
for p in "${names[@]}"; do
	# Any npm will do: a Node.js that is not Debian's (NodeSource's, say)
	# brings its own and conflicts with Debian's npm package.
	if [ "$p" = npm ] && command -v npm >/dev/null; then
		continue
	fi
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages: ${missing[*]}" >&2
	echo "deps: run 'sudo make deps' or install them with apt-get" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
