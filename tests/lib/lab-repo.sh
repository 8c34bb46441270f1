# shellcheck shell=bash
# lab_repo DIR SUITE DEB...: test scaffolding for the rollout tests. A signed
# APT repository in DIR (DIR/apt, suite SUITE, component main, amd64) holding
# the given .deb files, signed with the project key ($OUT/keys, make keys), and
# its public key as DIR/zc-kernel-archive.gpg: the same layout as out/repo, so
# a lab fleet can serve it (LAB_REPO_DIR=DIR) for a channel promote.sh would
# never publish (e.g. the control kernel, which fails the gate).
lab_repo() {
	local dir=$1 suite=$2 fpr home
	shift 2
	home=$OUT/keys/gnupg
	fpr=$(gpg --homedir "$home" --batch --with-colons --list-secret-keys 2>/dev/null |
		awk -F: '$1 == "sec" { s = 1; next } s && $1 == "fpr" { print $10; exit }')
	[ -n "$fpr" ] || { echo "no project key in $home: run 'make keys'" >&2; return 1; }
	mkdir -p "$dir/reprepro/conf" "$dir/apt"
	cat >"$dir/reprepro/conf/distributions" <<-EOT
		Origin: zc-kernel
		Label: zc-kernel
		Suite: $suite
		Codename: $suite
		Architectures: amd64
		Components: main
		Description: zc-kernel test channel $suite
		SignWith: $fpr
	EOT
	local f
	for f in "$@"; do
		GNUPGHOME=$home reprepro -b "$dir/reprepro" --outdir "$dir/apt" includedeb "$suite" "$f" >/dev/null 2>&1 ||
			{ echo "reprepro could not add $f to $dir" >&2; return 1; }
	done
	GNUPGHOME=$home reprepro -b "$dir/reprepro" --outdir "$dir/apt" export >/dev/null 2>&1 || return 1
	gpg --homedir "$home" --batch --export "$fpr" >"$dir/zc-kernel-archive.gpg"
	gpgconf --homedir "$home" --kill gpg-agent 2>/dev/null || true
	gpgv --keyring "$dir/zc-kernel-archive.gpg" "$dir/apt/dists/$suite/InRelease" >/dev/null 2>&1 ||
		{ echo "the signature of $dir/apt/dists/$suite/InRelease does not verify" >&2; return 1; }
}
