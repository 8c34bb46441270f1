# shellcheck shell=bash
# A small local Debian archive, signed, for the tests of outdated.sh and
# refresh.sh (no network): reprepro with two suites, fakesuite and
# fakesuite-security, served as file:// to the project-private apt
# configuration through DEBIAN_MIRROR, DEBIAN_SECURITY_MIRROR and
# PAPT_KEYRING. Sourced by the test files after testlib.sh.

# fa_setup: $W (temporary, removed when the test exits), OUT, CACHE_DIR,
# PATCHES_DIR, PAPT_DIR under it, a signing key and an empty archive; a line
# 9.9 pinned at 9.9.0-1 whose suites are the fake ones, with a one-patch series.
fa_setup() {
	W=$(mktemp -d)
	# shellcheck disable=SC2064 # expand now: W is fixed
	trap "gpgconf --homedir '$W/gnupg' --kill gpg-agent 2>/dev/null; rm -rf '$W'" EXIT
	export OUT="$W/out" CACHE_DIR="$W/cache" PATCHES_DIR="$W/patches" PAPT_DIR="$W/papt" HISTORY_DIR="$W/history"
	export GNUPGHOME="$W/gnupg"
	mkdir -p "$GNUPGHOME" "$W/archive/conf" "$CACHE_DIR/debs" "$PATCHES_DIR/9.9"
	chmod 700 "$GNUPGHOME"
	gpg --batch --passphrase '' --quick-generate-key 'zc-kernel test archive <test@zc-kernel.invalid>' \
		ed25519 sign never 2>/dev/null
	FA_KEY=$(gpg --batch --with-colons --list-secret-keys | awk -F: '/^fpr:/ { print $10; exit }')
	gpg --batch --export "$FA_KEY" >"$W/archive.gpg"
	local s
	for s in fakesuite fakesuite-security; do
		printf 'Codename: %s\nSuite: %s\nComponents: main\nArchitectures: amd64\nSignWith: %s\n\n' \
			"$s" "$s" "$FA_KEY" >>"$W/archive/conf/distributions"
	done
	reprepro -b "$W/archive" export >"$W/reprepro.log" 2>&1 || { cat "$W/reprepro.log" >&2; return 1; }
	export DEBIAN_MIRROR="file://$W/archive" DEBIAN_SECURITY_MIRROR="file://$W/archive" PAPT_KEYRING="$W/archive.gpg"
	fa_source_deb 9.9.0-1 "$TOP/tests/lib/tcp-fake-fixed.c"
	fa_publish fakesuite "$FA_DEB"
	cp "$FA_DEB" "$CACHE_DIR/debs/"
	fa_config_deb 9.9.0-1
	fa_publish fakesuite "$FA_DEB"
	cat >"$PATCHES_DIR/9.9/source.conf" <<-EOT
		# a comment that must survive a refresh
		PACKAGE=linux-source-9.9
		SUITES=fakesuite,fakesuite-security
		VERSION=9.9.0-1
		SUITE=fakesuite
		DEB_SHA256=$(sha256sum "$CACHE_DIR/debs/linux-source-9.9_9.9.0-1_all.deb" | cut -d' ' -f1)
		TARBALL=usr/src/linux-source-9.9.tar.xz
		TARBALL_SHA256=$FA_TAR_SHA
		CONFIG_PACKAGE=linux-config-9.9
		CONFIG_VERSION=9.9.0-1
		CONFIG_DEB_SHA256=$(sha256sum "$FA_DEB" | cut -d' ' -f1)
		ZC_REVISION=3
		ZC_DATE=2026-01-01
	EOT
	# One patch on a context line of tcp.c: refresh must re-apply it.
	cat >"$PATCHES_DIR/9.9/0001-marker.patch" <<-'EOT'
		Description: a marker comment next to the skip hint
		Origin: other
		---
		--- a/net/ipv4/tcp.c
		+++ b/net/ipv4/tcp.c
		@@ -29,6 +29,7 @@
		 
		 	if (inq < PAGE_SIZE) {
		 		zc->length = 0;
		+		/* marker */
		 		zc->recv_skip_hint = inq;
		 		return 0;
		 	}
	EOT
	echo 0001-marker.patch >"$PATCHES_DIR/9.9/series"
}

# fa_source_deb VERSION TCPFILE [PREPEND]: a linux-source-9.9 .deb of VERSION
# whose tree holds TCPFILE as net/ipv4/tcp.c, with PREPEND lines of comment
# before it (moving every line: an offset). Sets FA_DEB and FA_TAR_SHA.
fa_source_deb() {
	local ver=$1 tcp=$2 pre=${3:-0} root="$W/build-$1" tree i
	tree="$root/src/linux-source-9.9"
	mkdir -p "$tree/net/ipv4" "$root/pkg/DEBIAN" "$root/pkg/usr/src"
	printf 'kernelversion:\n\t@echo 9.9.%s\n' "${ver%%-*}" >"$tree/Makefile"
	for ((i = 0; i < pre; i++)); do echo "/* line $i added in $ver */"; done >"$tree/net/ipv4/tcp.c"
	cat "$tcp" >>"$tree/net/ipv4/tcp.c"
	tar -C "$root/src" -cJf "$root/pkg/usr/src/linux-source-9.9.tar.xz" linux-source-9.9
	FA_TAR_SHA=$(sha256sum "$root/pkg/usr/src/linux-source-9.9.tar.xz" | cut -d' ' -f1)
	printf 'Package: linux-source-9.9\nVersion: %s\nSection: kernel\nPriority: optional\nArchitecture: all\nMaintainer: t <t@zc-kernel.invalid>\nDescription: fake kernel source\n' \
		"$ver" >"$root/pkg/DEBIAN/control"
	FA_DEB="$root/linux-source-9.9_${ver}_all.deb"
	dpkg-deb -Zxz --build "$root/pkg" "$FA_DEB" >/dev/null
}

# fa_config_deb VERSION: a linux-config-9.9 .deb of VERSION. Sets FA_DEB.
fa_config_deb() {
	local ver=$1 root="$W/cfg-$1"
	mkdir -p "$root/pkg/DEBIAN" "$root/pkg/usr/src/linux-config-9.9"
	echo 'CONFIG_TCP_FAKE=y' | xz >"$root/pkg/usr/src/linux-config-9.9/config.amd64_none_cloud-amd64.xz"
	printf 'Package: linux-config-9.9\nVersion: %s\nSection: kernel\nPriority: optional\nArchitecture: amd64\nMaintainer: t <t@zc-kernel.invalid>\nDescription: fake kernel config\n' \
		"$ver" >"$root/pkg/DEBIAN/control"
	FA_DEB="$root/linux-config-9.9_${ver}_amd64.deb"
	dpkg-deb -Zxz --build "$root/pkg" "$FA_DEB" >/dev/null
}

# fa_publish SUITE DEB: put DEB into SUITE of the archive (signed).
fa_publish() {
	reprepro -b "$W/archive" includedeb "$1" "$2" >"$W/reprepro.log" 2>&1 ||
		{ cat "$W/reprepro.log" >&2; return 1; }
}
