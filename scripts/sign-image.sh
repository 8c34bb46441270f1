#!/usr/bin/env bash
# sign-image.sh: the kernel image signed for shim (Secure Boot), with sbsign.
#   sign-image.sh --key      make the project's Secure Boot key once, print its
#                            certificate's path (PEM; the DER copy beside it,
#                            db.cer, is what `mokutil --import` takes)
#   sign-image.sh IN OUT     sign the EFI-stub kernel IN into OUT and verify it
# The key lives in $KEYS_DIR/secureboot/ (RSA 2048, as shim and every
# firmware's db accept; code-signing usage), beside the repository and module
# keys and outside every source tree. SB_KEY=<PEM key> SB_CERT=<PEM cert>:
# sign with your own key instead (e.g. the one already enrolled as a MOK).
# sbsign stamps the signing time into the signature: it is frozen at
# SOURCE_DATE_EPOCH (faketime), so the same image and key give the same bytes.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/repo-lib.sh
. "$(dirname "$0")/repo-lib.sh"

dir="$KEYS_DIR/secureboot"

sb_key() {
	if [ -n "${SB_KEY:-}" ] || [ -n "${SB_CERT:-}" ]; then
		if [ ! -r "${SB_KEY:-}" ] || [ ! -r "${SB_CERT:-}" ]; then die "SB_KEY and SB_CERT must both name readable PEM files (got SB_KEY='${SB_KEY:-}', SB_CERT='${SB_CERT:-}')"; fi
		openssl x509 -in "$SB_CERT" -noout 2>/dev/null || die "SB_CERT=$SB_CERT is not a PEM X.509 certificate"
		openssl pkey -in "$SB_KEY" -noout 2>/dev/null || die "SB_KEY=$SB_KEY is not a PEM private key without passphrase"
		KEY=$SB_KEY CERT=$SB_CERT
		return
	fi
	KEY="$dir/db.key" CERT="$dir/db.crt"
	[ -s "$KEY" ] && [ -s "$CERT" ] && return
	command -v openssl >/dev/null || die "openssl is missing: run 'make deps'"
	mkdir -p "$dir"
	exec 6>>"$dir/.lock"
	flock -w 120 6 || die "timed out waiting for $dir/.lock"
	[ -s "$KEY" ] && [ -s "$CERT" ] && return
	local tmp
	tmp=$(mktemp -d "$dir/.new.XXXXXX")
	cleanup_on_exit "$tmp"
	quietly "$tmp/req.log" openssl req -new -x509 -newkey rsa:2048 -nodes -sha256 -days 36500 -batch \
		-subj "/O=zc-kernel/CN=zc-kernel Secure Boot signing key" \
		-addext "basicConstraints=critical,CA:FALSE" -addext "keyUsage=digitalSignature" \
		-addext "extendedKeyUsage=codeSigning" \
		-keyout "$tmp/db.key" -out "$tmp/db.crt" || die "openssl could not make the Secure Boot key (log above)"
	openssl x509 -in "$tmp/db.crt" -outform DER -out "$tmp/db.cer"
	chmod 0600 "$tmp/db.key"
	mv "$tmp/db.cer" "$dir/db.cer"
	mv "$tmp/db.crt" "$dir/db.crt"
	mv "$tmp/db.key" "$dir/db.key"
	log keys all "generated the Secure Boot signing key $dir/db.key (enroll $dir/db.cer with 'mokutil --import')"
}

case "${1:-}" in
--key)
	sb_key
	echo "$CERT"
	;;
'' | -*) die "usage: sign-image.sh --key | sign-image.sh IN OUT" ;;
*)
	in=$1 dest=${2:?usage: sign-image.sh IN OUT}
	[ -f "$in" ] || die "no kernel image $in to sign"
	for t in sbsign sbverify faketime; do
		command -v "$t" >/dev/null || die "$t is missing: run 'make deps' (packages sbsigntool, faketime)"
	done
	sb_key
	epoch=${SOURCE_DATE_EPOCH:-$(stat -c %Y "$in")}
	tmp="$dest.tmp.$$"
	TZ=UTC quietly "$dest.log" faketime -f "$(date -u -d "@$epoch" '+%Y-%m-%d %H:%M:%S')" \
		sbsign --key "$KEY" --cert "$CERT" --output "$tmp" "$in" ||
		{ rm -f "$tmp"; die "sbsign could not sign $in (is it an EFI-stub kernel? CONFIG_EFI_STUB=y)"; }
	quietly "$dest.log" sbverify --cert "$CERT" "$tmp" || { rm -f "$tmp"; die "the signature sbsign made on $in does not verify"; }
	rm -f "$dest.log"
	mv "$tmp" "$dest"
	;;
esac
