# shellcheck shell=bash
# Promotion into the signed APT and YUM repositories (scripts/promote.sh), on
# the synthetic kernels of tests/unit/test_gate.sh (fake linux-image .deb and
# kernel-zc .rpm, real smoke/bench JSON of this machine), in a temporary OUT.
# The APT repository is proven by apt itself in a fresh bookworm root, the YUM
# one by gpg, rpm -K and dnf --installroot.

# shellcheck source=tests/unit/test_gate.sh
. "$TOP/tests/unit/test_gate.sh"

# testing and stable take fleet profiles only: these tests use the cloud
# profile (packages and results under out/{pkg,results}/<lts>-cloud/); the
# lab channel and the refusal of test profiles have tests of their own.
export PROFILE=cloud
K99=9.9.9-1-zc1-cloud
K98=9.8.8-1-zc1-cloud
DEB99=linux-image-${K99}_9.9.9-1+zc1_amd64.deb
DEB98=linux-image-${K98}_9.8.8-1+zc1_amd64.deb
RPM99=kernel-zc-cloud-9.9.9-1.zc1.x86_64.rpm
RPM98=kernel-zc-cloud-9.8.8-1.zc1.x86_64.rpm

# prom_setup: two passing kernels and a passing gate.
prom_setup() {
	gfx_two_kernels
	run_rc rc "$TOP/scripts/gate.sh" 9.9 9.8 >/dev/null
	assert_eq 0 "$rc" "gate of the synthetic kernels ($out)"
}

promote() { run_rc rc "$TOP/scripts/promote.sh" "$@" >/dev/null; }

# assert_no_leftovers: no work directory of a promote, and no gpg-agent of the
# project key, once promote.sh has exited.
assert_no_leftovers() {
	assert_eq "" "$(find "$OUT" -maxdepth 1 -name '.promote.*')" "promote work directories left in $OUT"
	assert_eq "" "$(pgrep -af "gpg-agent.*$OUT/keys/gnupg" || true)" "gpg-agent processes of the project key"
}

# repo_listing: what clients see under out/repo (every file through the
# symlinks, with its sha256) and which tree is current.
repo_listing() {
	[ -d "$OUT/repo" ] || { echo "no repository"; return 0; }
	(
		cd "$OUT/repo" || exit 1
		readlink current || echo "no current"
		find -L . \( -path ./.versions -o -path ./current \) -prune -o -type f ! -name .lock -print0 |
			sort -z | xargs -0r sha256sum
	)
}

# wait_for_line FILE TEXT SECONDS
wait_for_line() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "'$2' did not appear in $1 within $3 s: $(cat "$1")"
}

test_promote_refuses_without_passing_gate() {
	gfx_two_kernels
	promote testing
	assert_eq 1 "$rc" "promote without gate.json"
	assert_contains "$out" "Run 'make gate' first"
	[ ! -e "$OUT/repo/apt" ] || fail "a repository was created without a gate"
	# The control kernel's results make the gate fail, and promote refuse.
	gfx_control
	run_rc rc "$TOP/scripts/gate.sh" 9.9 9.8 control
	assert_eq 1 "$rc" "gate with the control kernel"
	promote testing
	assert_eq 1 "$rc" "promote after a failed gate"
	assert_contains "$out" "the gate did not pass (failed kernels: control-cloud)"
	[ ! -e "$OUT/repo/apt" ] || fail "a repository was created after a failed gate"
	# And once something is published, a failed gate changes nothing.
	run_rc rc "$TOP/scripts/gate.sh" 9.9 9.8 >/dev/null
	promote testing
	assert_eq 0 "$rc" "promote after a passing gate ($out)"
	before=$(repo_listing)
	run_rc rc "$TOP/scripts/gate.sh" 9.9 9.8 control >/dev/null
	promote stable
	assert_eq 1 "$rc" "promote stable after a failed gate"
	assert_eq "$before" "$(repo_listing)" "the repository after a refused promote"
}

test_promote_refuses_package_not_tested() {
	prom_setup
	flip_byte "$OUT/pkg/9.8-cloud/deb/$DEB98" 300
	promote testing
	assert_eq 1 "$rc" "promote of a changed package"
	assert_contains "$out" "out/pkg/9.8-cloud/deb/$DEB98: sha256"
	assert_contains "$out" "but the gate tested $(jq -r '.packages[] | select(.file | endswith("'"$DEB98"'")) | .sha256' "$OUT/gate.json")"
	[ ! -e "$OUT/repo/apt" ] || fail "something was published"
	# A package the gate tested that is gone is refused as well.
	gfx_kernel 9.8
	run_rc rc "$TOP/scripts/gate.sh" 9.9 9.8 >/dev/null
	rm "$OUT/pkg/9.9-cloud/rpm/$RPM99"
	promote testing
	assert_eq 1 "$rc" "promote with a package missing"
	assert_contains "$out" "$RPM99: gone"
}

test_promote_testing_then_stable_same_bytes() {
	prom_setup
	promote stable
	assert_eq 1 "$rc" "stable before testing"
	assert_contains "$out" "is not in testing"
	promote testing
	assert_eq 0 "$rc" "promote testing ($out)"
	assert_contains "$out" "apt testing: apt/pool/main/l/linux-image-$K99/$DEB99"
	assert_contains "$out" "yum testing: yum/testing/Packages/$RPM99"
	assert_contains "$out" "Signed-By: /etc/apt/keyrings/zc-kernel-archive.gpg"
	assert_contains "$out" "gpgcheck=1"
	assert_contains "$out" "Suites: testing"
	[ ! -e "$OUT/repo/yum/stable" ] || fail "yum/stable exists after a testing promote"
	grep -q 'linux-image' "$OUT/repo/apt/dists/stable/main/binary-amd64/Packages" && fail "apt stable has packages after a testing promote"
	promote stable
	assert_eq 0 "$rc" "promote stable ($out)"
	assert_contains "$out" "baseurl=file://$OUT/repo/yum/stable"
	assert_contains "$out" "repo_gpgcheck=1"
	local f
	for f in zc-kernel-archive.asc zc-kernel-archive.gpg zc-kernel-testing.sources zc-kernel-testing.repo \
		zc-kernel-stable.sources zc-kernel-stable.repo promotions.json; do
		[ -s "$OUT/repo/$f" ] || fail "out/repo/$f missing"
	done
	# apt: both suites name the same pool files with the same sums, which are
	# the sums the gate tested.
	local pk=dists/%s/main/binary-amd64/Packages tp sp
	# shellcheck disable=SC2059
	tp=$(grep -E '^(Package|Version|Filename|SHA256):' "$OUT/repo/apt/$(printf "$pk" testing)")
	# shellcheck disable=SC2059
	sp=$(grep -E '^(Package|Version|Filename|SHA256):' "$OUT/repo/apt/$(printf "$pk" stable)")
	assert_eq "$tp" "$sp" "Packages of testing and stable"
	local name sha
	while IFS=$'\t' read -r name sha; do
		[[ $name == *.deb ]] || continue
		grep -q "^SHA256: $sha\$" <<<"$sp" || fail "stable does not carry $name with the tested sha256 $sha"
	done < <(jq -r '.packages[] | [.file, .sha256] | @tsv' "$OUT/gate.json")
	# yum: stable's rpms are testing's signed rpms, byte for byte, and the
	# record names both sums.
	for f in "$OUT"/repo/yum/testing/Packages/*.rpm; do
		cmp "$f" "$OUT/repo/yum/stable/Packages/${f##*/}" || fail "yum stable ${f##*/} differs from testing's"
	done
	assert_eq 2 "$(find "$OUT/repo/yum/stable/Packages" -name '*.rpm' | wc -l)" "rpms in yum/stable"
	jq -e 'length == 2 and .[0].channel == "testing" and .[1].channel == "stable"' "$OUT/repo/promotions.json" >/dev/null ||
		fail "promotions.json: $(jq -c 'map(.channel)' "$OUT/repo/promotions.json")"
	local tested
	tested=$(jq -r '.packages[] | select(.file | endswith("'"$RPM99"'")) | .sha256' "$OUT/gate.json")
	jq -e --arg t "$tested" --arg p "$(sha256sum "$OUT/repo/yum/stable/Packages/$RPM99" | cut -d' ' -f1)" \
		'.[1].packages[] | select(.format == "rpm" and .tested_sha256 == $t) | .published_sha256 == $p and $p != $t' \
		"$OUT/repo/promotions.json" >/dev/null || fail "the stable record does not name the tested and the signed sums of the rpm"
	jq -e --arg g "$(sha256sum "$OUT/gate.json" | cut -d' ' -f1)" 'all(.[]; .gate_sha256 == $g)' "$OUT/repo/promotions.json" >/dev/null ||
		fail "the records do not name the gate's sha256"
	# Promoting again is harmless: nothing changes but the record.
	promote testing
	assert_eq 0 "$rc" "second promote to testing ($out)"
	assert_eq 2 "$(find "$OUT/repo/.versions" -mindepth 1 -maxdepth 1 | wc -l)" "trees kept (current and previous)"
	assert_no_leftovers
}

test_promote_same_version_other_content_is_an_error() {
	prom_setup
	promote testing
	assert_eq 0 "$rc" "promote testing ($out)"
	local before
	before=$(repo_listing)
	# Rebuilt with the same version but other content, smoked and gated again.
	local deb=$OUT/pkg/9.9-cloud/deb/$DEB99
	cp "$deb" "$GFX/published.deb"
	gfx_deb linux-image-$K99 9.9.9-1+zc1 /boot/vmlinuz-$K99 "$OUT/pkg/9.9-cloud/deb" "other content"
	gfx_record_tested 9.9
	run_rc rc "$TOP/scripts/gate.sh" 9.9 9.8 >/dev/null
	assert_eq 0 "$rc" "gate of the rebuilt package"
	promote testing
	assert_eq 1 "$rc" "promote of the same version with other content"
	assert_no_leftovers
	assert_contains "$out" "linux-image-$K99 9.9.9-1+zc1 (out/pkg/9.9-cloud/deb/$DEB99) is already published with different content"
	assert_contains "$out" "Bump the package version"
	assert_eq "$before" "$(repo_listing)" "the repository after the refused promote"
	# Same for an rpm (rpmbuild never makes the same bytes twice), with the
	# published deb back in place.
	cp "$GFX/published.deb" "$deb"
	gfx_rpm kernel-zc-cloud 9.9.9 1.zc1 /boot/vmlinuz-$K99 "$OUT/pkg/9.9-cloud/rpm"
	gfx_record_tested 9.9
	run_rc rc "$TOP/scripts/gate.sh" 9.9 9.8 >/dev/null
	promote testing
	assert_eq 1 "$rc" "promote of the same rpm version with other content"
	assert_contains "$out" "kernel-zc-cloud-9.9.9-1.zc1.x86_64 (out/pkg/9.9-cloud/rpm/$RPM99) is already published in yum/testing with different content"
	assert_eq "$before" "$(repo_listing)" "the repository after the refused promote"
}

test_promote_killed_half_way_leaves_repo_unchanged() {
	prom_setup
	promote testing
	assert_eq 0 "$rc" "promote testing ($out)"
	local before log="$GFX/killed.log" pid trees
	before=$(repo_listing)
	trees=$(find "$OUT/repo/.versions" -mindepth 1 -maxdepth 1 | wc -l)
	ZC_PROMOTE_TEST_PAUSE=60 setsid "$TOP/scripts/promote.sh" stable >"$log" 2>&1 &
	pid=$!
	wait_for_line "$log" "test pause: staged" 60
	kill -9 -- "-$pid"
	wait "$pid" 2>/dev/null || true
	assert_eq "$before" "$(repo_listing)" "the repository after a promote killed before its switch"
	assert_eq $((trees + 1)) "$(find "$OUT/repo/.versions" -mindepth 1 -maxdepth 1 | wc -l)" "trees (the live ones and the killed one's)"
	# The next promote cleans up after it and works (the lock died with it).
	PROMOTE_LOCK_TIMEOUT=20 promote stable
	assert_eq 0 "$rc" "promote after the killed one ($out)"
	assert_contains "$out" "a killed promote"
	assert_contains "$out" "left by a promote that did not finish"
	assert_no_leftovers
	[ "$before" != "$(repo_listing)" ] || fail "the second promote changed nothing"
	[ -s "$OUT/repo/yum/stable/repodata/repomd.xml" ] || fail "yum/stable missing after the second promote"
	assert_eq 2 "$(find "$OUT/repo/.versions" -mindepth 1 -maxdepth 1 | wc -l)" "trees after the next promote"
	jq -e 'map(.channel) == ["testing", "stable"]' "$OUT/repo/promotions.json" >/dev/null ||
		fail "promotions.json: $(jq -c 'map(.channel)' "$OUT/repo/promotions.json")"
}

test_promote_concurrent_promotes_serialise() {
	prom_setup
	local la="$GFX/a.log" lb="$GFX/b.log" pa pb ra=0 rb=0
	ZC_PROMOTE_TEST_PAUSE=4 "$TOP/scripts/promote.sh" testing >"$la" 2>&1 &
	pa=$!
	wait_for_line "$la" "test pause: staged" 60
	"$TOP/scripts/promote.sh" testing >"$lb" 2>&1 &
	pb=$!
	wait "$pa" || ra=$?
	wait "$pb" || rb=$?
	assert_eq 0 "$ra" "first promote ($(cat "$la"))"
	assert_eq 0 "$rb" "second promote ($(cat "$lb"))"
	grep -q 'waiting for the repository lock' "$lb" || fail "the second promote did not wait for the lock: $(cat "$lb")"
	# The second one started from the first one's tree: neither record is lost.
	assert_eq 2 "$(jq length "$OUT/repo/promotions.json")" "records in promotions.json"
	assert_eq "$(jq -r '.[0].version' "$OUT/repo/promotions.json")" \
		"$(cat "$OUT/repo/.versions/$(jq -r '.[1].version' "$OUT/repo/promotions.json")/.previous")" "the second tree's predecessor"
}

test_promote_keys() {
	gfx_setup
	run_rc rc "$TOP/scripts/keys.sh"
	assert_eq 0 "$rc" "keys.sh ($out)"
	local fpr
	fpr=$(cat "$OUT/keys/fingerprint")
	[ "${#fpr}" = 40 ] || fail "fingerprint: '$fpr'"
	run_rc rc "$TOP/scripts/keys.sh"
	assert_eq "$fpr" "$(cat "$OUT/keys/fingerprint")" "the key after a second make keys"
	gpg --show-keys --with-colons "$OUT/keys/zc-kernel-archive.gpg" | grep -q "^fpr:::::::::$fpr:" || fail "the .gpg export is not the key"
	gpg --show-keys --with-colons "$OUT/keys/zc-kernel-archive.asc" | grep -q "^fpr:::::::::$fpr:" || fail "the .asc export is not the key"
	# A SIGNING_KEY that does not exist is a clear error.
	SIGNING_KEY=0123456789ABCDEF GNUPGHOME="$GFX/nohome" run_rc rc "$TOP/scripts/keys.sh"
	assert_eq 1 "$rc" "keys.sh with an unknown SIGNING_KEY"
	assert_contains "$out" "SIGNING_KEY=0123456789ABCDEF: no secret key by that id"
	# The user's own key signs when given, and a repository never changes key.
	mkdir -m700 "$GFX/user-gnupg"
	gpg --homedir "$GFX/user-gnupg" --batch --pinentry-mode loopback --passphrase '' \
		--quick-generate-key "Test User <user@example.org>" rsa3072 sign 0 2>/dev/null
	gfx_kernel 9.9
	run_rc rc "$TOP/scripts/gate.sh" 9.9 >/dev/null
	GNUPGHOME="$GFX/user-gnupg" SIGNING_KEY=user@example.org run_rc rc "$TOP/scripts/promote.sh" testing
	gpgconf --homedir "$GFX/user-gnupg" --kill all 2>/dev/null || true
	assert_eq 0 "$rc" "promote with the user's key ($out)"
	local ufpr
	ufpr=$(gpg --show-keys --with-colons "$OUT/repo/zc-kernel-archive.gpg" | awk -F: '$1 == "fpr" { print $10; exit }')
	[ "$ufpr" != "$fpr" ] || fail "the repository key is the project key, not the user's"
	gpgv --keyring "$OUT/repo/zc-kernel-archive.gpg" "$OUT/repo/apt/dists/testing/InRelease" 2>/dev/null || fail "InRelease is not signed by the user's key"
	promote testing
	assert_eq 1 "$rc" "promote with another key"
	assert_contains "$out" "the repositories were signed with key $ufpr"
}

test_promote_make_targets() {
	local mk=(-f Makefile -f mk/repo.mk)
	grep -q '^include mk/repo.mk' Makefile && mk=()
	out=$(make -n "${mk[@]}" gate KERNELS="5.10 6.1")
	assert_contains "$out" "scripts\"/gate.sh '5.10' '6.1'"
	out=$(make -n "${mk[@]}" promote CHANNEL=stable SIGNING_KEY=ABCD REPO_URL=https://repo.example.org/zc)
	assert_contains "$out" "SIGNING_KEY='ABCD' REPO_URL='https://repo.example.org/zc'"
	assert_contains "$out" "scripts\"/promote.sh 'stable'"
	# The default channel follows the profile: lab for test profiles, testing for fleet ones.
	assert_contains "$(make -n "${mk[@]}" promote PROFILE=smoke)" "promote.sh 'lab'"
	assert_contains "$(make -n "${mk[@]}" promote PROFILE=cloud)" "promote.sh 'testing'"
	# A quote in CHANNEL reaches promote.sh as one word: "bad channel", no shell error.
	gfx_setup
	run_rc rc make -s "${mk[@]}" promote "CHANNEL=te'st" OUT="$OUT"
	assert_eq 2 "$rc" "make promote with a quote in CHANNEL"
	assert_contains "$out" "bad channel 'te'st'"
	assert_not_contains "$out" "syntax error"
	assert_not_contains "$out" "unexpected EOF"
	out=$(make -s "${mk[@]}" help-repo)
	assert_contains "$out" "  promote "
	assert_contains "$out" "  gate "
	assert_contains "$out" "  keys "
	if grep -nE '(/work/|/root/|/home/)' mk/repo.mk; then fail "absolute paths of this machine in mk/repo.mk"; fi
	promote() { run_rc rc "$TOP/scripts/promote.sh" "$@"; }
	promote nightly
	assert_eq 1 "$rc" "unknown channel"
	assert_contains "$out" "bad channel 'nightly': CHANNEL must be 'lab', 'testing' or 'stable'"
}

# --- APT, proven by apt in a fresh bookworm root --------------------------------

root_apt() { in_root apt-get -q -o APT::Sandbox::User=root "$@"; }

test_promote_apt_root_installs_from_stable_and_refuses_tampering() {
	[ "$(id -u)" = 0 ] || skip "needs root (chroot)"
	prom_setup
	promote testing
	assert_eq 0 "$rc" "promote testing ($out)"
	promote stable
	assert_eq 0 "$rc" "promote stable ($out)"
	ROOT=$GFX/root
	bookworm_root "$ROOT"
	# The host's view of the repository, copied in (the copy is what we tamper with).
	mkdir -p "$ROOT/srv/repo" "$ROOT/etc/apt/keyrings"
	cp -aL "$OUT/repo/apt" "$ROOT/srv/repo/apt"
	cp "$OUT/repo/zc-kernel-archive.gpg" "$ROOT/etc/apt/keyrings/"
	rm -f "$ROOT/etc/apt/sources.list" "$ROOT"/etc/apt/sources.list.d/*
	sed "s|^URIs: .*|URIs: file:///srv/repo/apt|" "$OUT/repo/zc-kernel-stable.sources" \
		>"$ROOT/etc/apt/sources.list.d/zc-kernel-stable.sources"
	if grep -rqiE 'trusted|allow-insecure|allow-unauthenticated' "$ROOT/etc/apt"; then fail "the apt configuration disables signature checks"; fi
	mount -t proc proc "$ROOT/proc"

	run_rc rc root_apt update
	assert_eq 0 "$rc" "apt-get update from the stable repository ($out)"
	assert_not_contains "$out" "W: " "apt-get update"
	run_rc rc root_apt install -y linux-image-$K99
	assert_eq 0 "$rc" "apt-get install linux-image-$K99 ($out)"
	[ -f "$ROOT/boot/vmlinuz-$K99" ] || fail "/boot/vmlinuz-$K99 not installed"
	# shellcheck disable=SC2016 # dpkg-query's field
	assert_eq "install ok installed" "$(in_root dpkg-query -W -f='${Status}' linux-image-$K99)" "package status"

	# A package changed in the pool: refused by its hash in the signed index.
	run_rc rc in_root dpkg --purge linux-image-$K99
	root_apt clean
	local deb
	deb=$(find "$ROOT/srv/repo/apt/pool" -name "linux-image-${K99}_*.deb")
	cp "$deb" "$GFX/good.deb"
	flip_byte "$deb" 400
	run_rc rc root_apt install -y linux-image-$K99
	[ "$rc" != 0 ] || fail "apt installed a tampered package: $out"
	assert_contains "$out" "Hash Sum mismatch" "apt-get install of a tampered package"
	[ ! -e "$ROOT/boot/vmlinuz-$K99" ] || fail "the tampered package was unpacked"
	cp "$GFX/good.deb" "$deb"

	# A Release file changed: apt refuses the repository.
	local d=$ROOT/srv/repo/apt/dists/stable off
	off=$(grep -b -m1 '^Origin: ' "$d/InRelease" | cut -d: -f1)
	flip_byte "$d/InRelease" $((off + 9))
	off=$(grep -b -m1 '^Origin: ' "$d/Release" | cut -d: -f1)
	flip_byte "$d/Release" $((off + 9))
	rm -rf "$ROOT/var/lib/apt/lists"/*
	run_rc rc root_apt update
	[ "$rc" != 0 ] || fail "apt-get update accepted a tampered Release: $out"
	assert_contains "$out" "BADSIG" "apt-get update with a tampered Release"
	run_rc rc root_apt install -y linux-image-$K99
	[ "$rc" != 0 ] || fail "apt installed from a repository with a bad signature: $out"
	umount "$ROOT/proc"
}

# --- YUM: metadata, signatures, and dnf when it is installed -------------------

test_promote_yum_metadata_and_signatures() {
	prom_setup
	promote testing
	assert_eq 0 "$rc" "promote testing ($out)"
	promote stable
	assert_eq 0 "$rc" "promote stable ($out)"
	local y=$OUT/repo/yum/stable r=$OUT/repo/yum/stable/repodata f href sum
	xmllint --noout "$r/repomd.xml" || fail "repomd.xml is not well-formed"
	# Every metadata file repomd.xml names exists with its checksum.
	for t in primary filelists other; do
		href=$(xmllint --xpath "string(//*[local-name()='data'][@type='$t']/*[local-name()='location']/@href)" "$r/repomd.xml")
		sum=$(xmllint --xpath "string(//*[local-name()='data'][@type='$t']/*[local-name()='checksum'])" "$r/repomd.xml")
		if [ -z "$href" ] || [ ! -f "$y/$href" ]; then fail "repomd.xml names no $t metadata file ($href)"; fi
		assert_eq "$sum" "$(sha256sum "$y/$href" | cut -d' ' -f1)" "checksum of $href"
	done
	# primary lists both kernels, with the sums of the published (signed) files.
	href=$(xmllint --xpath "string(//*[local-name()='data'][@type='primary']/*[local-name()='location']/@href)" "$r/repomd.xml")
	zcat -f "$y/$href" >"$GFX/primary.xml"
	xmllint --noout "$GFX/primary.xml"
	for f in "$y"/Packages/*.rpm; do
		grep -q "<location href=\"Packages/${f##*/}\"/>" "$GFX/primary.xml" || fail "primary.xml does not list ${f##*/}"
		grep -q ">$(sha256sum "$f" | cut -d' ' -f1)</checksum>" "$GFX/primary.xml" || fail "primary.xml has another checksum for ${f##*/}"
	done
	assert_eq 2 "$(grep -c '<name>kernel-zc-cloud</name>' "$GFX/primary.xml")" "kernel-zc packages in primary.xml"
	# repomd.xml is signed, and a changed repomd.xml does not verify.
	gpgv --keyring "$OUT/repo/zc-kernel-archive.gpg" "$r/repomd.xml.asc" "$r/repomd.xml" 2>"$GFX/gpgv.log" ||
		fail "repomd.xml.asc does not verify: $(cat "$GFX/gpgv.log")"
	cp "$r/repomd.xml" "$GFX/repomd.xml"
	sed -i 's/<revision>/<revision>1/' "$GFX/repomd.xml"
	if gpgv --keyring "$OUT/repo/zc-kernel-archive.gpg" "$r/repomd.xml.asc" "$GFX/repomd.xml" 2>/dev/null; then
		fail "a changed repomd.xml verifies"
	fi
	# The rpms are signed (rpm -K with the exported key in a private rpm db);
	# the tested unsigned ones carry no signature; a changed one fails.
	mkdir -p "$GFX/rpmdb"
	rpm --dbpath "$GFX/rpmdb" --initdb
	rpm --dbpath "$GFX/rpmdb" --import "$OUT/repo/zc-kernel-archive.asc"
	for f in "$y"/Packages/*.rpm; do
		out=$(rpm --dbpath "$GFX/rpmdb" -K "$f")
		assert_contains "$out" "digests signatures OK" "rpm -K ${f##*/}"
	done
	out=$(rpm --dbpath "$GFX/rpmdb" -K "$OUT/pkg/9.9-cloud/rpm/$RPM99")
	assert_not_contains "$out" "signatures" "rpm -K of the unsigned tested rpm"
	cp "$y/Packages/$RPM99" "$GFX/bad.rpm"
	flip_byte "$GFX/bad.rpm" $(($(stat -c %s "$GFX/bad.rpm") - 20))
	if rpm --dbpath "$GFX/rpmdb" -K "$GFX/bad.rpm" >/dev/null 2>&1; then fail "rpm -K accepts a changed rpm"; fi
	# The .repo snippet is what a host needs, with checks on.
	f=$OUT/repo/zc-kernel-stable.repo
	if ! grep -qx 'gpgcheck=1' "$f" || ! grep -qx 'repo_gpgcheck=1' "$f"; then fail "$f does not turn signature checks on"; fi
	grep -qx "gpgkey=file://$OUT/repo/zc-kernel-archive.asc" "$f" || fail "$f: wrong gpgkey"
}

test_promote_dnf_installroot_installs_from_stable() {
	command -v dnf >/dev/null || skip "dnf is not installed (apt-get install dnf: bookworm has 4.14)"
	prom_setup
	promote testing
	assert_eq 0 "$rc" "promote testing ($out)"
	promote stable
	assert_eq 0 "$rc" "promote stable ($out)"
	local ir=$GFX/dnfroot rd=$GFX/repos.d
	mkdir -p "$ir" "$rd" "$GFX/dnfcache"
	cp "$OUT/repo/zc-kernel-stable.repo" "$rd/"
	printf '[main]\ngpgcheck=1\nrepo_gpgcheck=1\nlocalpkg_gpgcheck=1\ninstall_weak_deps=0\n' >"$GFX/dnf.conf"
	local dnf=(dnf -y -q --installroot="$ir" --releasever=12 --config="$GFX/dnf.conf"
		--setopt=reposdir="$rd" --setopt=cachedir="$GFX/dnfcache" --setopt=logdir="$GFX")
	run_rc rc "${dnf[@]}" install kernel-zc-cloud-9.9.9
	assert_eq 0 "$rc" "dnf install kernel-zc-9.9.9 from stable ($out)"
	[ -f "$ir/boot/vmlinuz-$K99" ] || fail "/boot/vmlinuz-$K99 not installed by dnf"
	# A changed rpm in a copy of the repository is refused.
	cp -aL "$OUT/repo/yum/stable" "$GFX/yum-bad"
	flip_byte "$GFX/yum-bad/Packages/$RPM98" 2000
	sed "s|^baseurl=.*|baseurl=file://$GFX/yum-bad|" "$OUT/repo/zc-kernel-stable.repo" >"$rd/zc-kernel-stable.repo"
	rm -rf "$GFX/dnfcache"/*
	run_rc rc "${dnf[@]}" install kernel-zc-cloud-9.8.8
	[ "$rc" != 0 ] || fail "dnf installed a changed rpm: $out"
	echo "dnf on the changed rpm: $out"
	[ ! -e "$ir/boot/vmlinuz-$K98" ] || fail "the changed rpm was unpacked"
	# Metadata changed without its signature (repo_gpgcheck=1): refused.
	rm -rf "$GFX/yum-bad" "$GFX/dnfcache"/*
	cp -aL "$OUT/repo/yum/stable" "$GFX/yum-bad"
	sed -i 's|<revision>|<revision>9|' "$GFX/yum-bad/repodata/repomd.xml"
	run_rc rc "${dnf[@]}" install kernel-zc-cloud-9.8.8
	[ "$rc" != 0 ] || fail "dnf accepted metadata with a bad signature: $out"
	assert_contains "$out" "GPG" "dnf on a repomd.xml with a bad signature"
	[ ! -e "$ir/boot/vmlinuz-$K98" ] || fail "installed from metadata with a bad signature"
}

# --- issue 13: kills at every point; issues 10/11: lab channel, stale kernels -----

# kill_promote_at CHANNEL POINT|staging LOG: start a promote in a process group
# of its own and kill -9 the whole group (children too: reprepro, gpg,
# createrepo_c) at POINT (a test pause) or, for "staging", at a random moment
# between the start of staging and the switch.
kill_promote_at() {
	local ch=$1 point=$2 log=$3 pid
	if [ "$point" = staging ]; then
		# A random moment of the staging, which can take less than the
		# random delay on a fast machine: the pause after staging holds
		# the promote before its switch, so the kill never lands past it.
		ZC_PROMOTE_TEST_PAUSE=60 ZC_PROMOTE_TEST_PAUSE_AT=staged setsid "$TOP/scripts/promote.sh" "$ch" >"$log" 2>&1 &
		pid=$!
		wait_for_line "$log" "staging in" 60
		sleep "0.$((RANDOM % 10))"
	else
		ZC_PROMOTE_TEST_PAUSE=60 ZC_PROMOTE_TEST_PAUSE_AT=$point setsid "$TOP/scripts/promote.sh" "$ch" >"$log" 2>&1 &
		pid=$!
		wait_for_line "$log" "test pause: $point" 60
	fi
	kill -9 -- "-$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	# Zombies whose parent died with the group wait for init to reap them: only
	# live processes count. A SIGKILLed process can still be on its way out
	# for a moment on a loaded machine: give the group up to 10 s to go.
	local live i
	for i in $(seq 1 20); do
		live=$(ps -e -o pgid=,stat=,pid=,args= | awk -v g="$pid" '$1 == g && $2 !~ /^Z/')
		[ -n "$live" ] || break
		sleep 0.5
	done
	assert_eq "" "$live" "live processes of the killed promote (${i} checks)"
}

test_promote_killed_at_the_first_switch_and_during_staging() {
	prom_setup
	local log="$GFX/k.log" i after
	# The first promote ever, killed with its entry points made, just before
	# the switch: nothing is published, nothing half.
	kill_promote_at testing entries "$log"
	[ ! -e "$OUT/repo/current" ] || fail "current exists after a first promote killed before its switch"
	[ ! -e "$OUT/repo/apt/dists" ] || fail "apt is visible after a first promote killed before its switch"
	# Killed just after the switch: every entry point is there at once.
	kill_promote_at testing switched "$log"
	for e in apt/dists/testing/InRelease yum/testing/repodata/repomd.xml zc-kernel-archive.gpg zc-kernel-archive.asc \
		promotions.json zc-kernel-testing.sources zc-kernel-testing.repo; do
		[ -s "$OUT/repo/$e" ] || fail "out/repo/$e missing after a first promote killed just after its switch"
	done
	gpgv --keyring "$OUT/repo/zc-kernel-archive.gpg" "$OUT/repo/apt/dists/testing/InRelease" 2>/dev/null ||
		fail "InRelease does not verify after the killed switch"
	after=$(repo_listing)
	# Killed during staging, three times at random moments: no change.
	for i in 1 2 3; do
		kill_promote_at stable staging "$log"
		assert_eq "$after" "$(repo_listing)" "the repository after a promote killed during staging (kill $i)"
	done
	[ -n "$(find "$OUT" -maxdepth 1 -name '.promote.*')" ] || fail "the kills left no work directory: the test proves nothing"
	# The next promote removes what the killed ones left, and works.
	promote stable
	assert_eq 0 "$rc" "promote after the kills ($out)"
	assert_contains "$out" "left by a promote that did not finish"
	assert_no_leftovers
	assert_eq 2 "$(find "$OUT/repo/.versions" -mindepth 1 -maxdepth 1 | wc -l)" "trees after the next promote"
	[ -s "$OUT/repo/yum/stable/repodata/repomd.xml" ] || fail "yum/stable missing"
}

test_promote_test_profile_goes_to_lab_only() {
	PROFILE=smoke
	gfx_two_kernels
	run_rc rc "$TOP/scripts/gate.sh" 9.9 9.8 >/dev/null
	assert_eq 0 "$rc" "gate of the smoke kernels ($out)"
	local ch
	for ch in testing stable; do
		run_rc rc "$TOP/scripts/promote.sh" "$ch"
		assert_eq 1 "$rc" "promote of a smoke kernel to $ch"
		assert_contains "$out" "refusing to promote to $ch: these kernels are of a test profile"
		assert_contains "$out" "9.9: profile smoke (CHANNELS=lab)"
		assert_contains "$out" "make promote CHANNEL=lab"
		[ ! -e "$OUT/repo/apt/dists" ] || fail "something was published to $ch"
	done
	assert_no_leftovers
	promote lab
	assert_eq 0 "$rc" "promote of the smoke kernels to lab ($out)"
	grep -q "^Package: linux-image-9.9.9-1-zc1-smoke$" "$OUT/repo/apt/dists/lab/main/binary-amd64/Packages" ||
		fail "apt lab does not carry the smoke kernel"
	if grep -q 'linux-image' "$OUT/repo/apt/dists/testing/main/binary-amd64/Packages"; then fail "apt testing has packages"; fi
	[ -s "$OUT/repo/yum/lab/repodata/repomd.xml" ] || fail "no yum/lab"
	[ ! -e "$OUT/repo/yum/testing" ] || fail "yum/testing exists"
	[ -s "$OUT/repo/zc-kernel-lab.sources" ] || fail "no zc-kernel-lab.sources"
	jq -e '.[-1] | .channel == "lab" and .profile == "smoke"' "$OUT/repo/promotions.json" >/dev/null ||
		fail "the lab record: $(jq -c '.[-1] | {channel, profile}' "$OUT/repo/promotions.json")"
	# PROFILE must be the one the gate judged.
	PROFILE=cloud run_rc rc "$TOP/scripts/promote.sh" testing
	assert_eq 1 "$rc" "promote with another PROFILE than the gate's"
	assert_contains "$out" "PROFILE=cloud, but out/gate.json judged profile smoke"
}

test_promote_stable_refuses_stale_kernel_unless_allowed() {
	prom_setup
	gfx_outdated behind
	run_rc rc "$TOP/scripts/gate.sh" 9.9 9.8 >/dev/null
	assert_eq 0 "$rc" "gate of a stale kernel ($out)"
	# testing: a warning only.
	run_rc rc "$TOP/scripts/promote.sh" testing
	assert_eq 0 "$rc" "promote of a stale kernel to testing ($out)"
	assert_contains "$out" "warning: kernels not current"
	assert_contains "$out" "9.9-cloud: pinned 9.9.9-1, its line serves 9.9.9-3 (2 newer): run make refresh KERNEL=9.9"
	local before
	before=$(repo_listing)
	# stable: refused, saying what to refresh to.
	run_rc rc "$TOP/scripts/promote.sh" stable
	assert_eq 1 "$rc" "promote of a stale kernel to stable"
	assert_contains "$out" "refusing to promote to stable: these kernels are behind their line's newest release"
	assert_contains "$out" "its line serves 9.9.9-3 (2 newer): run make refresh KERNEL=9.9"
	assert_not_contains "$out" "9.8-cloud" "the current 9.8 in the refusal"
	assert_eq "$before" "$(repo_listing)" "the repository after the refused promote"
	# ALLOW_STALE=1: promoted, and recorded.
	ALLOW_STALE=1 run_rc rc "$TOP/scripts/promote.sh" stable
	assert_eq 0 "$rc" "ALLOW_STALE=1 promote to stable ($out)"
	assert_contains "$out" "ALLOW_STALE=1: promoting kernels that are not current"
	jq -e '.[-1] | .channel == "stable" and .allow_stale == true
		and (.not_current | length == 1 and .[0].kernel == "9.9-cloud" and .[0].newest == "9.9.9-3" and .[0].behind_by == 2)' \
		"$OUT/repo/promotions.json" >/dev/null || fail "the override is not recorded: $(jq -c '.[-1] | {allow_stale, not_current}' "$OUT/repo/promotions.json")"
	jq -e '.[0].allow_stale == false' "$OUT/repo/promotions.json" >/dev/null || fail "the testing record claims the override"
	# A kernel whose state is unknown (archive unreachable) is no more current.
	gfx_outdated error
	run_rc rc "$TOP/scripts/gate.sh" 9.9 9.8 >/dev/null
	run_rc rc "$TOP/scripts/promote.sh" stable
	assert_eq 1 "$rc" "promote to stable with the archive unreachable"
	assert_contains "$out" "9.9-cloud: not known to be current"
	assert_no_leftovers
}

test_promote_same_version_other_bytes_across_channels() {
	prom_setup
	promote lab
	assert_eq 0 "$rc" "promote of the cloud kernels to lab ($out)"
	# Rebuilt under the same version, tested and gated again: testing must
	# refuse it, since lab already serves other bytes under that version.
	gfx_rpm kernel-zc-cloud 9.9.9 1.zc1 "/boot/vmlinuz-$K99" "$OUT/pkg/9.9-cloud/rpm"
	gfx_record_tested 9.9
	run_rc rc "$TOP/scripts/gate.sh" 9.9 9.8 >/dev/null
	assert_eq 0 "$rc" "gate of the rebuilt rpm ($out)"
	local before
	before=$(repo_listing)
	promote testing
	assert_eq 1 "$rc" "promote of other bytes under a published version"
	assert_contains "$out" "kernel-zc-cloud-9.9.9-1.zc1.x86_64 (out/pkg/9.9-cloud/rpm/$RPM99) is already published in yum/lab with different content"
	assert_eq "$before" "$(repo_listing)" "the repository after the refused promote"
}
