# shellcheck shell=sh
# zc_confined: true in a chroot or a container, where `uname -r` names the
# host's kernel, not one this root boots (as linux-base's linux-check-removal).
zc_confined() {
	[ -e /run/systemd/container ] && return 0
	if command -v systemd-detect-virt >/dev/null 2>&1 && systemd-detect-virt --container --quiet; then return 0; fi
	if [ -r /proc/1/environ ] && tr '\0' '\n' </proc/1/environ | grep -q '^container='; then return 0; fi
	zc_r=$(stat -c %d:%i / 2>/dev/null) || zc_r=
	zc_p=$(stat -c %d:%i /proc/1/root/ 2>/dev/null) || zc_p=$zc_r
	[ "$zc_r" = "$zc_p" ] || return 0
	# A chroot into a plain directory: no mount is at its /.
	if [ -r /proc/self/mountinfo ] && ! awk '$5 == "/" { f = 1 } END { exit !f }' /proc/self/mountinfo; then return 0; fi
	return 1
}
# zc_refuse_running VERSION WHAT: never remove the kernel that is running: a
# fleet host would lose its modules. ZC_ALLOW_REMOVE_RUNNING=1 overrides.
zc_refuse_running() {
	[ "$(uname -r)" = "$1" ] || return 0
	if zc_confined; then
		echo "W: removing $2: $1 is the running kernel's release, but this is a chroot or container" >&2
		return 0
	fi
	[ "${ZC_ALLOW_REMOVE_RUNNING:-}" = 1 ] && { echo "W: removing the running kernel $1 (ZC_ALLOW_REMOVE_RUNNING=1)" >&2; return 0; }
	echo "E: $2 is the running kernel ($1); boot another kernel first" >&2
	echo "E: (or set ZC_ALLOW_REMOVE_RUNNING=1 if you really mean it)" >&2
	return 1
}
