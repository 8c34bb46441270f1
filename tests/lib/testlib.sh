# shellcheck shell=bash
# Helpers for the test files run by tests/run.sh. Every failure says what was
# expected and what was seen.

fail() { echo "FAIL: $*" >&2; return 1; }
skip() { echo "SKIP: $*"; exit 4; }

assert_eq() { # assert_eq EXPECTED ACTUAL [WHAT]
	[ "$1" = "$2" ] || fail "${3:-value}: expected '$1', got '$2'"
}
assert_contains() { # assert_contains HAYSTACK NEEDLE [WHAT]
	[[ $1 == *"$2"* ]] || fail "${3:-output} does not contain '$2'; it was:
$1"
}
assert_not_contains() {
	[[ $1 != *"$2"* ]] || fail "${3:-output} contains '$2'; it was:
$1"
}
# run_rc VAR CMD...: run CMD, its combined output in $out and exit code in VAR.
run_rc() {
	local __var=$1 __rc=0
	shift
	out=$("$@" 2>&1) || __rc=$?
	printf -v "$__var" '%s' "$__rc"
	printf '%s\n' "$out"
}

# fake_kernel_line DIR LTS: a tiny "source package" for LTS under DIR: a .deb in
# DIR/cache/debs holding a tarball of a two-file kernel tree, and a
# DIR/patches/LTS/source.conf pinning both sums. Sets FAKE_DEB.
fake_kernel_line() {
	local dir=$1 lts=$2 pkgroot tree
	pkgroot="$dir/pkgroot" tree="$dir/linux-source-$lts"
	mkdir -p "$tree/net/ipv4" "$pkgroot/DEBIAN" "$pkgroot/usr/src" "$dir/cache/debs" "$dir/patches/$lts"
	printf 'kernelversion:\n\t@echo %s.0\n' "$lts" >"$tree/Makefile"
	cat "$TOP/tests/lib/tcp-fake.c" >"$tree/net/ipv4/tcp.c"
	tar -C "$dir" -cJf "$pkgroot/usr/src/linux-source-$lts.tar.xz" "linux-source-$lts"
	cat >"$pkgroot/DEBIAN/control" <<-EOT
		Package: linux-source-$lts
		Version: $lts.0-1
		Architecture: all
		Maintainer: test <test@example.org>
		Description: fake kernel source for tests
	EOT
	FAKE_DEB="$dir/cache/debs/linux-source-${lts}_$lts.0-1_all.deb"
	dpkg-deb -Zxz --build "$pkgroot" "$FAKE_DEB" >/dev/null
	cat >"$dir/patches/$lts/source.conf" <<-EOT
		PACKAGE=linux-source-$lts
		VERSION=$lts.0-1
		SUITE=bookworm
		DEB_SHA256=$(sha256sum "$FAKE_DEB" | cut -d' ' -f1)
		TARBALL=usr/src/linux-source-$lts.tar.xz
		TARBALL_SHA256=$(sha256sum "$pkgroot/usr/src/linux-source-$lts.tar.xz" | cut -d' ' -f1)
		ZC_REVISION=1
		ZC_DATE=2026-01-01
	EOT
	: >"$dir/patches/$lts/series"
}

# flip_byte FILE OFFSET: invert one byte in place.
flip_byte() {
	local f=$1 off=$2 b
	b=$(dd if="$f" bs=1 skip="$off" count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
	printf "$(printf '\\%03o' $((255 - b)))" | dd of="$f" bs=1 seek="$off" conv=notrunc 2>/dev/null
}

# bookworm_root DIR: a pristine minbase bookworm root in DIR, from a tarball
# cached in $CACHE_DIR/roots (made once with debootstrap, ~1 min).
bookworm_root() {
	local dir=$1 cache tar tmp mirror
	cache=${CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/zc-kernel}/roots
	tar=$cache/bookworm-minbase.tar
	mkdir -p "$cache" "$dir"
	if [ ! -s "$tar" ]; then
		command -v debootstrap >/dev/null || skip "debootstrap is missing (make deps)"
		# shellcheck disable=SC2016 # expanded by the inner bash
		mirror=$(bash -c '. "$1/scripts/lib.sh" && debian_mirror' _ "$TOP")
		(
			flock 8
			[ -s "$tar" ] && exit 0
			tmp=$(mktemp -d "$cache/.root.XXXXXX")
			if ! debootstrap --variant=minbase bookworm "$tmp" "$mirror" >"$cache/debootstrap.log" 2>&1; then
				rm -rf "$tmp"
				exit 3
			fi
			tar -C "$tmp" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
			rm -rf "$tmp"
		) 8>"$tar.lock" || skip "debootstrap of bookworm failed (see $cache/debootstrap.log): is the Debian archive reachable?"
	fi
	tar -C "$dir" -xf "$tar"
}

# in_root CMD...: run CMD in the root $ROOT with a clean environment.
in_root() { chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
