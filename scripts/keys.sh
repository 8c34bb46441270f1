#!/usr/bin/env bash
# keys.sh: the project's repository signing key, for local use and CI.
#
# Generates, once, an RSA 3072 signing key without passphrase in
# $OUT/keys/gnupg (its own GNUPGHOME; ~/.gnupg is never touched) and exports
# the public key as $OUT/keys/zc-kernel-archive.asc (armored, for
# yum's gpgkey= and rpm --import) and .gpg (binary, for apt's Signed-By).
# RSA rather than ed25519: every rpm and apt a fleet may run verifies it.
# Idempotent: an existing key is kept and only re-exported. The key is
# generated in a temporary directory and moved into place complete.
#
# With SIGNING_KEY=<id> there is nothing to generate: the user's key (from the
# user's GNUPGHOME) is checked and its public key exported instead.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/repo-lib.sh
. "$(dirname "$0")/repo-lib.sh"

need_tools keys gpg gpgconf flock
mkdir -p "$KEYS_DIR"

# The kernel's keys, made once too: module signing (module-key.sh) and the
# Secure Boot key the image is signed with for shim (sign-image.sh).
log keys all "module-signing key: $("$TOP/scripts/module-key.sh")"
log keys all "Secure Boot certificate: $("$TOP/scripts/sign-image.sh" --key) (enroll ${KEYS_DIR}/secureboot/db.cer with mokutil --import)"

if [ -n "${SIGNING_KEY:-}" ]; then
	signing_setup
	export_public_key "$KEYS_DIR"
	log keys all "using SIGNING_KEY=$SIGNING_KEY: $SIGN_FPR from $SIGN_HOME; public key in $KEYS_DIR/$KEY_NAME.{asc,gpg}"
	exit 0
fi

# Two first promotes at once must not make two keys.
exec 8>>"$KEYS_DIR/.lock"
flock -w 120 8 || die "timed out waiting for $KEYS_DIR/.lock (another 'make keys' is running)"
if [ -z "$(project_key_fpr)" ]; then
	[ ! -e "$PROJECT_GNUPGHOME" ] || die "$PROJECT_GNUPGHOME exists but holds no secret key.
Remove it ('rm -rf $PROJECT_GNUPGHOME') and run 'make keys' again; if repositories were
already signed with a key from there, clients must be given the new public key."
	log keys all "generating the project signing key (RSA 3072, no passphrase) in $PROJECT_GNUPGHOME"
	tmp=$(mktemp -d "$KEYS_DIR/.gnupg.XXXXXX")
	cleanup_on_exit "$tmp"
	chmod 700 "$tmp"
	quietly "$KEYS_DIR/keygen.log" gpg --homedir "$tmp" --batch --pinentry-mode loopback --passphrase '' \
		--quick-generate-key "$KEY_UID" rsa3072 sign 0 ||
		die "gpg could not generate a key (log: $KEYS_DIR/keygen.log)"
	gpgconf --homedir "$tmp" --kill gpg-agent 2>/dev/null || true
	rm -f "$tmp"/S.* "$tmp"/*.lock
	mv -T "$tmp" "$PROJECT_GNUPGHOME"
fi

zc_on_exit stop_project_agent
signing_setup
export_public_key "$KEYS_DIR"
printf '%s\n' "$SIGN_FPR" >"$KEYS_DIR/fingerprint"
log keys all "project key $SIGN_FPR; public key in $KEYS_DIR/$KEY_NAME.{asc,gpg}"
