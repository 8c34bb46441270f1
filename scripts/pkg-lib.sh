# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables pkg_setup sets are used by the sourcing script
# What both package formats share: the kernel built once by scripts/kernel.sh,
# its versions, and the changelog text naming the series. Sourced by
# package-deb.sh and package-rpm.sh after lib.sh.

# The Maintainer of every package: MAINTAINER=, else Debian's DEBFULLNAME and
# DEBEMAIL (as dch), else the identity git commits with in this checkout,
# else user@host (dch's last resort).
zc_git_ident() {
	local n e
	n=$(git -C "$TOP" config user.name 2>/dev/null) && e=$(git -C "$TOP" config user.email 2>/dev/null) && echo "$n <$e>"
}
MAINTAINER=${MAINTAINER:-${DEBEMAIL:+${DEBFULLNAME:-zc-kernel maintainers} <$DEBEMAIL>}}
MAINTAINER=${MAINTAINER:-$(zc_git_ident || true)}
MAINTAINER=${MAINTAINER:-zc-kernel maintainers <$(id -un)@$(hostname --fqdn 2>/dev/null || hostname)>}
[[ $MAINTAINER =~ ^[^\<\>]+\ \<[^@\<\>\ ]+@[^@\<\>\ ]+\>$ ]] ||
	die "MAINTAINER='$MAINTAINER' is not of the form 'Full Name <address@domain>': set MAINTAINER= (or DEBFULLNAME and DEBEMAIL, or git's user.name and user.email)"

# pkg_setup LTS: sets KREL KVER STAGE DEBVER RPMVER RPMREL RPMNAME LINE EPOCH
# SUMMARY and the CHANGES array (one line per change in this revision).
pkg_setup() {
	local lts=$1
	LTS=$lts
	KID=$(kid "$lts")
	load_conf "$lts"
	BUILD="$OUT/build/${PROFILE:-smoke}/$lts"
	[ -f "$BUILD/KREL" ] || die "no built kernel for $lts (profile ${PROFILE:-smoke}): run 'make kernel KERNEL=$lts' first"
	KREL=$(cat "$BUILD/KREL")
	KVER=$(jq -r .kver "$BUILD/build.json")
	kernel_identity "$lts" "${PROFILE:-smoke}"
	[ "$KREL" = "$KVER$ZC_LOCALVERSION" ] || die "$BUILD holds $KREL, but source.conf now gives $KVER$ZC_LOCALVERSION: run 'make kernel KERNEL=$lts' again"
	STAGE="$BUILD/stage"
	[ -f "$STAGE/.complete" ] && [ -f "$BUILD/stage.sha256" ] || die "$STAGE is incomplete: run 'make kernel KERNEL=$lts' again"
	# Debian version of the source, plus the series revision: 5.10.262-1+zc1.
	DEBVER=$ZC_PKGVER
	# RPM: Version is the kernel's, Release the Debian revision and ours
	# and the profile (5.10.262-1.zc1.cloud); '-' is not allowed in either.
	RPMVER=$KVER
	RPMREL="${CONF_VERSION##*-}.zc$CONF_ZC_REVISION.${PROFILE:-smoke}"
	RPMREL=${RPMREL//\~/_}
	# The line a kernel belongs to (the control borrows 5.10's): with the
	# profile, it names the metapackages and the RPM (kernel-zc5.10-cloud), so
	# lines and profiles install side by side and never upgrade one another.
	LINE=$SRC_LINE
	RPMNAME="kernel-zc$LINE-${PROFILE:-smoke}"
	EPOCH=$(date -u -d "$CONF_ZC_DATE" +%s)
	export SOURCE_DATE_EPOCH=$EPOCH

	mapfile -t CHANGES < <(series_changes "$lts")
	if [ "$CONF_EXPECT_FIX" = absent ]; then
		SUMMARY="Unpatched control build: it must fail zc-smoke. Not for production."
	elif [ -z "$(series_patches "$lts")" ]; then
		SUMMARY="TCP zerocopy short-circuit small reads (v5.11) is upstream in this kernel."
	else
		SUMMARY="Carries the backport of TCP zerocopy short-circuit small reads (v5.11)."
	fi
	CHANGES+=("Built with profile ${PROFILE:-smoke}, kernel release $KREL.")
}

# subst FILE: the template FILE with @KEY@ placeholders filled in.
subst() {
	sed -e "s|@KREL@|$KREL|g" -e "s|@KVER@|$KVER|g" -e "s|@PROFILE@|${PROFILE:-smoke}|g" \
		-e "s|@SRCPKG@|$CONF_PACKAGE|g" -e "s|@SRCVER@|$CONF_VERSION|g" \
		-e "s|@SUMMARY@|$SUMMARY|g" -e "s|@FLAVOUR@|${FLAVOUR:-zc$CONF_ZC_REVISION}|g" \
		-e "s|@LINE@|$LINE|g" -e "s|@MAINTAINER@|$MAINTAINER|g" "$1"
}

# publish_dir WORK DEST: replace DEST by WORK atomically enough (rename).
publish_dir() {
	local work=$1 dest=$2
	mkdir -p "$(dirname "$dest")"
	if [ -e "$dest" ]; then mv "$dest" "$dest.old.$$"; fi
	mv "$work" "$dest"
	rm -rf "$dest.old.$$"
}

# pkg_inputs_sum FORMAT: one sum over what a package build reads (the staged
# tree, the templates, the line's configuration, the packaging scripts).
pkg_inputs_sum() {
	local fmt=$1
	{
		cat "$BUILD/stage.sha256" "$PATCHES_DIR/$LTS/source.conf" "$PATCHES_DIR/$LTS/series"
		echo "$fmt ${PROFILE:-smoke} $MAINTAINER"
		# The image is signed: the certificate is an input too.
		cat "$("$TOP/scripts/sign-image.sh" --key)"
		if pkg_has_dbg; then sha256sum "$BUILD/obj/vmlinux" | cut -d' ' -f1; fi
		(cd "$TOP" && find "packaging/$fmt" packaging/deb/kernel/running-kernel-guard.sh scripts/pkg-lib.sh \
			scripts/sign-image.sh "scripts/package-$fmt.sh" -type f -print0 |
			LC_ALL=C sort -z | xargs -0 cat)
		# the changelog: the kept entries and the changes of this build
		cat "$HISTORY_DIR/$LTS" 2>/dev/null || true
		printf '%s\n' "${CHANGES[@]}"
	} | sha256sum | cut -d' ' -f1
}

# pkg_cached FORMAT: when $OUT/pkg/$KID/FORMAT was made of the same inputs,
# say so, record the stage and exit; otherwise set INPUTS for the new build.
pkg_cached() {
	local fmt=$1
	INPUTS=$(pkg_inputs_sum "$fmt")
	if [ -f "$OUT/pkg/$KID/$fmt/.inputs" ] && [ "$(cat "$OUT/pkg/$KID/$fmt/.inputs")" = "$INPUTS" ]; then
		log "$fmt" "$LTS" "cached: $OUT/pkg/$KID/$fmt is made of the same inputs"
		stage_end ok "cached"
		exit 0
	fi
}

# deb_changelog SOURCE VERSION EPOCH CHANGE...: one debian/changelog entry.
deb_changelog() {
	local src=$1 ver=$2 epoch=$3 c
	shift 3
	echo "$src ($ver) bookworm; urgency=medium"
	echo
	for c in "$@"; do echo "  * $c" | fold -s -w 76 | sed '2,$s/^/    /'; done
	echo
	echo " -- $MAINTAINER  $(LC_ALL=C date -u -R -d "@$epoch")"
}

# rpm_changelog VERSION-RELEASE EPOCH CHANGE...: one %changelog entry.
rpm_changelog() {
	local evr=$1 epoch=$2 c
	shift 2
	echo "* $(LC_ALL=C date -u -d "@$epoch" '+%a %b %d %Y') $MAINTAINER - $evr"
	for c in "$@"; do echo "- $c"; done
}

# pkg_history FORMAT [SOURCE]: the line's cumulative changelog: the entry of
# this build (CHANGES), then every older entry kept in
# packaging/deb/kernel/history/<lts>, as deb (with SOURCE) or rpm entries.
pkg_history() {
	local fmt=$1 src=${2:-} hist="$HISTORY_DIR/$LTS" line ver date
	local -a ch=()
	pkg_history_entry() { # one kept entry, in FORMAT
		[ -n "$ver" ] || return 0
		[ "$ver" != "$DEBVER" ] || return 0
		dpkg --compare-versions "$ver" lt "$DEBVER" ||
			die "$hist: entry $ver is not older than the pinned $DEBVER"
		echo
		if [ "$fmt" = deb ]; then
			deb_changelog "$src" "$ver" "$(date -u -d "$date 00:00" +%s)" "${ch[@]}"
		else
			local up=${ver%%-*} rest=${ver#*-}
			local rev=${rest%+zc*} n=${rest##*+zc}
			rpm_changelog "$up-${rev//\~/_}.zc$n.${PROFILE:-smoke}" "$(date -u -d "$date 00:00" +%s)" "${ch[@]}"
		fi
	}
	if [ "$fmt" = deb ]; then deb_changelog "$src" "$DEBVER" "$EPOCH" "${CHANGES[@]}"
	else rpm_changelog "$RPMVER-$RPMREL" "$EPOCH" "${CHANGES[@]}"; fi
	[ -f "$hist" ] || return 0
	ver="" date=""
	while IFS= read -r line || [ -n "$line" ]; do
		if [[ $line =~ ^([0-9][A-Za-z0-9.+~-]*)\ ([0-9]{4}-[0-9]{2}-[0-9]{2})$ ]]; then
			pkg_history_entry
			ver=${BASH_REMATCH[1]} date=${BASH_REMATCH[2]} ch=()
		elif [[ $line =~ ^\ \ (.+)$ ]] && [ -n "$ver" ]; then
			ch+=("${BASH_REMATCH[1]}")
		elif [ -n "$line" ]; then
			die "$hist: cannot read line '$line' (expected '<version> <YYYY-MM-DD>' or a change indented by two spaces)"
		fi
	done <"$hist"
	pkg_history_entry
}

# pkg_publish FORMAT DIR LINTER: DIR (the linted packages) becomes
# $OUT/pkg/$KID/FORMAT, with its inputs sum; log the sizes, record the stage.
pkg_publish() {
	local fmt=$1 dir=$2 linter=$3 f n
	n=$(find "$dir" -maxdepth 1 -name "*.$fmt" | wc -l)
	echo "$INPUTS" >"$dir/.inputs"
	# The work of this build, for the summary of a later pass that finds it
	# cached (_stage_t0: stage_begin in lib.sh).
	# shellcheck disable=SC2154
	printf '{"build_seconds": %d, "packages": %d}\n' "$(($(date +%s) - _stage_t0))" "$n" >"$dir/.work.json"
	publish_dir "$dir" "$OUT/pkg/$KID/$fmt"
	echo "$KREL" >"$OUT/pkg/$KID/KREL"
	for f in "$OUT/pkg/$KID/$fmt"/*."$fmt"; do
		log "$fmt" "$LTS" "$(basename "$f") $(numfmt --to=iec "$(stat -c %s "$f")")"
	done
	stage_end ok "$n ${fmt}s, $linter clean"
}

# pkg_signed_image OUT: the staged vmlinuz, signed for shim (sign-image.sh).
pkg_signed_image() {
	SOURCE_DATE_EPOCH=$EPOCH "$TOP/scripts/sign-image.sh" "$STAGE/image/boot/vmlinuz-$KREL" "$1"
}

# pkg_has_dbg: the build has debug info, so there is a debug-symbols package.
pkg_has_dbg() {
	grep -q '^CONFIG_DEBUG_INFO=y' "$STAGE/image/boot/config-$KREL" && [ -f "$BUILD/obj/vmlinux" ]
}

# pkg_dbg_tree DEST: the debug-symbols tree, laid out as Debian's -dbg
# packages and the kernel's builddeb: the unstripped vmlinux in
# /usr/lib/debug/boot/vmlinux-KREL with the /usr/lib/debug/vmlinux-KREL link
# that kdump-tools and crash look for, the unstripped modules (from the
# object directory, which kernel.sh keeps) under
# /usr/lib/debug/lib/modules/KREL/, and a .build-id link for every file.
# Modules are hard links into the object directory (no copy of gigabytes).
pkg_dbg_tree() {
	local dest=$1 obj="$BUILD/obj" rel src d id f
	d="$dest/usr/lib/debug"
	mkdir -p "$d/boot" "$d/.build-id"
	cp "$obj/vmlinux" "$d/boot/vmlinux-$KREL"
	chmod 0644 "$d/boot/vmlinux-$KREL"
	ln -s "boot/vmlinux-$KREL" "$d/vmlinux-$KREL"
	while IFS= read -r rel; do
		src="$obj/${rel#kernel/}"
		src=${src%.ko*}.ko
		[ -f "$src" ] || die "no unstripped $src in the object directory for the debug package: run 'make kernel KERNEL=$LTS' again"
		mkdir -p "$d/lib/modules/$KREL/$(dirname "$rel")"
		ln "$src" "$d/lib/modules/$KREL/${rel%.ko*}.ko" 2>/dev/null || cp "$src" "$d/lib/modules/$KREL/${rel%.ko*}.ko"
	done < <(cd "$STAGE/image/lib/modules/$KREL" && find kernel -name '*.ko*' | LC_ALL=C sort)
	# .build-id/xx/yyyy.debug -> the file, relative, as Debian's.
	(cd "$d" && find boot lib -type f | LC_ALL=C sort) | while IFS= read -r f; do
		id=$(LC_ALL=C readelf -n "$d/$f" 2>/dev/null | sed -n 's/^ *Build ID: *\([0-9a-f]*\)$/\1/p' | head -n1)
		[ -n "$id" ] || continue
		mkdir -p "$d/.build-id/${id:0:2}"
		ln -sfn "../../$f" "$d/.build-id/${id:0:2}/${id:2}.debug"
	done
}
