# shellcheck shell=bash
# Helpers shared by scripts/image.sh and scripts/smoke.sh: where a kernel
# line's packages are and which kernel release they carry. Sourced after
# scripts/lib.sh, never executed. (Not read by mkosi: only mkosi.* is.)

# image_pkg_dirs LTS: PKG_DIRS_A, the .deb directories of LTS: $PKG_DIRS when
# set (space separated), else $OUT/pkg/<kid>/deb and $OUT/pkg/common/deb, and
# $OUT/pkg/<lts>/selftests (zc-selftests-<lts>, one for every profile) when built.
# Also RPM_DIRS_A: $RPM_DIRS, else $OUT/pkg/<kid>/rpm and $OUT/pkg/common/rpm
# (RPM_DIRS=none: no rpm at all).
image_pkg_dirs() {
	local lts=$1 d kid
	kid=$(kid "$lts")
	read -r -a PKG_DIRS_A <<<"${PKG_DIRS:-$OUT/pkg/$kid/deb $OUT/pkg/common/deb}"
	if [ -z "${PKG_DIRS:-}" ] && [ -d "$OUT/pkg/$lts/selftests" ]; then PKG_DIRS_A+=("$OUT/pkg/$lts/selftests"); fi
	if [ "${RPM_DIRS:-}" = none ]; then
		RPM_DIRS_A=()
	else
		read -r -a RPM_DIRS_A <<<"${RPM_DIRS:-$OUT/pkg/$kid/rpm $OUT/pkg/common/rpm}"
	fi
	for d in "${PKG_DIRS_A[@]}"; do
		[ -d "$d" ] || die "no package directory $d for $lts: build the packages first ('make package KERNEL=$lts'), or point PKG_DIRS at the .deb files"
	done
	image_deb_files | grep -q '/zc-smoke_[^/]*\.deb$' ||
		die "no zc-smoke_*.deb in ${PKG_DIRS_A[*]}: build the common packages first ('make package')"
}

# image_deb_files / image_rpm_files: the package files, one per line, sorted.
image_deb_files() {
	local d
	for d in "${PKG_DIRS_A[@]}"; do find "$d" -maxdepth 1 -type f -name '*.deb'; done | LC_ALL=C sort
}
image_rpm_files() {
	local d
	for d in "${RPM_DIRS_A[@]}"; do [ -d "$d" ] && find "$d" -maxdepth 1 -type f -name '*.rpm'; done | LC_ALL=C sort
}

# image_krel LTS: KREL, the kernel release of LTS's packages: $KREL when set,
# else $OUT/pkg/<kid>/KREL, else the one linux-image-<KREL> .deb in PKG_DIRS.
# The .deb must exist whatever the source of the name.
image_krel() {
	local lts=$1 f n kid
	kid=$(kid "$lts")
	if [ -z "${KREL:-}" ] && [ -s "$OUT/pkg/$kid/KREL" ]; then KREL=$(cat "$OUT/pkg/$kid/KREL"); fi
	if [ -z "${KREL:-}" ]; then
		mapfile -t f < <(image_deb_files | grep '/linux-image-[^/]*\.deb$' || true)
		n=${#f[@]}
		[ "$n" = 1 ] || die "found $n linux-image-*.deb in ${PKG_DIRS_A[*]}, expected one: set KREL=<kernel release> or clean the directory"
		KREL=$(dpkg-deb -f "${f[0]}" Package)
		KREL=${KREL#linux-image-}
	fi
	image_deb_files | grep -q "/linux-image-${KREL}_[^/]*\.deb\$" ||
		die "no linux-image-${KREL}_*.deb in ${PKG_DIRS_A[*]}: build the $lts packages first ('make package KERNEL=$lts')"
	export KREL
}

# relpath FILE: FILE relative to the top of the project when it is inside it.
relpath() {
	local f
	f=$(readlink -f "$1")
	case "$f" in "$TOP"/*) echo "${f#"$TOP"/}" ;; *) echo "$f" ;; esac
}
