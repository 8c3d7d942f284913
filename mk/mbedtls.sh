#!/usr/bin/env bash
# Provide mbedTLS 3.6 LTS as static libraries under $1 (default build/deps).
#
# Debian 12 ships only mbedTLS 2.28 (no TLS 1.3), so this fetches the newest
# 3.6.x *source package* from Debian 13 with apt's ordinary source download
# (InRelease -> Sources -> .dsc -> tarball, every hash checked by apt), using
# a private apt state so the machine's own apt configuration is untouched.
# The archive address and keyring are read from the machine's apt sources;
# none is written here. The download is cached in $1/cache so later builds
# work offline. The patches in mk/patches/mbedtls-*.patch (each says which
# upstream issue it fixes) are applied to the unpacked source, which is then
# built with cmake and mk/mbedtls_config.h.
set -euo pipefail

dest=$(realpath -m "${1:-build/deps}")
here=$(cd "$(dirname "$0")" && pwd)
config="$here/mbedtls_config.h"
prefix="$dest/mbedtls"
cache="$dest/cache"
stamp="$prefix/.stamp"

patches() { { ls "$here"/patches/mbedtls-*.patch 2>/dev/null || true; } | sort; }
# Any change to the config, this script or a patch rebuilds the libraries.
want_stamp() {
	local p
	echo "config $(sha256sum "$config" | cut -d' ' -f1) script $(sha256sum "$0" | cut -d' ' -f1)"
	for p in $(patches); do
		echo "patch $(basename "$p") $(sha256sum "$p" | cut -d' ' -f1)"
	done
}

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(want_stamp)" ]; then
	exit 0
fi

say() { echo "mbedtls: $*" >&2; }
die() { echo "mbedtls: error: $*" >&2; exit 1; }

newest_cached_dsc() {
	{ ls "$cache"/mbedtls_3.6.*.dsc 2>/dev/null || true; } | sort -V | tail -n 1
}

fetch() {
	local sources=/etc/apt/sources.list.d/debian.sources
	[ -r "$sources" ] || die "cannot read $sources (needed to find the Debian archive)"
	# First stanza: the main archive; the stanza whose URI ends in -security: security.
	local uri key sec_uri
	uri=$(awk '/^URIs:/ {print $2; exit}' "$sources")
	key=$(awk '/^Signed-By:/ {print $2; exit}' "$sources")
	sec_uri=$(awk '/^URIs:/ && $2 ~ /-security\/?$/ {print $2; exit}' "$sources")
	[ -n "$uri" ] && [ -n "$key" ] || die "no URIs/Signed-By in $sources"
	[ -n "$sec_uri" ] || sec_uri=$uri

	local apt="$dest/apt"
	rm -rf "$apt"
	mkdir -p "$apt/sources" "$apt/lists/partial" "$apt/cache/archives/partial" "$cache"
	cat >"$apt/sources/trixie.sources" <<SRC
Types: deb-src
URIs: $uri
Suites: trixie trixie-updates
Components: main
Signed-By: $key

Types: deb-src
URIs: $sec_uri
Suites: trixie-security
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
	say "updating a private source index for Debian 13"
	apt-get "${opts[@]}" -q update >&2 || die "apt-get update of the private source index failed"
	local version
	version=$(apt-cache "${opts[@]}" showsrc mbedtls 2>/dev/null |
		awk '/^Version:/ {print $2}' | grep -E '^3\.6\.[0-9]+' | sort -V | tail -n 1 || true)
	[ -n "$version" ] || die "Debian 13 offers no mbedtls 3.6.x source package; refusing any other version"
	say "downloading mbedtls $version source package"
	(cd "$cache" && apt-get "${opts[@]}" -q source --download-only "mbedtls=$version" >&2) ||
		die "apt-get source mbedtls=$version failed"
	rm -rf "$apt"
}

dsc=$(newest_cached_dsc)
if [ -z "$dsc" ]; then
	fetch
	dsc=$(newest_cached_dsc)
	[ -n "$dsc" ] || die "download produced no .dsc"
else
	say "using cached $(basename "$dsc")"
fi

src="$dest/mbedtls-src"
rm -rf "$src" "$prefix"
# dpkg-source checks the tarballs against the hashes in the .dsc.
dpkg-source -x "$dsc" "$src" >&2 || die "dpkg-source could not unpack $dsc"
for p in $(patches); do
	say "applying $(basename "$p")"
	patch -d "$src" -p1 --forward --quiet <"$p" >&2 || die "$(basename "$p") does not apply to $(basename "$dsc")"
done

say "building static libraries with $(basename "$config")"
cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release \
	-DCMAKE_POSITION_INDEPENDENT_CODE=ON \
	-DENABLE_PROGRAMS=OFF -DENABLE_TESTING=OFF -DUSE_SHARED_MBEDTLS_LIBRARY=OFF \
	-DMBEDTLS_FATAL_WARNINGS=OFF \
	-DMBEDTLS_USER_CONFIG_FILE="$config" \
	-DCMAKE_INSTALL_PREFIX="$prefix" >"$dest/mbedtls-cmake.log" 2>&1 ||
	die "cmake configure failed; see $dest/mbedtls-cmake.log"
cmake --build "$src/build" -j "$(nproc)" >>"$dest/mbedtls-cmake.log" 2>&1 ||
	die "build failed; see $dest/mbedtls-cmake.log"
cmake --install "$src/build" >>"$dest/mbedtls-cmake.log" 2>&1 || die "install failed"
rm -rf "$src"
want_stamp >"$stamp"
say "installed $(basename "$dsc" .dsc) into $prefix"
