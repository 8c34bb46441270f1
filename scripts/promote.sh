#!/usr/bin/env bash
# promote.sh CHANNEL: publish what the gate passed into the signed APT and YUM
# repositories under $OUT/repo, channel "lab", "testing" or "stable".
#
#   $OUT/repo/apt/                    reprepro: suites lab, testing and stable, main, amd64
#   $OUT/repo/yum/<channel>/          createrepo_c, repomd.xml.asc, rpms signed
#   $OUT/repo/zc-kernel-archive.{asc,gpg}        the public key
#   $OUT/repo/zc-kernel-<channel>.{sources,repo} how a host adds the channel
#   $OUT/repo/promotions.json         every promotion: when, what, which sums
#
# Rules:
# - only with a passing $OUT/gate.json, and only packages whose sha256 is the
#   one the gate tested (checked on the very copies that get published);
# - a kernel of a test profile (CHANNELS=lab in packaging/configs/<p>.profile:
#   smoke, quick, debug) goes to the lab channel only: testing and stable take
#   fleet profiles (CHANNELS=fleet: cloud, distro) and refuse the others;
#   PROFILE, when set, must be the profile the gate judged;
# - stable refuses a kernel behind its line's newest release (or whose state
#   the gate could not learn), naming the version to refresh to, unless
#   ALLOW_STALE=1, which promotions.json records; testing and lab only warn;
# - testing takes the gate's packages; stable takes the same packages from
#   testing, the same bytes (reprepro copies the pool entry; the signed rpms
#   are copied from yum/testing), never a rebuild: a package the gate passed
#   that is not in testing is refused;
# - a version already published with other content is an error, never a
#   silent skip or overwrite (apt and yum clients cache by version);
# - atomic: each promotion builds a complete new tree in
#   $OUT/repo/.versions/<id>/ (a copy of the current one, then the changes,
#   then verification) and switches the single symlink $OUT/repo/current to
#   it with one rename(2). $OUT/repo/apt, yum, ... are fixed symlinks into
#   current/, made before the switch (even the first one), so the rename makes
#   everything appear at once. A promote killed at any point leaves current as
#   it was or fully switched; the half-made tree is garbage removed by the
#   next promote. The current and the previous trees are kept, older ones
#   pruned;
# - serialised: flock on $OUT/repo/.lock, held from the start (before the
#   packages are copied) until the end; a second promote waits
#   (PROMOTE_LOCK_TIMEOUT seconds, default 1800). Under the lock, the work
#   directories $OUT/.promote.* of killed promotes are removed.
#
# RPM signatures: the gate tested unsigned rpms; signing adds a signature
# header, so the published file has another sha256. The rpm is signed as a
# copy at publish time, the signed copy is checked to carry the same header
# and payload digests (SHA256HEADER, PAYLOADDIGEST) as the tested one, and
# both sums are recorded (tested_sha256, published_sha256). stable gets the
# signed file of testing, byte for byte. Debian packages are published as
# tested (apt signs the Release file, not the .deb).
#
# Environment: SIGNING_KEY (user key id; default: the project key of
# `make keys`, generated if missing), REPO_URL (base URL clients use; default
# file://$OUT/repo), ALLOW_STALE=1, PROFILE, ZC_PROMOTE_TEST_PAUSE=<s> (tests:
# sleep at the point ZC_PROMOTE_TEST_PAUSE_AT names: "staged" (default, after
# staging), "entries" (entry points made, just before the switch) or
# "switched" (just after it)). Logs of a failure stay in $OUT/logs/.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/repo-lib.sh
. "$(dirname "$0")/repo-lib.sh"

channel=${1:-${CHANNEL:-}}
CHANNELS_ALL="lab testing stable"
case "$channel" in
lab | testing | stable) ;;
"") die "no channel given: make promote CHANNEL=lab (test profiles) or CHANNEL=testing, then stable (fleet profiles)" ;;
*) die "bad channel '$channel': CHANNEL must be 'lab', 'testing' or 'stable'" ;;
esac
REPO=$OUT/repo
REPO_URL=${REPO_URL:-file://$REPO}
REPO_URL=${REPO_URL%/}
need_tools promote reprepro createrepo_c gpg gpgv gpgconf rpm rpmsign jq flock dpkg-deb sha256sum
LOGS=$OUT/logs/promote
mkdir -p "$LOGS"

# test_pause POINT: the tests' hook to kill a promote at a given point.
test_pause() {
	if [ -n "${ZC_PROMOTE_TEST_PAUSE:-}" ] && [ "${ZC_PROMOTE_TEST_PAUSE_AT:-staged}" = "$1" ]; then
		log promote "$channel" "test pause: $1, sleeping ${ZC_PROMOTE_TEST_PAUSE}s"
		sleep "$ZC_PROMOTE_TEST_PAUSE" 9>&-
	fi
}

# rel PATH: "out/..." for a path under $OUT, as the gate names files.
rel() { case "$1" in "$OUT"/*) echo "out/${1#"$OUT"/}" ;; *) echo "$1" ;; esac; }
resolve() { case "$1" in out/*) echo "$OUT/${1#out/}" ;; /*) echo "$1" ;; *) echo "$TOP/$1" ;; esac; }

# --- the gate: a private copy of the verdict, read once -----------------------
gate=$OUT/gate.json
[ -f "$gate" ] || die "no gate verdict ($(rel "$gate")): nothing may be promoted without a passing gate. Run 'make gate' first."

# --- lock; what killed promotes left goes first --------------------------------
mkdir -p "$REPO/.versions"
for e in apt yum; do
	if [ -e "$REPO/$e" ] && [ ! -L "$REPO/$e" ]; then
		die "$REPO/$e is a real directory, not promote.sh's symlink into $REPO/current: move it away first"
	fi
done
exec 9>>"$REPO/.lock"
if ! flock -n 9; then
	log promote "$channel" "waiting for the repository lock $REPO/.lock (another promote is running)"
	flock -w "${PROMOTE_LOCK_TIMEOUT:-1800}" 9 ||
		die "timed out after ${PROMOTE_LOCK_TIMEOUT:-1800}s waiting for $REPO/.lock: another promote still runs (see 'fuser $REPO/.lock')"
fi
# Every live promote holds the lock: any work directory left is a dead one's.
clean_stale "$OUT" ".promote.*" "promote"
work=$(mktemp -d "$OUT/.promote.XXXXXX")
cleanup_on_exit "$work"
zc_on_exit stop_project_agent
cp "$gate" "$work/gate.json"
jq -e '.tool == "zc-kernel-gate"' "$work/gate.json" >/dev/null 2>&1 || die "$(rel "$gate") is not a gate verdict written by scripts/gate.sh: run 'make gate'"
if ! jq -e '.verdict == "pass"' "$work/gate.json" >/dev/null; then
	die "the gate did not pass (failed kernels: $(jq -r '.failed_kernels | join(", ")' "$work/gate.json")): refusing to promote.
See $(rel "$gate") or $(rel "$OUT/gate-junit.xml"); fix the kernels, rebuild, 'make smoke' and 'make gate' again."
fi
gate_sha=$(sha256_of "$work/gate.json")
jq -e '(.packages | length > 0) and all(.packages[]; .sha256_agree)' "$work/gate.json" >/dev/null ||
	die "$(rel "$gate") records no packages, or two kernels tested one file with different sums: run 'make gate' again"

# --- profile and channel: test kernels never reach a fleet channel ---------------
jq -e '(.profile | type) == "string" and all(.kernels[]; (.channels | type) == "string")' "$work/gate.json" >/dev/null ||
	die "$(rel "$gate") names no profile (written by an older gate): run 'make gate' again"
gate_profile=$(jq -r .profile "$work/gate.json")
if [ -n "${PROFILE:-}" ] && [ "$PROFILE" != "$gate_profile" ]; then
	die "PROFILE=$PROFILE, but $(rel "$gate") judged profile $gate_profile: run 'make gate PROFILE=$PROFILE' first (or promote with PROFILE=$gate_profile)"
fi
if [ "$channel" != lab ]; then
	labonly=$(jq -r '.kernels[] | select(.channels != "fleet") | "  \(.name): profile \(.profile) (CHANNELS=\(.channels))"' "$work/gate.json")
	if [ -n "$labonly" ]; then
		die "refusing to promote to $channel: these kernels are of a test profile, which may go to the lab channel only:
$labonly
Test profiles (packaging/configs/<profile>.profile with CHANNELS=lab) never reach testing or stable.
Publish them with 'make promote CHANNEL=lab', or build a fleet profile (PROFILE=cloud or distro) for $channel."
	fi
fi

# --- how far behind its line each kernel is (recorded by the gate) ---------------
stale=$(jq -c '[.kernels[] | select((.outdated.status // "unknown") != "current")
	| {kernel: .name, line: (.outdated.line // .line), pinned: .outdated.pinned, newest: .outdated.newest,
	   behind_by: .outdated.behind_by, status: (.outdated.status // "unknown"), reason: .outdated.reason}]' "$work/gate.json")
allow_stale=false
if [ "$stale" != "[]" ]; then
	msg=$(jq -r '.[] | if .status == "behind"
		then "  \(.kernel): pinned \(.pinned), its line serves \(.newest) (\(.behind_by) newer): run make refresh KERNEL=\(.line)"
		else "  \(.kernel): not known to be current (\(.reason // "no outdated record")): run make outdated" end' <<<"$stale")
	if [ "$channel" = stable ]; then
		if [ "${ALLOW_STALE:-0}" = 1 ]; then
			allow_stale=true
			log promote "$channel" "ALLOW_STALE=1: promoting kernels that are not current (recorded in promotions.json):"
			printf '%s\n' "$msg" >&2
		else
			die "refusing to promote to stable: these kernels are behind their line's newest release, or not known to be current:
$msg
Then rebuild, smoke and gate them (make KERNEL=<lts> PROFILE=$gate_profile). ALLOW_STALE=1 promotes them anyway; promotions.json records it."
		fi
	else
		log promote "$channel" "warning: kernels not current (stable would refuse them):"
		printf '%s\n' "$msg" >&2
	fi
fi

# Copy every package the gate passed, then check the copies: what is checked
# is what gets published, even if out/pkg changes meanwhile.
mkdir -p "$work/pkg"
refused=()
n=0
while IFS=$'\t' read -r name want; do
	n=$((n + 1))
	src=$(resolve "$name")
	dst="$work/pkg/$n-$(basename "$name")"
	if [ ! -f "$src" ]; then
		refused+=("$name: gone (the gate tested sha256 $want)")
		continue
	fi
	cp "$src" "$dst"
	got=$(sha256_of "$dst")
	[ "$got" = "$want" ] || refused+=("$name: sha256 $got, but the gate tested $want")
	printf '%s\t%s\t%s\n' "$name" "$want" "$dst" >>"$work/packages.tsv"
done < <(jq -r '.packages[] | [.file, .sha256] | @tsv' "$work/gate.json")
if [ "${#refused[@]}" -gt 0 ]; then
	die "refusing to promote: these packages are not the ones the gate tested:
$(printf '  %s\n' "${refused[@]}")
They were rebuilt after the gate. Run 'make image smoke' and 'make gate' for them again."
fi
log promote "$channel" "gate $(rel "$gate") passed (sha256 $gate_sha): $n packages, sums verified"

# --- the signing key ----------------------------------------------------------
if [ -z "${SIGNING_KEY:-}" ] && [ -z "$(project_key_fpr)" ]; then
	log promote "$channel" "no SIGNING_KEY and no project key yet: running keys.sh"
	"$(dirname "$0")/keys.sh"
fi
signing_setup
export GNUPGHOME=$SIGN_HOME # reprepro signs through gpgme
log promote "$channel" "signing with $SIGN_FPR ($SIGN_SOURCE key, $SIGN_HOME)"

# --- stage a copy of the current tree (under the lock, taken above) ----------------
cur_id=""
if [ -L "$REPO/current" ]; then
	cur_id=$(readlink "$REPO/current")
	cur_id=${cur_id#.versions/}
	[ -d "$REPO/.versions/$cur_id" ] || die "$REPO/current points to a missing tree (.versions/$cur_id): the repository is damaged; restore it from a backup"
fi
prev_id=""
[ -z "$cur_id" ] || prev_id=$(cat "$REPO/.versions/$cur_id/.previous" 2>/dev/null || true)
# Under the lock, any tree that is neither current nor its predecessor is
# left over from a killed promote, or older than we keep.
for d in "$REPO"/.versions/*; do
	[ -e "$d" ] || continue
	b=${d##*/}
	if [ "$b" != "$cur_id" ] && [ "$b" != "$prev_id" ]; then
		log promote "$channel" "removing $(rel "$d") (not current: a killed promote, or older than the previous)"
		rm -rf "$d"
	fi
done
rm -f "$REPO"/*.new

id=$(date -u +%Y%m%dT%H%M%SZ)-$$
stage=$REPO/.versions/$id
cleanup_on_exit "$stage"
if [ -n "$cur_id" ]; then
	cp -a "$REPO/.versions/$cur_id" "$stage"
else
	mkdir -p "$stage"
	echo '[]' >"$stage/promotions.json"
fi
echo "$cur_id" >"$stage/.previous"
if [ -f "$stage/signing-key" ] && [ "$(cat "$stage/signing-key")" != "$SIGN_FPR" ]; then
	die "the repositories were signed with key $(cat "$stage/signing-key"), this promote would sign with $SIGN_FPR.
Clients trust the first key only. Use SIGNING_KEY=$(cat "$stage/signing-key") (or its project key), or
start new repositories (move $REPO away) and give every host the new key."
fi
echo "$SIGN_FPR" >"$stage/signing-key"
log promote "$channel" "staging in $(rel "$stage") (from ${cur_id:-nothing})"

# --- APT ------------------------------------------------------------------------
# reprepro's own state (conf/, db/) lives beside the published tree, not in it.
apt=$stage/apt
rdir=$stage/reprepro
mkdir -p "$rdir/conf" "$apt"
for s in $CHANNELS_ALL; do
	cat <<-EOT
		Origin: zc-kernel
		Label: zc-kernel
		Suite: $s
		Codename: $s
		Architectures: amd64
		Components: main
		Description: zc-kernel LTS kernels with the TCP zerocopy short-circuit fix ($s)
		SignWith: $SIGN_FPR

	EOT
done >"$rdir/conf/distributions"
rr() { quietly "$LOGS/reprepro.log" reprepro -b "$rdir" --outdir "$apt" "$@"; }
# apt_has SUITE PKG: the version and pool file of PKG in SUITE ("" if none).
apt_has() {
	# shellcheck disable=SC2016 # reprepro's own ${...} fields
	reprepro -b "$rdir" --outdir "$apt" --list-format '${version}\t${$filekey}\n' list "$1" "$2" 2>/dev/null |
		sort -u | head -n1 | awk -F'\t' -v d="$apt" 'NF == 2 { print $1 "\t" d "/" $2 }'

}

published=() # lines for the report: "apt <suite>  <file>"
declare -A rpm_tested=()
debs=()
while IFS=$'\t' read -r name want file; do
	case "$name" in
	*.deb) debs+=("$name") ;;
	*.rpm) rpm_tested[$name]="$want	$file" ;;
	*) die "the gate lists $name, which is neither a .deb nor an .rpm" ;;
	esac
done <"$work/packages.tsv"

copy_names=()
while IFS=$'\t' read -r name want file; do
	[[ $name == *.deb ]] || continue
	pkg=$(dpkg-deb -f "$file" Package) ver=$(dpkg-deb -f "$file" Version) arch=$(dpkg-deb -f "$file" Architecture)
	pool=$(find "$apt/pool" -type f -name "${pkg}_${ver#*:}_${arch}.deb" 2>/dev/null | head -n1) || true
	if [ -n "$pool" ] && [ "$(sha256_of "$pool")" != "$want" ]; then
		die "$pkg $ver ($name) is already published with different content:
  published: $(sha256_of "$pool")  ${pool#"$stage"/}
  this one:  $want
apt (and reprepro) can never hold two files for one version. Bump the package version
(ZC_REVISION in patches/<lts>/source.conf, or the package's own version) and rebuild."
	fi
	if [ "$channel" != stable ]; then
		rr includedeb "$channel" "$file" ||
			die "reprepro could not add $name to $channel (log above: $LOGS/reprepro.log)"
	else
		have=$(apt_has testing "$pkg")
		hv=${have%%$'\t'*}
		if [ "$hv" != "$ver" ]; then
			die "refusing to promote to stable: $pkg $ver ($name) is not in testing (testing has: ${hv:-nothing}).
stable only takes what testing already has: run 'make promote CHANNEL=testing' first."
		fi
		[ "$(sha256_of "${have#*$'\t'}")" = "$want" ] ||
			die "testing's $pkg $ver is not the file the gate tested (pool sha256 $(sha256_of "${have#*$'\t'}"), gate $want): refusing to promote it to stable"
		copy_names+=("$pkg")
	fi
	printf '%s\t%s\t%s\t%s\t%s\n' "$pkg" "$ver" "$want" "$name" deb >>"$work/published.tsv"
done <"$work/packages.tsv"
if [ "${#copy_names[@]}" -gt 0 ]; then
	rr copy stable testing "${copy_names[@]}" || die "reprepro could not copy ${copy_names[*]} from testing to stable ($LOGS/reprepro.log)"
fi
# Each package must now be in the channel at exactly the gate's version and
# bytes (reprepro skips, with only a warning, a version older than one present).
while IFS=$'\t' read -r pkg ver want name _; do
	have=$(apt_has "$channel" "$pkg")
	hv=${have%%$'\t'*}
	[ "$hv" = "$ver" ] ||
		die "$pkg $ver is not in $channel after publishing (it has: ${hv:-nothing}); a newer $pkg is already published? See $LOGS/reprepro.log"
	[ "$(sha256_of "${have#*$'\t'}")" = "$want" ] || die "$pkg $ver in $channel has another sha256 than the gate tested"
	published+=("apt $channel: ${have#*"$REPO/.versions/$id/"}  (sha256 $want)")
done < <(awk -F'\t' '$5 == "deb"' "$work/published.tsv" 2>/dev/null)
# Sign both suites with the current key and check the signatures.
rr export || die "reprepro export failed ($LOGS/reprepro.log)"
rr check || die "reprepro check found an inconsistent repository ($LOGS/reprepro.log)"
export_public_key "$stage"
for s in $CHANNELS_ALL; do
	gpgv --keyring "$stage/$KEY_NAME.gpg" "$apt/dists/$s/InRelease" >/dev/null 2>&1 ||
		die "the signature of $s/InRelease does not verify with the exported key"
done

# --- YUM --------------------------------------------------------------------------
yum=$stage/yum/$channel
mkdir -p "$yum/Packages"
[ -f "$yum/zc-manifest.json" ] || echo '[]' >"$yum/zc-manifest.json"
mkdir -p "$work/rpmdb"
rpm --dbpath "$work/rpmdb" --initdb
rpm --dbpath "$work/rpmdb" --import "$stage/$KEY_NAME.asc"
rpm_digests() { rpm -qp --nosignature --qf '%{SHA256HEADER} %{PAYLOADDIGEST}\n' "$1" 2>/dev/null; }
for name in "${!rpm_tested[@]}"; do
	want=${rpm_tested[$name]%%$'\t'*} file=${rpm_tested[$name]#*$'\t'}
	nevra=$(rpm -qp --nosignature --qf '%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}' "$file")
	base=$nevra.rpm
	dest=$yum/Packages/$base
	old=$(jq -r --arg b "$base" '.[] | select(.file == $b) | .tested_sha256' "$yum/zc-manifest.json")
	# One version, one content, in every channel (clients cache by version).
	for m in "$stage"/yum/*/zc-manifest.json; do
		[ -f "$m" ] || continue
		o=$(jq -r --arg b "$base" '.[] | select(.file == $b) | .tested_sha256' "$m")
		if [ -n "$o" ] && [ "$o" != "$want" ]; then
			c=${m%/zc-manifest.json}
			die "$nevra ($name) is already published in yum/${c##*/} with different content:
  published from tested sha256: $o
  this one:                     $want
yum clients cache by version: bump the release (ZC_REVISION) and rebuild."
		fi
	done
	if [ -f "$dest" ]; then
		[ "$old" = "$want" ] || die "$nevra ($name) is already published in yum/$channel with different content:
  published from tested sha256: ${old:-unknown}
  this one:                     $want
yum clients cache by version: bump the release (ZC_REVISION) and rebuild."
		pub=$(sha256_of "$dest")
	elif [ "$channel" != stable ]; then
		cp "$file" "$work/$base"
		quietly "$LOGS/rpmsign.log" rpmsign --addsign \
			--define "_gpg_name $SIGN_FPR" --define "_gpg_path $SIGN_HOME" --define "__gpg $(command -v gpg)" \
			"$work/$base" || die "rpmsign could not sign $name ($LOGS/rpmsign.log)"
		if [ -z "$(rpm_digests "$file")" ] || [ "$(rpm_digests "$work/$base")" != "$(rpm_digests "$file")" ]; then
			die "signing $name changed more than its signature header (digests differ): refusing to publish"
		fi
		mv "$work/$base" "$dest"
		pub=$(sha256_of "$dest")
	else
		src=$(jq -r --arg w "$want" '.[] | select(.tested_sha256 == $w) | .file' "$stage/yum/testing/zc-manifest.json" 2>/dev/null | head -n1)
		if [ -z "$src" ] || [ ! -f "$stage/yum/testing/Packages/$src" ]; then
			die "refusing to promote to stable: $nevra ($name, sha256 $want) is not in yum/testing.
stable only takes what testing already has: run 'make promote CHANNEL=testing' first."
		fi
		pub=$(jq -r --arg b "$src" '.[] | select(.file == $b) | .published_sha256' "$stage/yum/testing/zc-manifest.json")
		[ "$(sha256_of "$stage/yum/testing/Packages/$src")" = "$pub" ] ||
			die "yum/testing/Packages/$src no longer has the sha256 recorded when it was published ($pub): the repository was changed by hand"
		cp "$stage/yum/testing/Packages/$src" "$dest"
	fi
	if ! rpm --dbpath "$work/rpmdb" -K "$dest" >"$work/rpmk.txt" 2>&1 || ! grep -q 'signatures OK' "$work/rpmk.txt"; then
		die "the published $base does not verify: $(cat "$work/rpmk.txt")"
	fi
	jq --arg b "$base" --arg n "$name" --arg w "$want" --arg p "$pub" --arg nevra "$nevra" \
		'map(select(.file != $b)) + [{file: $b, nevra: $nevra, from: $n, tested_sha256: $w, published_sha256: $p}]' \
		"$yum/zc-manifest.json" >"$work/m.json" && mv "$work/m.json" "$yum/zc-manifest.json"
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$nevra" "" "$want" "$name" rpm "$pub" >>"$work/published.tsv"
	published+=("yum $channel: yum/$channel/Packages/$base  (tested sha256 $want, signed sha256 $pub)")
done
quietly "$LOGS/createrepo.log" createrepo_c --quiet --checksum sha256 "$yum" ||
	die "createrepo_c failed on $yum ($LOGS/createrepo.log)"
rm -f "$yum/repodata/repomd.xml.asc"
"${GPG[@]}" --local-user "$SIGN_FPR" --armor --detach-sign -o "$yum/repodata/repomd.xml.asc" "$yum/repodata/repomd.xml"
cp "$stage/$KEY_NAME.asc" "$yum/repodata/repomd.xml.key"
for s in $CHANNELS_ALL; do
	[ -f "$stage/yum/$s/repodata/repomd.xml" ] || continue
	gpgv --keyring "$stage/$KEY_NAME.gpg" "$stage/yum/$s/repodata/repomd.xml.asc" "$stage/yum/$s/repodata/repomd.xml" >/dev/null 2>&1 ||
		die "yum/$s/repodata/repomd.xml.asc does not verify with the exported key"
done

# --- how hosts add the channel, and the record ------------------------------------
cat >"$stage/zc-kernel-$channel.sources" <<-EOT
	# zc-kernel kernels, channel $channel. Put the key in place first:
	#   install -D -m644 zc-kernel-archive.gpg /etc/apt/keyrings/zc-kernel-archive.gpg
	# (from $REPO_URL/zc-kernel-archive.gpg), then this file as
	# /etc/apt/sources.list.d/zc-kernel-$channel.sources
	Types: deb
	URIs: $REPO_URL/apt
	Suites: $channel
	Components: main
	Architectures: amd64
	Signed-By: /etc/apt/keyrings/zc-kernel-archive.gpg
EOT
cat >"$stage/zc-kernel-$channel.repo" <<-EOT
	# zc-kernel kernels, channel $channel: /etc/yum.repos.d/zc-kernel-$channel.repo
	[zc-kernel-$channel]
	name=zc-kernel LTS kernels ($channel)
	baseurl=$REPO_URL/yum/$channel
	enabled=1
	gpgcheck=1
	repo_gpgcheck=1
	gpgkey=$REPO_URL/zc-kernel-archive.asc
EOT
jq -R -s --arg time "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg ch "$channel" --arg gs "$gate_sha" \
	--arg gt "$(jq -r .time "$work/gate.json")" --arg key "$SIGN_FPR" --arg id "$id" \
	--arg profile "$gate_profile" --argjson allow "$allow_stale" --argjson stale "$stale" '
	[split("\n")[] | select(length > 0) | split("\t") |
		{name: .[0], format: .[4], file: .[3], tested_sha256: .[2],
		 published_sha256: (if .[4] == "rpm" then .[5] else .[2] end)}
		+ (if .[4] == "deb" then {version: .[1]} else {} end)] as $p
	| {time: $time, channel: $ch, version: $id, gate_sha256: $gs, gate_time: $gt,
	   profile: $profile, allow_stale: $allow, not_current: $stale,
	   signing_key: $key, packages: $p}' "$work/published.tsv" >"$work/record.json"
jq --slurpfile r "$work/record.json" '. + $r' "$stage/promotions.json" >"$work/p.json"
mv "$work/p.json" "$stage/promotions.json"
sync -f "$stage" 2>/dev/null || true

log promote "$channel" "staged in $(rel "$stage")"
test_pause staged

# --- the switch: one rename ---------------------------------------------------------
# The entry points first: fixed symlinks into current/, dangling until current
# has what they name, so the one rename below makes all of them appear at once
# (the first promote too).
entries=(apt yum promotions.json "$KEY_NAME.asc" "$KEY_NAME.gpg")
for s in $CHANNELS_ALL; do entries+=("zc-kernel-$s.sources" "zc-kernel-$s.repo"); done
for e in "${entries[@]}"; do
	[ -e "$stage/$e" ] || continue
	[ "$(readlink "$REPO/$e" 2>/dev/null)" = "current/$e" ] && continue
	ln -sfn "current/$e" "$REPO/$e.new"
	mv -T "$REPO/$e.new" "$REPO/$e"
done
sync -f "$REPO" 2>/dev/null || true
test_pause entries
ln -sfn ".versions/$id" "$REPO/current.new"
mv -T "$REPO/current.new" "$REPO/current"
cleanup_forget "$stage" # the stage is live now: never remove it
test_pause switched
for d in "$REPO"/.versions/*; do
	b=${d##*/}
	if [ "$b" != "$id" ] && [ "$b" != "$cur_id" ]; then rm -rf "$d"; fi
done
log promote "$channel" "switched $(rel "$REPO/current") to .versions/$id (previous: ${cur_id:-none})"

echo "promoted to $channel (gate sha256 $gate_sha, key $SIGN_FPR):"
printf '  %s\n' "${published[@]}"
echo "repositories: $REPO/apt (suite $channel), $REPO/yum/$channel; key: $REPO/$KEY_NAME.{asc,gpg}"
echo "record: $REPO/promotions.json"
echo
echo "--- $REPO/zc-kernel-$channel.sources (apt) ---"
cat "$stage/zc-kernel-$channel.sources"
echo "--- $REPO/zc-kernel-$channel.repo (dnf/yum) ---"
cat "$stage/zc-kernel-$channel.repo"
