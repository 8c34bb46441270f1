# shellcheck shell=bash
# Helpers shared by keys.sh and promote.sh: which GPG key signs the
# repositories, and how gpg is called for it. Sourced after lib.sh.
#
# Two sources of keys:
#   SIGNING_KEY=<id>  the user's key, from the user's own GNUPGHOME (or ~/.gnupg);
#   (empty)           the project key `make keys` made in $OUT/keys/gnupg, for
#                     local use and CI (no passphrase: it protects nothing the
#                     machine's root could not take anyway).

KEYS_DIR=${KEYS_DIR:-$OUT/keys}
PROJECT_GNUPGHOME=$KEYS_DIR/gnupg
KEY_NAME=zc-kernel-archive
# shellcheck disable=SC2034 # used by keys.sh
KEY_UID="zc-kernel archive signing key (local) <zc-kernel@localhost>"

# project_key_fpr: the fingerprint of the project key, empty when there is none.
project_key_fpr() {
	[ -d "$PROJECT_GNUPGHOME" ] || return 0
	gpg --homedir "$PROJECT_GNUPGHOME" --batch --with-colons --list-secret-keys 2>/dev/null |
		awk -F: '$1 == "sec" { s = 1; next } s && $1 == "fpr" { print $10; exit }'
}

# signing_setup: choose the key and set
#   SIGN_HOME   the GNUPGHOME that holds the secret key
#   SIGN_FPR    its full fingerprint (what signatures and records name)
#   SIGN_SOURCE "project" or "user"
#   GPG         the gpg command line to use for it (an array)
# Dies with what to do when the key is not usable.
signing_setup() {
	if [ -n "${SIGNING_KEY:-}" ]; then
		SIGN_SOURCE=user
		SIGN_HOME=${GNUPGHOME:-$HOME/.gnupg}
		GPG=(gpg --homedir "$SIGN_HOME")
		SIGN_FPR=$("${GPG[@]}" --batch --with-colons --list-secret-keys -- "$SIGNING_KEY" 2>/dev/null |
			awk -F: '$1 == "sec" { s = 1; next } s && $1 == "fpr" { print $10; exit }') || true
		[ -n "$SIGN_FPR" ] || die "SIGNING_KEY=$SIGNING_KEY: no secret key by that id in $SIGN_HOME.
List your keys with 'gpg --list-secret-keys', set GNUPGHOME if the key lives elsewhere,
or leave SIGNING_KEY empty to use the project key of 'make keys'."
		local n
		n=$("${GPG[@]}" --batch --with-colons --list-secret-keys -- "$SIGNING_KEY" | grep -c '^sec:') || true
		[ "$n" = 1 ] || die "SIGNING_KEY=$SIGNING_KEY matches $n secret keys in $SIGN_HOME: give the full fingerprint"
	else
		SIGN_SOURCE=project
		SIGN_HOME=$PROJECT_GNUPGHOME
		GPG=(gpg --homedir "$SIGN_HOME" --batch)
		SIGN_FPR=$(project_key_fpr)
		[ -n "$SIGN_FPR" ] || die "no project signing key in $PROJECT_GNUPGHOME: run 'make keys' (or set SIGNING_KEY=<your key id>)"
	fi
	# A key that cannot sign (expired, revoked, passphrase not available) is
	# found now, not half-way through a publication.
	local msg
	if ! msg=$(echo probe | "${GPG[@]}" --local-user "$SIGN_FPR" --detach-sign 2>&1 >/dev/null); then
		die "the signing key $SIGN_FPR ($SIGN_SOURCE, $SIGN_HOME) cannot sign:
$msg
Check that it is not expired and that its passphrase is available to gpg-agent."
	fi
}

# export_public_key DIR: DIR/zc-kernel-archive.asc (armored) and .gpg (binary,
# what apt's Signed-By and rpm --import take).
export_public_key() {
	local dir=$1
	"${GPG[@]}" --armor --export "$SIGN_FPR" >"$dir/$KEY_NAME.asc.tmp"
	"${GPG[@]}" --export "$SIGN_FPR" >"$dir/$KEY_NAME.gpg.tmp"
	if [ ! -s "$dir/$KEY_NAME.asc.tmp" ] || [ ! -s "$dir/$KEY_NAME.gpg.tmp" ]; then
		die "exporting the public key $SIGN_FPR from $SIGN_HOME gave nothing"
	fi
	mv "$dir/$KEY_NAME.asc.tmp" "$dir/$KEY_NAME.asc"
	mv "$dir/$KEY_NAME.gpg.tmp" "$dir/$KEY_NAME.gpg"
}

# stop_project_agent: the gpg-agent a project-key operation started is ours to
# stop (the user's agent is left alone).
stop_project_agent() {
	if [ "${SIGN_SOURCE:-}" = project ] && [ -d "$PROJECT_GNUPGHOME" ]; then
		gpgconf --homedir "$PROJECT_GNUPGHOME" --kill gpg-agent 2>/dev/null || true
	fi
}
