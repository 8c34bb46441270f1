# shellcheck shell=bash
# Common helpers for the stage scripts: logging with elapsed time, fatal errors,
# the declarative per-kernel config, and the project-private apt configuration.
# Sourced, never executed.

# Paths, overridable from the Makefile or the environment.
TOP=${TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
OUT=${OUT:-$TOP/out}
PATCHES_DIR=${PATCHES_DIR:-$TOP/patches}
# The cumulative changelog of every line (packaging/deb/kernel/history/README).
HISTORY_DIR=${HISTORY_DIR:-$TOP/packaging/deb/kernel/history}
# Downloads are cached outside out/ so a fresh clone (and CI) reuses them;
# every cached file is verified against its pinned sha256 before use.
CACHE_DIR=${CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/zc-kernel}
V=${V:-0}

_zc_t0=${_zc_t0:-$(date +%s)}
export _zc_t0

zc_elapsed() {
	local s=$(($(date +%s) - _zc_t0))
	printf '%02d:%02d' $((s / 60)) $((s % 60))
}

# log STAGE KERNEL MESSAGE...: one progress line, "[mm:ss] stage  kernel  message".
log() {
	local stage=$1 kernel=$2
	shift 2
	printf '[%s] %-8s %-6s %s\n' "$(zc_elapsed)" "$stage" "$kernel" "$*" >&2
}

# die MESSAGE...: the error, on stderr, and exit 1. The message says what was
# wrong and what to do about it.
die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

# run CMD...: run a command, echoing it when V=1.
run() {
	if [ "$V" = 1 ]; then printf '+ %s\n' "$*" >&2; fi
	"$@"
}

# quietly LOGFILE CMD...: run CMD with its output in LOGFILE (shown when V=1),
# and on failure show the last lines of the log.
quietly() {
	local logf=$1
	shift
	if [ "$V" = 1 ]; then
		printf '+ %s\n' "$*" >&2
		"$@" 2>&1 | tee "$logf" >&2
		return "${PIPESTATUS[0]}"
	fi
	if ! "$@" >"$logf" 2>&1; then
		printf 'error: command failed: %s\n--- last lines of %s ---\n' "$*" "$logf" >&2
		tail -n 25 "$logf" >&2
		return 1
	fi
}

# check_lts LTS: the kernel line exists as a directory under patches/.
check_lts() {
	local lts=$1
	[ -n "$lts" ] || die "no kernel given: use KERNEL=<lts>, one of: $(known_lts)"
	[ -f "$PATCHES_DIR/$lts/source.conf" ] ||
		die "unknown kernel '$lts': no $PATCHES_DIR/$lts/source.conf (known: $(known_lts))"
}

known_lts() {
	local d out=()
	for d in "$PATCHES_DIR"/*/source.conf; do
		[ -f "$d" ] || continue
		d=${d%/source.conf}
		out+=("${d##*/}")
	done
	echo "${out[*]}"
}

# parse_kv FILE PREFIX: read KEY=VALUE lines ('#' comments) of FILE into
# <PREFIX><KEY> variables. The file is data: it is parsed, never sourced.
parse_kv() {
	local f=$1 prefix=$2 line key n=0
	[ -r "$f" ] || die "$f: not found"
	while IFS= read -r line || [ -n "$line" ]; do
		n=$((n + 1))
		line=${line%%#*}
		line=${line%"${line##*[![:space:]]}"}
		[ -n "$line" ] || continue
		[[ $line =~ ^([A-Z][A-Z0-9_]*)=([^[:space:]]*)$ ]] ||
			die "$f:$n: expected KEY=VALUE, got: $line"
		key=${BASH_REMATCH[1]}
		printf -v "$prefix$key" '%s' "${BASH_REMATCH[2]}"
	done <"$f"
}

# load_conf LTS: patches/<lts>/source.conf into CONF_<KEY> variables. A line
# with SOURCE_LINE=<other> (the unpatched control) takes the pins of that line
# and overrides what it sets itself. CONF_EXPECT_FIX is "present" unless set.
load_conf() {
	local lts=$1 key n
	check_lts "$lts"
	CONF_SOURCE_LINE="" CONF_EXPECT_FIX=present
	parse_kv "$PATCHES_DIR/$lts/source.conf" CONF_
	if [ -n "$CONF_SOURCE_LINE" ]; then
		check_lts "$CONF_SOURCE_LINE"
		local own_rev=${CONF_ZC_REVISION:-} own_expect=$CONF_EXPECT_FIX own_src=$CONF_SOURCE_LINE
		parse_kv "$PATCHES_DIR/$CONF_SOURCE_LINE/source.conf" CONF_
		CONF_ZC_REVISION=${own_rev:-$CONF_ZC_REVISION} CONF_EXPECT_FIX=$own_expect CONF_SOURCE_LINE=$own_src
	fi
	for key in PACKAGE VERSION SUITE DEB_SHA256 TARBALL TARBALL_SHA256 ZC_REVISION ZC_DATE; do
		n="CONF_$key"
		[ -n "${!n:-}" ] || die "$PATCHES_DIR/$lts/source.conf: missing $key="
	done
	case "$CONF_EXPECT_FIX" in present | absent) ;; *) die "$PATCHES_DIR/$lts/source.conf: EXPECT_FIX must be present or absent" ;; esac
	# The tree this line is built from: its own, or the one it borrows.
	export SRC_LINE=${CONF_SOURCE_LINE:-$lts}
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# verify_sha256 FILE EXPECTED WHAT: fatal on mismatch, naming both sums.
verify_sha256() {
	local file=$1 want=$2 what=$3 got
	got=$(sha256_of "$file")
	if [ "$got" != "$want" ]; then
		die "sha256 mismatch for $what
  file:     $file
  expected: $want
  actual:   $got
The file is corrupt or not the pinned one. Remove it to download it again, or,
if the archive really changed, update the pin in the kernel's source.conf."
	fi
}

# Project-private apt configuration: its own sources list, lists and cache
# under $CACHE_DIR/apt, so /etc/apt never sees another suite. Only ever used
# for `apt-get download` (never install).
debian_mirror() {
	local m
	m=${DEBIAN_MIRROR:-}
	if [ -z "$m" ] && [ -r /etc/apt/sources.list.d/debian.sources ]; then
		m=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources | grep -v security | head -n1)
	fi
	echo "${m:-http://deb.debian.org/debian}"
}

debian_security_mirror() {
	local m
	m=${DEBIAN_SECURITY_MIRROR:-}
	if [ -z "$m" ] && [ -r /etc/apt/sources.list.d/debian.sources ]; then
		m=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources | grep security | head -n1)
	fi
	echo "${m:-http://deb.debian.org/debian-security}"
}

PAPT_DIR=${PAPT_DIR:-$CACHE_DIR/apt}
papt_opts() {
	printf '%s\n' \
		-o "Dir::Etc::sourcelist=$PAPT_DIR/sources.list" \
		-o "Dir::Etc::sourceparts=-" \
		-o "Dir::State::Lists=$PAPT_DIR/lists" \
		-o "Dir::Cache=$PAPT_DIR/cache" \
		-o "Dir::State::status=/dev/null" \
		-o "APT::Sandbox::User=root" \
		-o "Debug::NoLocking=1"
}

# papt_suites: every suite the kernel lines name (SUITES= and SUITE= of each
# patches/<lts>/source.conf), once, sorted: the suites are data, not code.
papt_suites() {
	local f
	for f in "$PATCHES_DIR"/*/source.conf; do
		sed -n -e 's/^SUITES=//p' -e 's/^SUITE=//p' "$f"
	done | tr ',' '\n' | sed '/^$/d' | LC_ALL=C sort -u
}

# papt_update: write the private sources list (one line per suite the kernel
# lines name; *-security suites from the security mirror) and refresh it when
# older than an hour (or when forced with PAPT_REFRESH=1).
#   DEBIAN_MIRROR, DEBIAN_SECURITY_MIRROR, PAPT_KEYRING: override the archive
#   and the keyring its Release files are verified with (the tests use a local
#   signed archive).
papt_update() {
	local main sec kr=${PAPT_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg} s
	local -a opts
	main=$(debian_mirror)
	sec=$(debian_security_mirror)
	mkdir -p "$PAPT_DIR/lists/partial" "$PAPT_DIR/cache/archives/partial"
	for s in $(papt_suites); do
		case "$s" in
		*-security) echo "deb [signed-by=$kr] $sec $s main" ;;
		*) echo "deb [signed-by=$kr] $main $s main" ;;
		esac
	done >"$PAPT_DIR/sources.list.new"
	[ -s "$PAPT_DIR/sources.list.new" ] || die "no suites named in $PATCHES_DIR/*/source.conf (SUITES=)"
	if ! cmp -s "$PAPT_DIR/sources.list.new" "$PAPT_DIR/sources.list" 2>/dev/null; then
		mv "$PAPT_DIR/sources.list.new" "$PAPT_DIR/sources.list"
		rm -f "$PAPT_DIR/.updated"
	else
		rm -f "$PAPT_DIR/sources.list.new"
	fi
	if [ "${PAPT_REFRESH:-0}" = 1 ] || [ -z "$(find "$PAPT_DIR/.updated" -mmin -60 2>/dev/null)" ]; then
		mapfile -t opts < <(papt_opts)
		quietly "$PAPT_DIR/update.log" apt-get "${opts[@]}" update ||
			die "could not refresh the private apt lists (see $PAPT_DIR/update.log); is the Debian archive reachable?"
		# apt-get update exits 0 when a source cannot be fetched ("old ones
		# used instead"): stale lists must never pass for fresh ones.
		if grep -qE '^(W|E): (Failed to fetch|Some index files failed to download)' "$PAPT_DIR/update.log"; then
			die "could not refresh the private apt lists: $(grep -m1 -E '^(W|E): Failed to fetch' "$PAPT_DIR/update.log" | cut -c1-200) (see $PAPT_DIR/update.log); is the Debian archive reachable?"
		fi
		touch "$PAPT_DIR/.updated"
	fi
}

# papt_download PKG VERSION DESTDIR: fetch one .deb of an exact version.
papt_download() {
	local pkg=$1 ver=$2 dest=$3
	local -a opts
	mapfile -t opts < <(papt_opts)
	papt_update
	mkdir -p "$OUT/logs"
	(cd "$dest" && quietly "$OUT/logs/download-$pkg.log" apt-get "${opts[@]}" download "$pkg=$ver") ||
		die "could not download $pkg=$ver through the private apt configuration (see $OUT/logs/download-$pkg.log).
The pinned version may have left the archive: check 'apt-cache madison $pkg' and update source.conf."
}

# status_set LTS STAGE RESULT SECONDS DETAIL: record a stage's outcome for the
# summary table printed at the end of `make` (scripts/summary.sh). Atomic: the
# record is written beside the old one and renamed over it, so a full disk or
# a kill leaves the earlier record, never an empty or half file. Returns
# non-zero (without dying) when it cannot write.
status_set() {
	local lts=$1 stage=$2 result=$3 secs=$4 f tmp
	shift 4
	f="$OUT/status/$lts/$stage"
	mkdir -p "$OUT/status/$lts" 2>/dev/null || return 1
	tmp="$f.tmp.$$"
	if printf '%s\t%s\t%s\n' "$result" "$secs" "$*" >"$tmp" 2>/dev/null && [ -s "$tmp" ] &&
		mv -f "$tmp" "$f" 2>/dev/null; then
		return 0
	fi
	rm -f "$tmp" 2>/dev/null
	printf 'warning: could not record the %s stage of %s in %s (disk full?)\n' "$stage" "$lts" "$f" >&2
	return 1
}

# stage_begin LTS STAGE / stage_end: time a stage and record it; a stage that
# exits non-zero between the two, or is interrupted, is recorded as failed
# ("exit N", "interrupted by SIGINT") by the exit handler.
stage_begin() {
	_stage_lts=$1 _stage_name=$2 _stage_t0=$(date +%s)
	_stage_done=0
	_zc_trap_install
}
# _stage_trap: the one EXIT trap of every stage script. It never stops half
# way (no set -e here): it records a failed stage, runs the handlers of
# zc_on_exit (last registered first), then removes the cleanup_on_exit
# directories, each step whatever the others did, and exits with the script's
# status.
_stage_trap() {
	local rc=$? i d why
	set +e
	trap '' INT TERM HUP
	if [ -n "${_zc_signal:-}" ]; then why="interrupted by SIG$_zc_signal"; else why="exit $rc"; fi
	if [ "${_stage_done:-0}" != 1 ] && [ -n "${_stage_name:-}" ]; then
		status_set "$_stage_lts" "$_stage_name" FAIL $(($(date +%s) - _stage_t0)) "$why"
	fi
	for ((i = ${#_zc_exit_handlers[@]} - 1; i >= 0; i--)); do
		eval "${_zc_exit_handlers[i]}" || printf 'warning: exit handler failed: %s\n' "${_zc_exit_handlers[i]}" >&2
	done
	for d in "${_cleanup_dirs[@]}"; do
		[ -n "$d" ] || continue
		rm -rf -- "$d" 2>/dev/null || printf 'warning: could not remove %s\n' "$d" >&2
	done
	return "$rc"
}
stage_end() {
	status_set "$_stage_lts" "$_stage_name" "${1:-ok}" $(($(date +%s) - _stage_t0)) "${*:2}" || true
	_stage_done=1
}
# cleanup_on_exit DIR: remove DIR when the script exits, whatever the outcome.
_cleanup_dirs=()
cleanup_on_exit() { _cleanup_dirs+=("$1"); _zc_trap_install; }

# ---------------------------------------------------------------------------
# Faults and bad input (issue 13): the exit-handler stack, tool checks, free
# space, ENOSPC in one line, stage locks and stale work directories, logs
# that outlive their temp directories. Kept together; new helpers go here.
# ---------------------------------------------------------------------------

_zc_exit_handlers=()
_zc_signal=""
# _zc_trap_install: the EXIT trap runs _stage_trap; INT, TERM and HUP exit
# with 128+N through it, so an interrupted stage is recorded as such (a
# signal would otherwise end the script with the status of its last command).
_zc_trap_install() {
	trap '_stage_trap' EXIT
	trap '_zc_signal=INT; exit 130' INT
	trap '_zc_signal=TERM; exit 143' TERM
	trap '_zc_signal=HUP; exit 129' HUP
}
# zc_on_exit CMD: run CMD (a string, eval'ed) when the script exits, after
# the handlers registered later and before the cleanup_on_exit directories
# are removed. Handlers compose: nothing replaces the exit trap.
zc_on_exit() { _zc_exit_handlers+=("$1"); _zc_trap_install; }
# cleanup_forget DIR: do not remove DIR at exit after all (it went live).
cleanup_forget() {
	local i
	for i in "${!_cleanup_dirs[@]}"; do
		[ "${_cleanup_dirs[i]}" != "$1" ] || unset '_cleanup_dirs[i]'
	done
	_cleanup_dirs=("${_cleanup_dirs[@]}")
}

# The package each command the stages need comes from: need_tools names it,
# and `make deps` (deps.sh) checks every command of this table, not only the
# package status, so a removed binary is found too.
declare -gA ZC_TOOL_PKG=(
	[apt-get]=apt [apt-cache]=apt [dpkg]=dpkg [dpkg-deb]=dpkg [tar]=tar [xz]=xz-utils
	[gzip]=gzip [zstd]=zstd [sha256sum]=coreutils [flock]=util-linux [patch]=patch
	[cp]=coreutils [find]=findutils [awk]=mawk [sed]=sed [df]=coreutils [make]=make
	[jq]=jq [xmllint]=libxml2-utils [git]=git
	[reprepro]=reprepro [createrepo_c]=createrepo-c [gpg]=gnupg [gpgv]=gpgv
	[gpgconf]=gnupg [rpm]=rpm [rpmsign]=rpm [rpmbuild]=rpm [python3]=python3
	[gcc]=gcc [bc]=bc [flex]=flex [bison]=bison [pahole]=dwarves [openssl]=openssl
	[rsync]=rsync [ccache]=ccache
)
# need_tools STAGE CMD...: every CMD is on PATH, or one error naming all the
# missing ones and their packages, and what to run.
need_tools() {
	local stage=$1 t miss=()
	shift
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || miss+=("$t (package ${ZC_TOOL_PKG[$t]:-?})")
	done
	[ "${#miss[@]}" -eq 0 ] && return 0
	die "$stage: missing tools: $(printf '%s, ' "${miss[@]}" | sed 's/, $//').
Run 'make deps' (as root) to install them."
}

# zc_human BYTES: 1.2G, 300M, 12K.
zc_human() { numfmt --to=iec --suffix=B "$1" 2>/dev/null || echo "${1}B"; }
# zc_free_bytes DIR: bytes available to us on the filesystem of DIR.
zc_free_bytes() { df -Pk -- "$1" 2>/dev/null | awk 'NR == 2 { printf "%.0f\n", $4 * 1024 }'; }
# zc_need_space DIR BYTES WHAT: die, before a big stage writes anything, when
# the filesystem of DIR has less than BYTES free (and, with a 4th argument,
# fewer than that many free inodes). ZC_NO_SPACE_CHECK=1 skips the check.
zc_need_space() {
	local dir=$1 need=$2 what=$3 inodes=${4:-0} have ihave
	[ "${ZC_NO_SPACE_CHECK:-0}" != 1 ] || return 0
	have=$(zc_free_bytes "$dir")
	[ -n "$have" ] || return 0
	if [ "$have" -lt "$need" ]; then
		die "not enough disk space for $what: it needs about $(zc_human "$need") in $dir, which has $(zc_human "$have") free ($(df -P -- "$dir" | awk 'NR == 2 { print $6 }')).
Free some space there, or set OUT= (or CACHE_DIR=) to a bigger filesystem."
	fi
	if [ "$inodes" -gt 0 ]; then
		ihave=$(df -Pi -- "$dir" 2>/dev/null | awk 'NR == 2 { print $4 }')
		if [ -n "$ihave" ] && [ "$ihave" != - ] && [ "$ihave" -lt "$inodes" ]; then
			die "not enough free inodes for $what: it needs about $inodes files in $dir, which has $ihave free inodes.
Free some there, or set OUT= to another filesystem."
		fi
	fi
}
# zc_errfilter: a filter for a command's stderr: at most 20 lines through, and
# "No space left on device" lines counted instead of repeated (tar prints one
# per file). Use as: { cmd 2>&1 >&3 3>&- | zc_errfilter >&2; } 3>&1
zc_errfilter() {
	awk '/No space left on device/ { nospc++; next }
		{ if (++n <= 20) print; else more++ }
		END { if (more) printf "... %d more lines\n", more
			if (nospc) printf "(%d \"No space left on device\" errors)\n", nospc }'
}
# zc_die_if_full DIR WHAT: after a failed write under DIR, one line when its
# filesystem is full (less than 1 MiB free), instead of a cascade of errors.
zc_die_if_full() {
	local dir=$1 what=$2 have
	have=$(zc_free_bytes "$dir")
	if [ -n "$have" ] && [ "$have" -lt 1048576 ]; then
		die "no space left on device: $what failed, $(df -P -- "$dir" | awk 'NR == 2 { print $6 }') is full ($(zc_human "$have") free). Nothing was kept; free some space, or set OUT= to a bigger filesystem."
	fi
}

# stage_lock LOCKFILE WHAT: hold an exclusive lock on LOCKFILE (fd 8) until
# the script exits; waits, saying so, while another run holds it.
stage_lock() {
	local lock=$1 what=$2
	mkdir -p "$(dirname "$lock")"
	exec 8>>"$lock"
	if ! flock -n 8; then
		log lock "-" "waiting for another $what to finish ($lock)"
		flock -w "${ZC_LOCK_TIMEOUT:-3600}" 8 || die "timed out waiting for $lock: another $what still runs (see 'fuser $lock')"
	fi
}
# clean_stale DIR GLOB WHAT: under the stage's lock, any DIR/GLOB left is the
# work directory of a run that died (kill -9, power loss): remove it.
clean_stale() {
	local dir=$1 glob=$2 what=$3 d
	for d in "$dir"/$glob; do
		[ -e "$d" ] || continue
		log clean "-" "removing $d (left by a $what that did not finish)"
		rm -rf -- "$d"
	done
}
# keep_log FILE NAME: copy FILE to $OUT/logs/NAME (kept after the temp
# directory is gone) and print that path, for error messages.
keep_log() {
	local f=$1 name=$2
	mkdir -p "$OUT/logs" 2>/dev/null
	if [ -f "$f" ] && cp -f "$f" "$OUT/logs/$name" 2>/dev/null; then echo "$OUT/logs/$name"; else echo "$f (not kept)"; fi
}

# kernel_identity LTS PROFILE: after load_conf, the names of one build, which
# change whenever its bytes may change (source version with its Debian
# revision, series revision, profile), as Debian's flavours are named:
#   ZC_DEBREV   Debian revision, '~' made '-' (1, 1-deb12u1)
#   ZC_LOCALVERSION  -<debrev>-zc<N>-<profile>  (kernel LOCALVERSION)
#   ZC_PKGVER   package version: <Debian version>+zc<N> (5.10.262-1+zc1)
#   ZC_SALT     CONFIG_BUILD_SALT and KBUILD_BUILD_VERSION: <pkgver>-<profile>
# The kernel release is `make kernelversion` + ZC_LOCALVERSION, for example
# 5.10.262-1-zc1-cloud.
# shellcheck disable=SC2034  # the variables are read by the sourcing scripts
kernel_identity() {
	local profile=$2 rev
	rev=${CONF_VERSION##*-}
	[ "$rev" != "$CONF_VERSION" ] || die "$1: VERSION=$CONF_VERSION has no Debian revision"
	ZC_DEBREV=${rev//\~/-}
	[[ $ZC_DEBREV =~ ^[A-Za-z0-9.+-]+$ ]] || die "$1: Debian revision '$rev' gives no valid kernel release"
	[[ $profile =~ ^[a-z0-9]+$ ]] || die "bad profile name '$profile' (lower-case letters and digits only)"
	ZC_LOCALVERSION="-$ZC_DEBREV-zc$CONF_ZC_REVISION-$profile"
	ZC_PKGVER="$CONF_VERSION+zc$CONF_ZC_REVISION"
	ZC_SALT="$ZC_PKGVER-$profile"
}

# series_patches LTS: the patches of patches/LTS/series, one per line
# (comments and blank lines left out); nothing when the fix is upstream.
series_patches() { sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$PATCHES_DIR/$1/series"; }

# series_changes LTS: the changes a build of LTS carries (after load_conf
# LTS), one per line: each backported commit, then what a user sees.
series_changes() {
	local lts=$1 p origin n=0
	while read -r p; do
		origin=$(sed -n 's|^Origin: backport, https://git.kernel.org/linus/\([0-9a-f]\{12\}\).*|\1|p' "$PATCHES_DIR/$lts/$p")
		echo "Backport upstream commit ${origin:-?}: $(sed -n 's/^Description: //p' "$PATCHES_DIR/$lts/$p")"
		n=$((n + 1))
	done < <(series_patches "$lts")
	if [ "$CONF_EXPECT_FIX" = absent ]; then
		echo "Unpatched control build of $CONF_PACKAGE $CONF_VERSION: must fail zc-smoke."
	elif [ "$n" -eq 0 ]; then
		echo "No patch: net-zerocopy short-circuit small reads (f21a3c480398) is upstream in $CONF_VERSION, proven by scripts/verify-fix.sh and zc-smoke."
	else
		echo "User-visible: getsockopt(TCP_ZEROCOPY_RECEIVE) now succeeds for small reads (inq < PAGE_SIZE or fitting the copy buffer) where it failed with EINVAL."
	fi
}

# history_keep LTS: before a pin moves (make refresh), keep the entry of the
# package version it leaves on top of $HISTORY_DIR/LTS, so the changelog of
# the line's packages stays cumulative (after load_conf LTS, of the old pins;
# nothing is written when the entry is there already).
history_keep() {
	local lts=$1 hist="$HISTORY_DIR/$1" ver
	kernel_identity "$lts" profile
	ver=$ZC_PKGVER
	mkdir -p "$HISTORY_DIR"
	if [ -f "$hist" ] && grep -q "^${ver//./\\.} " "$hist"; then return 0; fi
	{
		echo "$ver $CONF_ZC_DATE"
		series_changes "$lts" | sed 's/^/  /'
		echo "  Built from $CONF_PACKAGE $CONF_VERSION ($CONF_SUITE)."
		[ ! -s "$hist" ] || cat "$hist"
	} >"$hist.new"
	mv "$hist.new" "$hist"
}

# kernel_build_lock: one kernel build at a time on this machine, whichever
# checkout or OUT it comes from (they share the cores and the ccache).
kernel_build_lock() {
	mkdir -p "$CACHE_DIR"
	exec 9>"$CACHE_DIR/kernel-build.lock"
	if ! flock -n 9; then
		log kernel "${1:-?}" "waiting for another kernel build on this machine to finish ($CACHE_DIR/kernel-build.lock)"
		flock 9
	fi
}

# fetch_pinned_deb PKG VERSION ARCH SHA256: the path of PKG=VERSION in the
# download cache, fetched through the private apt configuration when missing
# and verified against its pin at every use.
fetch_pinned_deb() {
	local pkg=$1 ver=$2 arch=$3 want=$4 deb dl got
	mkdir -p "$CACHE_DIR/debs"
	deb="$CACHE_DIR/debs/${pkg}_${ver//:/%3a}_$arch.deb"
	if [ ! -f "$deb" ]; then
		log fetch "$pkg" "downloading $pkg=$ver" 
		dl=$(mktemp -d "$CACHE_DIR/debs/.dl.XXXXXX")
		cleanup_on_exit "$dl"
		papt_download "$pkg" "$ver" "$dl" >&2
		got=$(find "$dl" -maxdepth 1 -name "${pkg}_*.deb" | head -n1)
		[ -n "$got" ] || die "apt-get download produced no .deb for $pkg=$ver (see $OUT/logs/download-$pkg.log)"
		verify_sha256 "$got" "$want" "downloaded $pkg $ver"
		mv "$got" "$deb"
	fi
	verify_sha256 "$deb" "$want" "$pkg $ver (cached .deb)"
	echo "$deb"
}

# build_progress LTS PROFILE LOG EXPECTED HOW PID: while PID runs, one line
# every PROGRESS_EVERY seconds: objects compiled (CC lines of LOG) out of
# EXPECTED, elapsed time and an ETA from the rate so far.
build_progress() {
	local lts=$1 profile=$2 logf=$3 expect=$4 how=$5 pid=$6 t0=$SECONDS n el pct eta
	while kill -0 "$pid" 2>/dev/null; do
		sleep "${PROGRESS_EVERY:-30}"
		kill -0 "$pid" 2>/dev/null || break
		n=$(grep -cE '^  CC ' "$logf" || true)
		el=$((SECONDS - t0))
		if [ "${expect:-0}" -gt 0 ]; then
			pct=$((100 * n / expect))
			[ "$pct" -le 99 ] || pct=99
			if [ "$n" -gt 0 ] && [ "$n" -lt "$expect" ]; then
				eta=$(((expect - n) * el / n))
				eta=$(printf '%d:%02d' $((eta / 60)) $((eta % 60)))
			else eta='?'; fi
			log kernel "$lts" "$profile: $n/$expect objects ($pct %, $how), $((el / 60)):$(printf '%02d' $((el % 60))) elapsed, ETA $eta"
		else
			log kernel "$lts" "$profile: $n objects, $((el / 60)):$(printf '%02d' $((el % 60))) elapsed"
		fi
	done
}

# papt_versions PACKAGE SUITES: every version of PACKAGE that the suites
# (comma-separated) of the private apt configuration serve, newest first, as
# "version suite" lines. Fails (no output) when the lists cannot be read.
papt_versions() {
	local pkg=$1 suites=$2
	local -a opts
	mapfile -t opts < <(papt_opts)
	apt-cache "${opts[@]}" madison "$pkg" 2>/dev/null | awk -F'|' -v s=",$suites," '
		{ gsub(/ /, "", $2); split($3, a, " "); split(a[2], b, "/"); if (index(s, "," b[1] ",")) print $2, b[1] }' |
		sort -u | while read -r v su; do printf '%s %s\n' "$v" "$su"; done |
		sort -k1,1 -V -r | awk '!seen[$1]++' | {
		# sort -V is not dpkg's order ('~'): re-sort with dpkg, a few lines.
		mapfile -t l
		local i j t
		for ((i = 1; i < ${#l[@]}; i++)); do
			for ((j = i; j > 0; j--)); do
				if dpkg --compare-versions "${l[j]%% *}" gt "${l[j - 1]%% *}"; then
					t=${l[j]} l[j]=${l[j - 1]} l[j - 1]=$t
				else break; fi
			done
		done
		[ "${#l[@]}" -eq 0 ] || printf '%s\n' "${l[@]}"
	}
}

# papt_abi_headers VERSION FLAVOUR: "package sha256" of Debian's
# linux-headers-<abi>-<flavour> built from the same source VERSION.
papt_abi_headers() {
	local ver=$1 flavour=$2
	local f
	for f in "$PAPT_DIR"/lists/*_Packages*; do
		[ -f "$f" ] && /usr/lib/apt/apt-helper cat-file "$f"
		echo
	done 2>/dev/null | awk -v v="$ver" -v f="$flavour" '
		/^Package: / { p = $2; ver = ""; sha = "" }
		/^Version: / { ver = $2 }
		/^SHA256: / { sha = $2 }
		/^$/ { if (!found && ver == v && p ~ ("^linux-headers-.*-" f "$") && p !~ /-common/) { print p, sha; found = 1 } }'
}

# kid LTS [PROFILE]: the name of one kernel line built with one profile under
# out/{pkg,images,results,status}/: the line alone for the default `smoke`
# profile (5.10), <lts>-<profile> for the others (5.10-cloud). Builds live in
# out/build/<profile>/<lts>/.
kid() {
	local p=${2:-${PROFILE:-smoke}}
	if [ "$p" = smoke ]; then echo "$1"; else echo "$1-$p"; fi
}

# expected_krel LTS [PROFILE]: the kernel release a build of LTS with PROFILE
# will have, from the pins alone (the upstream part of the Debian version is
# the tree's `make kernelversion`; kernel.sh checks that it is).
expected_krel() {
	load_conf "$1"
	kernel_identity "$1" "${2:-${PROFILE:-smoke}}"
	echo "${CONF_VERSION%-*}$ZC_LOCALVERSION"
}
