# shellcheck shell=bash
# Common helpers for the stage scripts: logging with elapsed time, fatal errors,
# the declarative per-kernel config, and the project-private apt configuration.
# Sourced, never executed.

# Paths, overridable from the Makefile or the environment.
TOP=${TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
OUT=${OUT:-$TOP/out}
PATCHES_DIR=${PATCHES_DIR:-$TOP/patches}
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

# papt_update: write the private sources list and refresh it when older than
# an hour (or when forced with PAPT_REFRESH=1).
papt_update() {
	local main sec kr=/usr/share/keyrings/debian-archive-keyring.gpg
	local -a opts
	main=$(debian_mirror)
	sec=$(debian_security_mirror)
	mkdir -p "$PAPT_DIR/lists/partial" "$PAPT_DIR/cache/archives/partial"
	cat >"$PAPT_DIR/sources.list.new" <<-EOT
		deb [signed-by=$kr] $main bullseye main
		deb [signed-by=$kr] $sec bullseye-security main
		deb [signed-by=$kr] $main bookworm main
		deb [signed-by=$kr] $main bookworm-updates main
		deb [signed-by=$kr] $sec bookworm-security main
	EOT
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
		touch "$PAPT_DIR/.updated"
	fi
}

# papt_download PKG VERSION DESTDIR: fetch one .deb of an exact version.
papt_download() {
	local pkg=$1 ver=$2 dest=$3
	local -a opts
	mapfile -t opts < <(papt_opts)
	papt_update
	(cd "$dest" && quietly "$dest/download.log" apt-get "${opts[@]}" download "$pkg=$ver") ||
		die "could not download $pkg=$ver through the private apt configuration (see $dest/download.log).
The pinned version may have left the archive: check 'apt-cache madison $pkg' and update source.conf."
}

# status_set LTS STAGE RESULT SECONDS DETAIL: record a stage's outcome for the
# summary table printed at the end of `make` (scripts/summary.sh).
status_set() {
	local lts=$1 stage=$2 result=$3 secs=$4
	shift 4
	mkdir -p "$OUT/status/$lts"
	printf '%s\t%s\t%s\n' "$result" "$secs" "$*" >"$OUT/status/$lts/$stage"
}

# stage_begin LTS STAGE / stage_end: time a stage and record it; a stage that
# exits non-zero between the two is recorded as failed by the EXIT trap.
stage_begin() {
	_stage_lts=$1 _stage_name=$2 _stage_t0=$(date +%s)
	_stage_done=0
	trap '_stage_trap' EXIT
}
_stage_trap() {
	local rc=$?
	if [ "${_stage_done:-0}" != 1 ] && [ -n "${_stage_name:-}" ]; then
		status_set "$_stage_lts" "$_stage_name" FAIL $(($(date +%s) - _stage_t0)) "exit $rc"
	fi
	for d in "${_cleanup_dirs[@]}"; do rm -rf "$d"; done
	return "$rc"
}
stage_end() {
	status_set "$_stage_lts" "$_stage_name" "${1:-ok}" $(($(date +%s) - _stage_t0)) "${*:2}"
	_stage_done=1
}
# cleanup_on_exit DIR: remove DIR when the script exits, whatever the outcome.
_cleanup_dirs=()
cleanup_on_exit() { _cleanup_dirs+=("$1"); trap '_stage_trap' EXIT; }
