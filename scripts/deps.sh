#!/usr/bin/env bash
# deps.sh [--check] [GROUP...]: install what the project needs from Debian bookworm
# (mkosi and systemd-boot from bookworm-backports, explicitly). Idempotent and
# quiet when everything is there; works as root without a terminal.
#
# It never adds another Debian suite to /etc/apt: kernel sources from bullseye
# are fetched through the project-private apt configuration (scripts/lib.sh).
# bookworm-backports is added only for the image group, with its default low
# priority made explicit by a pin, so no plain `apt-get install` ever takes a
# package from it. Every command the stages check before they start
# (ZC_TOOL_PKG in lib.sh) must be on PATH: a package whose binary is gone is
# reinstalled. --check only reports (exit 1 when something is missing).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

declare -A GROUP
# fetch, patch, build a kernel, the C tests, the test suite
GROUP[base]="build-essential yamllint bc bison flex libssl-dev libelf-dev rsync kmod cpio xz-utils zstd
  ccache git patch dpkg-dev dwarves openssl ca-certificates debian-archive-keyring jq libxml2-utils python3
  python3-yaml shellcheck strace busybox-static qemu-system-x86 qemu-utils file"
# packages: .deb and .rpm and their linters
GROUP[pkg]="debhelper fakeroot lintian rpm rpmlint debootstrap sbsigntool faketime gdb"
# images and their boot (mkosi and systemd-boot come from bookworm-backports)
GROUP[image]="python3-pefile ovmf dosfstools mtools fdisk reprepro systemd-container"
declare -A BACKPORTS
BACKPORTS[image]="mkosi systemd-boot"
# signed repositories
GROUP[repo]="reprepro createrepo-c gnupg dnf"
# rollout
GROUP[rollout]="ansible ansible-lint kexec-tools openssh-client iproute2"
# optional, not in the default set: the results page's plots (make report
# installs this group by itself), and the browser its test renders it with
GROUP[plot]="gnuplot-nox fonts-dejavu-core"
GROUP[report]="gnuplot-nox fonts-dejavu-core chromium"

check_only=0
if [ "${1:-}" = --check ]; then
	check_only=1
	shift
fi
groups=("$@")
[ "${#groups[@]}" -gt 0 ] || groups=(base pkg image repo rollout)

# missing_tools: every command the stages check for (ZC_TOOL_PKG in lib.sh)
# that is not on PATH, as "command package" lines. A package can be
# "installed" with its binary gone: the command is what counts.
missing_tools() {
	local t
	for t in "${!ZC_TOOL_PKG[@]}"; do
		command -v "$t" >/dev/null 2>&1 || printf '%s %s\n' "$t" "${ZC_TOOL_PKG[$t]}"
	done | sort
}

missing() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${db:Status-Status}\n' "$p" 2>/dev/null | grep -qx installed || echo "$p"
	done
}

apt_install() {
	local -a pkgs=("$@")
	[ "$(id -u)" = 0 ] || die "missing packages: ${pkgs[*]}
Run 'make deps' as root (or: sudo apt-get install ${pkgs[*]})."
	if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -n1)" ]; then
		log deps all "apt-get update"
		quietly "$OUT/deps-update.log" apt-get update -q
	fi
	log deps all "installing: ${pkgs[*]}"
	DEBIAN_FRONTEND=noninteractive quietly "$OUT/deps-install.log" \
		apt-get install -y -q --no-install-recommends "${pkgs[@]}" ||
		die "apt-get install failed (log: $OUT/deps-install.log)"
}

enable_backports() {
	local list=/etc/apt/sources.list.d/zc-bookworm-backports.sources
	local pin=/etc/apt/preferences.d/zc-bookworm-backports
	[ -f "$list" ] && [ -f "$pin" ] && return 0
	grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/ && [ -f "$pin" ] && return 0
	log deps image "adding bookworm-backports (pinned at 100: used only with -t bookworm-backports)"
	cat >"$list" <<-EOT
		Types: deb
		URIs: $(debian_mirror)
		Suites: bookworm-backports
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOT
	cat >"$pin" <<-EOT
		# Added by the zc-kernel project: mkosi and systemd-boot only, installed
		# explicitly with -t bookworm-backports. Never an automatic upgrade source.
		Package: *
		Pin: release n=bookworm-backports
		Pin-Priority: 100
	EOT
	quietly "$OUT/deps-update.log" apt-get update -q
}

mkdir -p "$OUT"
want=()
bp=()
for g in "${groups[@]}"; do
	[ -n "${GROUP[$g]:-}" ] || die "unknown dependency group '$g' (known: ${!GROUP[*]})"
	read -r -d '' -a pk <<<"${GROUP[$g]}" || true
	want+=("${pk[@]}")
	if [ -n "${BACKPORTS[$g]:-}" ]; then
		read -r -d '' -a pk <<<"${BACKPORTS[$g]}" || true
		bp+=("${pk[@]}")
	fi
done

mapfile -t need < <(missing "${want[@]}")
if [ "$check_only" = 1 ]; then
	# deps.sh --check: report, install nothing; exit 1 when anything is missing.
	mapfile -t tools < <(missing_tools)
	[ "${#need[@]}" -eq 0 ] || echo "missing packages: ${need[*]}"
	[ "${#tools[@]}" -eq 0 ] || printf '%s\n' "${tools[@]}" | awk '{ printf "missing command: %s (package %s)\n", $1, $2 }'
	if [ "${#need[@]}" -eq 0 ] && [ "${#tools[@]}" -eq 0 ]; then
		echo "deps: everything is installed"
		exit 0
	fi
	exit 1
fi
[ "${#need[@]}" -eq 0 ] || apt_install "${need[@]}"
# Commands whose package is installed but whose binary is gone: reinstall them.
mapfile -t tools < <(missing_tools)
if [ "${#tools[@]}" -gt 0 ]; then
	mapfile -t rp < <(printf '%s\n' "${tools[@]}" | awk '{ print $2 }' | sort -u)
	[ "$(id -u)" = 0 ] || die "missing commands: $(printf '%s\n' "${tools[@]}" | awk '{ printf "%s (%s) ", $1, $2 }')
Run 'make deps' as root to reinstall them."
	log deps all "commands missing, reinstalling their packages: ${rp[*]}"
	DEBIAN_FRONTEND=noninteractive quietly "$OUT/deps-install.log" \
		apt-get install -y -q --no-install-recommends --reinstall "${rp[@]}" ||
		die "apt-get install --reinstall ${rp[*]} failed (log: $OUT/deps-install.log)"
	mapfile -t tools < <(missing_tools)
	[ "${#tools[@]}" -eq 0 ] || die "still missing after reinstalling: $(printf '%s\n' "${tools[@]}" | awk '{ printf "%s (%s) ", $1, $2 }')"
fi

if [ "${#bp[@]}" -gt 0 ]; then
	mapfile -t need < <(missing "${bp[@]}")
	# mkosi must be 24 or newer: bookworm's own mkosi 14 speaks another config format.
	if [ "${#need[@]}" -eq 0 ] && ! dpkg --compare-versions "$(dpkg-query -W -f='${Version}' mkosi)" ge 24; then
		need=(mkosi)
	fi
	if [ "${#need[@]}" -gt 0 ]; then
		[ "$(id -u)" = 0 ] || die "missing packages from bookworm-backports: ${need[*]}; run 'make deps' as root"
		enable_backports
		log deps image "installing from bookworm-backports: ${need[*]}"
		DEBIAN_FRONTEND=noninteractive quietly "$OUT/deps-install.log" \
			apt-get install -y -q --no-install-recommends -t bookworm-backports "${need[@]}" ||
			die "installing ${need[*]} from bookworm-backports failed (log: $OUT/deps-install.log)"
	fi
fi
