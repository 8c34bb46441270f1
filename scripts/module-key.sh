#!/usr/bin/env bash
# module-key.sh: the project's persistent module-signing key, generated once
# (RSA 4096, self-signed X.509, as the kernel's certs/Makefile would make it)
# in $KEYS_DIR/module/signing_key.pem, beside the repository key and outside
# every source tree. kernel.sh copies it into the build as
# certs/signing_key.pem, so the kernel trusts it and `modules_install` signs
# every module with it (CONFIG_MODULE_SIG_ALL): the same key for every build,
# never a random per-build one. Prints the key's path. Idempotent; the key is
# made in a temporary file and moved into place complete.
#   MODULE_KEY=<path to a PEM with key and certificate>: use that key instead.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/repo-lib.sh
. "$(dirname "$0")/repo-lib.sh"

dir="$KEYS_DIR/module"
mkdir -p "$dir"
if [ -n "${MODULE_KEY:-}" ]; then
	[ -r "$MODULE_KEY" ] || die "MODULE_KEY=$MODULE_KEY is not readable"
	openssl x509 -in "$MODULE_KEY" -noout 2>/dev/null && openssl pkey -in "$MODULE_KEY" -noout 2>/dev/null ||
		die "MODULE_KEY=$MODULE_KEY must be one PEM file with the private key and its X.509 certificate"
	cmp -s "$MODULE_KEY" "$dir/signing_key.pem" || install -m 0600 "$MODULE_KEY" "$dir/signing_key.pem"
fi
if [ ! -s "$dir/signing_key.pem" ]; then
	command -v openssl >/dev/null || die "openssl is missing: run 'make deps'"
	exec 7>>"$dir/.lock"
	flock -w 120 7 || die "timed out waiting for $dir/.lock"
	if [ ! -s "$dir/signing_key.pem" ]; then
		tmp=$(mktemp -d "$dir/.new.XXXXXX")
		cleanup_on_exit "$tmp"
		cat >"$tmp/x509.genkey" <<-EOT
			[ req ]
			default_bits = 4096
			distinguished_name = req_distinguished_name
			prompt = no
			string_mask = utf8only
			x509_extensions = myexts
			[ req_distinguished_name ]
			O = zc-kernel
			CN = zc-kernel module signing key
			[ myexts ]
			basicConstraints=critical,CA:FALSE
			keyUsage=digitalSignature
			subjectKeyIdentifier=hash
			authorityKeyIdentifier=keyid
		EOT
		quietly "$tmp/req.log" openssl req -new -nodes -utf8 -sha256 -days 36500 -batch -x509 \
			-config "$tmp/x509.genkey" -outform PEM -out "$tmp/cert.pem" -keyout "$tmp/key.pem" ||
			die "openssl could not make the module-signing key (log above)"
		cat "$tmp/key.pem" "$tmp/cert.pem" >"$tmp/signing_key.pem"
		chmod 0600 "$tmp/signing_key.pem"
		mv "$tmp/signing_key.pem" "$dir/signing_key.pem"
		log keys all "generated the module-signing key $dir/signing_key.pem"
	fi
fi
openssl x509 -in "$dir/signing_key.pem" -outform DER -out "$dir/signing_key.x509.new"
mv "$dir/signing_key.x509.new" "$dir/signing_key.x509"
echo "$dir/signing_key.pem"
