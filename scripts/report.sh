#!/usr/bin/env bash
# report.sh: the results page, $OUT/report/index.html, with its plots (PNG,
# gnuplot) beside it, made only from the JSON the pipeline wrote:
#   $OUT/summary.json                  stage times (scripts/summary.sh)
#   $OUT/gate.json                     the gate's decision and reasons
#   $OUT/results/<kid>/                verdict, boot, smoke, bench, bench-stats,
#                                      tested-packages (.json), rpm/verdict.json
#   $OUT/results/bench-ab.json         the control against its line
#   $OUT/build/<profile>/<lts>/build.json, $OUT/status/<kid>/<stage>
# Whatever is missing is shown as missing; the page is written either way.
# Every kernel line of patches/ is listed (smoke profile), with every other
# kernel and profile that has results or status.
# For every failed result the page gives the one command that reproduces it
# alone: the qemu boot of the same image with zc.smoke=1 and only the failing
# checks (zc.smoke.only=, no benchmark), or the make target with its
# variables. The same data as JSON: $OUT/report/report.json.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

command -v gnuplot >/dev/null || "$TOP/scripts/deps.sh" plot
command -v gnuplot >/dev/null || die "gnuplot is missing: run 'scripts/deps.sh plot' as root"

dest="$OUT/report"
mkdir -p "$OUT"
work=$(mktemp -d "$OUT/.report.XXXXXX")
cleanup_on_exit "$work"
mkdir -p "$work/page"

# A path as the user types it from the project top (out/...), else absolute.
shown() {
	local p
	p=$(realpath -m "$1")
	case "$p" in "$TOP"/*) echo "${p#"$TOP"/}" ;; *) echo "$p" ;; esac
}
json_or_null() { if [ -f "$1" ] && jq -e . "$1" >/dev/null 2>&1; then jq -c "${2:-.}" "$1"; else echo null; fi; }

# --- which kernels -------------------------------------------------------------
declare -A seen
kids=()
add_kid() { [ -n "${seen[$1]:-}" ] || { seen[$1]=1; kids+=("$1"); }; }
for f in "$PATCHES_DIR"/*/source.conf; do
	[ -f "$f" ] || continue
	line=${f%/source.conf}
	line=${line##*/}
	[ "$line" = control ] || add_kid "$line"
done
for d in "$OUT"/results/* "$OUT"/status/*; do
	[ -d "$d" ] || continue
	k=${d##*/}
	case "$k" in host | quick | control* | test-results) continue ;; esac
	[ -f "$d/verdict.json" ] || [ -d "$OUT/status/$k" ] || continue
	add_kid "$k"
done
if [ -f "$PATCHES_DIR/control/source.conf" ]; then add_kid control; fi
for d in "$OUT"/results/control-* "$OUT"/status/control-*; do [ -d "$d" ] && add_kid "${d##*/}"; done

# --- one JSON object per kernel --------------------------------------------------
ovmf_code=/usr/share/OVMF/OVMF_CODE_4M.fd ovmf_vars=/usr/share/OVMF/OVMF_VARS_4M.fd
for kid in "${kids[@]}"; do
	lts=$kid profile=smoke
	case "$kid" in *-*) lts=${kid%%-*} profile=${kid#*-} ;; esac
	r="$OUT/results/$kid"
	build="$OUT/build/$profile/$lts/build.json"
	[ "$kid" != control ] || build="$OUT/build/$profile/control/build.json"
	img_json="$OUT/images/$kid/image.json"
	image=""
	if [ -f "$img_json" ]; then image="$OUT/images/$kid/$(jq -r .image "$img_json")"; fi
	status='{}'
	for f in "$OUT/status/$kid"/*; do
		[ -f "$f" ] || continue
		IFS=$'\t' read -r res secs detail <"$f" || true
		status=$(jq -c --arg s "${f##*/}" --arg r "$res" --arg t "$secs" --arg d "$detail" \
			'.[$s] = {result: $r, seconds: ($t | tonumber? // null), detail: $d}' <<<"$status")
	done
	jq -n --arg kid "$kid" --arg lts "$lts" --arg profile "$profile" \
		--arg image "$([ -n "$image" ] && shown "$image")" --arg image_exists "$([ -n "$image" ] && [ -f "$image" ] && echo 1)" \
		--argjson verdict "$(json_or_null "$r/verdict.json")" \
		--argjson rpm "$(json_or_null "$r/rpm/verdict.json")" \
		--argjson boot "$(json_or_null "$r/boot.json")" \
		--argjson smoke "$(json_or_null "$r/smoke.json" '{kernel, summary, checks: [.checks[]? | {name, verdict, reason}]}')" \
		--argjson bench "$(json_or_null "$r/bench-stats.json" '{kernel, repeat, effects: (.effects | map_values({median, ci95, definition}))}')" \
		--argjson packages "$(json_or_null "$r/tested-packages.json")" \
		--argjson build "$(json_or_null "$build")" \
		--argjson status "$status" \
		--arg ovmf_code "$ovmf_code" --arg ovmf_vars "$ovmf_vars" '
		def q: "\u0027" + . + "\u0027";
		def mk(t): "make \(t) KERNEL=\($lts)" + (if $profile != "smoke" then " PROFILE=\($profile)" else "" end);
		def qemu(extra): "qemu-system-x86_64 -machine q35 -accel \($boot.accel // "tcg") -m 1536 -smp 2 -nodefaults -display none -no-reboot -serial stdio"
			+ " -drive if=pflash,format=raw,unit=0,readonly=on,file=\($ovmf_code)"
			+ " -drive if=pflash,format=raw,unit=1,snapshot=on,file=\($ovmf_vars)"
			+ " -drive " + ("if=none,id=disk0,format=raw,snapshot=on,file=\($image)" | q)
			+ " -device virtio-blk-pci,drive=disk0,bootindex=0 -device virtio-rng-pci"
			+ " -smbios " + ("type=11,value=io.systemd.stub.kernel-cmdline-extra=zc.smoke=1 oops=panic \(extra)" | q);
		($verdict.failing_checks // []) as $fc
		| ([$status | to_entries[] | select(.value.result != "ok") | .key]) as $failed_stages
		| {kid: $kid, lts: $lts, profile: $profile, control: ($kid | startswith("control")),
		   krel: ($build.krel // $smoke.kernel // null), pkgver: ($build.pkgver // null),
		   build_seconds: ($build.build_seconds // null), objects: ($build.objects_compiled // null),
		   verdict: ($verdict.verdict // "missing"), reason: ($verdict.reason // "no result: \($kid) was not booted (out/results/\($kid)/verdict.json missing)"),
		   failing_checks: $fc, rpm_verdict: ($rpm.verdict // null), rpm_reason: ($rpm.reason // null),
		   boot_seconds: ($boot.boot_to_verdict_seconds // null), accel: ($boot.accel // null),
		   smoke: $smoke, bench: $bench, packages: ($packages // []), status: $status, image: $image}
		| .reproduce = (
			if ($failed_stages | map(select(. != "smoke")) | length) > 0 then
				mk($failed_stages | map(select(. != "smoke"))[0])
			elif .verdict == "missing" then
				(if $image_exists == "1" then mk("smoke") else mk("image smoke") end)
			elif .verdict == "pass" and (.rpm_verdict // "pass") == "pass" then null
			elif $image_exists != "1" then mk("image smoke")
			elif .verdict == "fail" and ($fc | length) > 0 then qemu("zc.smoke.only=\($fc | join(",")) zc.bench.repeat=0")
			elif .verdict != "pass" then qemu("")
			else mk("smoke") end)' >"$work/k.$kid.json"
done

# --- the benchmark plots -----------------------------------------------------------
# Kernels with statistics, the patched lines first, the control last.
bk=()
for kid in "${kids[@]}"; do
	[ -f "$OUT/results/$kid/bench-stats.json" ] || continue
	case "$kid" in control*) ;; *) bk+=("$kid") ;; esac
done
for kid in "${kids[@]}"; do case "$kid" in control*) [ -f "$OUT/results/$kid/bench-stats.json" ] && bk+=("$kid") ;; esac; done
plots=()
gp_common='set terminal pngcairo size 960,420 font "DejaVu Sans,10" noenhanced
set key outside right top
set grid ytics
set style data histogram
set style histogram errorbars gap 2 lw 1
set style fill solid 0.75 border -1
set boxwidth 0.9
set xtics rotate by -20'
# bars FILE TITLE YLABEL METRIC CONFIG...: medians with 95 % intervals, one bar per kernel.
bars() {
	local png=$1 title=$2 ylabel=$3 metric=$4 c k i plot="" col
	shift 4
	for c in "$@"; do
		printf '%s' "$c"
		for k in "${bk[@]}"; do
			jq -r --arg c "$c" --arg m "$metric" \
				'(.configs[$c].metrics[$m] // null) as $x | if $x == null then " NaN NaN NaN"
				 else " \($x.median) \($x.ci95[0] // $x.median) \($x.ci95[1] // $x.median)" end' \
				"$OUT/results/$k/bench-stats.json" | tr -d '\n'
		done
		printf '\n'
	done >"$work/$png.dat"
	i=0
	for k in "${bk[@]}"; do
		col=$((2 + 3 * i))
		plot+="${plot:+, }'$work/$png.dat' using $col:$((col + 1)):$((col + 2))$(if [ "$i" = 0 ]; then echo ':xtic(1)'; fi) title '$k'"
		i=$((i + 1))
	done
	gnuplot <<-EOT
		$gp_common
		set output '$work/page/$png'
		set title '$title'
		set ylabel '$ylabel'
		set yrange [0:*]
		plot $plot
	EOT
	plots+=("$png")
}
if [ "${#bk[@]}" -gt 0 ]; then
	bars syscalls.png "Server syscalls per RPC without readiness waits (median, 95 % interval)" "syscalls per RPC" \
		syscalls_per_rpc_excl_wait recv zc hybrid hybrid-2skb hybrid-foreign poll-inq0
	bars qps-cpu.png "QPS per system CPU-second, /proc/stat incl. softirq (median, 95 % interval)" "RPCs per CPU-second" \
		qps_per_system_cpu_second recv zc hybrid hybrid-2skb hybrid-foreign poll-inq0
	# The contention effects: ratio per round, one group per effect.
	for e in contention_p99 contention_p999 contention_open_p99 contention_open_p999; do
		printf '%s' "$e"
		for k in "${bk[@]}"; do
			jq -r --arg e "$e" '(.effects[$e] // null) as $x | if $x == null then " NaN NaN NaN"
				else " \($x.median) \($x.ci95[0] // $x.median) \($x.ci95[1] // $x.median)" end' \
				"$OUT/results/$k/bench-stats.json" | tr -d '\n'
		done
		printf '\n'
	done >"$work/effects.dat"
	plot="" i=0
	for k in "${bk[@]}"; do
		col=$((2 + 3 * i))
		plot+="${plot:+, }'$work/effects.dat' using $col:$((col + 1)):$((col + 2))$(if [ "$i" = 0 ]; then echo ':xtic(1)'; fi) title '$k'"
		i=$((i + 1))
	done
	gnuplot <<-EOT
		$gp_common
		set output '$work/page/contention.png'
		set title 'Under an mmap_lock writer: hybrid latency / recv latency, per round (median, 95 % interval; 1 = no effect)'
		set ylabel 'ratio'
		set yrange [0:*]
		plot $plot, 1 with lines lt 0 lw 2 notitle
	EOT
	plots+=(contention.png)
	# The latency CDFs under contention, closed loop.
	plot=""
	for k in "${bk[@]}"; do
		for c in hybrid-contend recv-contend; do
			if [ -f "$OUT/results/$k/bench.json" ] &&
				jq -r --arg c "$c" '.configs[]? | select(.name == $c) | .latency_cdf_us[] | "\(.[1]) \(.[0])"' \
					"$OUT/results/$k/bench.json" >"$work/cdf.$k.$c.dat" 2>/dev/null && [ -s "$work/cdf.$k.$c.dat" ]; then
				plot+="${plot:+, }'$work/cdf.$k.$c.dat' using 1:2 with lines lw 2 $(if [ "$c" = recv-contend ]; then echo 'dt 2'; fi) title '$k $c'"
			fi
		done
	done
	if [ -n "$plot" ]; then
		gnuplot <<-EOT
			set terminal pngcairo size 960,460 font "DejaVu Sans,10" noenhanced
			set output '$work/page/latency-cdf.png'
			set title 'Latency CDF per RPC under an mmap_lock writer (closed loop, every kept run)'
			set xlabel 'latency (us, log scale)'
			set ylabel 'fraction of RPCs'
			set logscale x
			set grid
			set key outside right top
			set yrange [0:1]
			plot $plot
		EOT
		plots+=(latency-cdf.png)
	fi
fi

# --- the page ----------------------------------------------------------------------
jq -s . "$work"/k.*.json >"$work/kernels.json"
jq -n --slurpfile k "$work/kernels.json" \
	--argjson summary "$(json_or_null "$OUT/summary.json")" \
	--argjson gate "$(json_or_null "$OUT/gate.json" '{verdict, time, commit, failed_kernels, kernels: [.kernels[]? | {name, verdict, problems}]}')" \
	--argjson ab "$(json_or_null "$OUT/results/bench-ab.json" '{patched, control, criterion, effects: [.effects[]? | {effect, patched, control, ratio_control_over_patched}],
		metrics: [.metrics[]? | select([.config, .metric] as $x | [["hybrid-2skb", "syscalls_per_rpc_excl_wait"], ["hybrid-2skb", "copy_failures_per_rpc"],
			["hybrid-foreign", "syscalls_per_rpc_excl_wait"], ["hybrid-foreign", "getsockopt_errors_per_rpc"], ["hybrid", "syscalls_per_rpc_excl_wait"],
			["poll-inq0", "empty_poll_ns"], ["hybrid-contend", "latency_us.p99"], ["recv-contend", "latency_us.p99"]] | index([$x])) |
			{config, metric, patched, control, ratio_control_over_patched}]}')" \
	--argjson plots "$(printf '%s\n' "${plots[@]}" | jq -R . | jq -sc 'map(select(. != ""))')" \
	--arg time "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg commit "$(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
	'{time: $time, commit: $commit, kernels: $k[0], summary: $summary, gate: $gate, bench_ab: $ab, plots: $plots}' \
	>"$work/page/report.json"

jq -r '
def h: tostring | gsub("\u001b\\[[0-9;?]*[A-Za-z]"; "") | gsub("[\u0000-\u0008\u000b-\u001f]"; "") | @html;
def num(d): if . == null then "-" else (. * pow(10; d) | round / pow(10; d) | tostring) end;
def ci(x): if x == null then "-" else "\(x.median | num(3)) [\(x.ci95[0] // null | num(3)), \(x.ci95[1] // null | num(3))]" end;
def badge(v): "<span class=\"v v-\(v | h)\">\(v | h)</span>";
.kernels as $ks |
([$ks[].smoke.checks[]?.name] | unique) as $checks |
"<!DOCTYPE html>
<html lang=\"en\"><head><meta charset=\"utf-8\"><title>zc-kernel results</title>
<style>
body{font-family:DejaVu Sans,Arial,sans-serif;margin:1.5em;color:#222;max-width:1400px}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #bbb;padding:3px 7px;vertical-align:top;font-size:13px}
th{background:#eee;text-align:left}code,pre{font-family:DejaVu Sans Mono,monospace;font-size:12px}
pre{white-space:pre-wrap;word-break:break-all;background:#f6f6f6;padding:4px;margin:2px 0}
.v{font-weight:bold;padding:1px 6px;border-radius:3px}.v-pass{background:#c8f0c8}.v-fail,.v-panic,.v-timeout,.v-no-result,.v-FAIL{background:#f7c4c4}
.v-missing{background:#e6e6e6;color:#666}.v-skip{background:#f5e7b5}.small{font-size:11px;color:#555}
img{max-width:100%;border:1px solid #ddd;margin:.3em 0}
</style></head><body>
<h1>zc-kernel results</h1>
<p class=\"small\">Generated \(.time | h) from commit \(.commit | h), from the JSON under out/ (missing results are shown as missing).</p>
<h2 id=\"gate\">Gate</h2>" +
(if .gate == null then "<p data-gate=\"missing\">" + badge("missing") + " no gate decision (out/gate.json missing: run <code>make gate</code>)</p>"
 else "<p data-gate=\"\(.gate.verdict | h)\">" + badge(.gate.verdict) + " at \(.gate.time | h)" +
   (if (.gate.failed_kernels | length) > 0 then "; failed: \(.gate.failed_kernels | join(", ") | h)" else "" end) + "</p><ul>" +
   ([.gate.kernels[] | "<li><b>\(.name | h)</b> " + badge(.verdict) +
     (if (.problems | length) > 0 then "<ul>" + ([.problems[:12][] | "<li>\(. | h)</li>"] | join("")) +
       (if (.problems | length) > 12 then "<li>... and \(.problems | length - 12) more (out/gate.json)</li>" else "" end) + "</ul>" else "" end) + "</li>"] | join("")) + "</ul>" end) +
"<h2 id=\"kernels\">Kernels</h2>
<table><tr><th>kernel</th><th>profile</th><th>release</th><th>verdict</th><th>failing checks</th><th>boot to verdict</th><th>packages (sha256)</th><th>reproduce</th></tr>" +
([$ks[] | "<tr data-kernel=\"\(.kid | h)\" data-verdict=\"\(.verdict | h)\"><td><b>\(.kid | h)</b>\(if .control then " <span class=small>(unpatched control)</span>" else "" end)</td>" +
  "<td>\(.profile | h)</td><td>\(.krel // "-" | h)</td>" +
  "<td class=\"verdict\">" + badge(.verdict) + (if .rpm_verdict then " rpm: " + badge(.rpm_verdict) else "" end) +
  "<div class=small>\(.reason | h)</div></td>" +
  "<td>\(if (.failing_checks | length) > 0 then (.failing_checks | join(" ") | h) else "-" end)</td>" +
  "<td>\(if .boot_seconds then "\(.boot_seconds) s (\(.accel // "?" | h))" else "-" end)</td>" +
  "<td>" + (if (.packages | length) > 0 then ([.packages[] | "<div><code>\(.file | split("/") | last | h)</code><br><code class=small>\(.sha256 | h)</code></div>"] | join("")) else "<span class=\"v v-missing\">missing</span>" end) + "</td>" +
  "<td>" + (if .reproduce then "<pre class=reproduce>\(.reproduce | h)</pre>" else "-" end) + "</td></tr>"] | join("\n")) +
"</table>
<h2 id=\"checks\">zc-smoke checks across kernels</h2>" +
(if ($checks | length) == 0 then "<p>" + badge("missing") + " no smoke results.</p>" else
 "<table><tr><th>check</th>" + ([$ks[] | "<th>\(.kid | h)</th>"] | join("")) + "</tr>" +
 ([$checks[] as $c | "<tr><td><code>\($c | h)</code></td>" +
   ([$ks[] | ((.smoke.checks // []) | map(select(.name == $c)) | .[0]) as $x |
     if $x == null then "<td>" + badge("missing") + "</td>" else "<td title=\"\($x.reason // "" | h)\">" + badge($x.verdict) + "</td>" end] | join("")) + "</tr>"] | join("\n")) + "</table>" end) +
"<h2 id=\"bench\">Benchmark: patched against control</h2>" +
(if (.plots | length) == 0 then "<p>" + badge("missing") + " no benchmark statistics (out/results/&lt;kernel&gt;/bench-stats.json: run <code>make smoke</code>).</p>"
 else "<p class=small>zc-rpc-bench --suite ab in each image: every configuration run repeatedly, interleaved, after a discarded warm-up round; medians with 95 % percentile-bootstrap intervals (scripts/stats.py). Under TCG absolute figures are noise: compare ratios within a run.</p>" +
   ([.plots[] | "<div><img src=\"\(. | h)\" alt=\"\(. | h)\"></div>"] | join("\n")) end) +
(if .bench_ab == null then "<p>" + badge("missing") + " no A/B comparison of the control with its line (out/results/bench-ab.json).</p>"
 else "<h3>Control against \(.bench_ab.patched.kernel | h)</h3><p data-ab=\"\(if .bench_ab.criterion.pass then "pass" elif .bench_ab.criterion.decided then "fail" else "undecided" end)\"><b>\(.bench_ab.criterion.name | h)</b>: \(.bench_ab.criterion.reason | h) <span class=small>(rule: \(.bench_ab.criterion.rule | h))</span></p>" +
   "<table><tr><th>figure</th><th>patched</th><th>control</th><th>control / patched</th></tr>" +
   ([.bench_ab.metrics[] | "<tr><td>\(.config | h): \(.metric | h)</td><td>\(ci(.patched))</td><td>\(ci(.control))</td><td>\(ci(.ratio_control_over_patched))</td></tr>"] | join("")) +
   ([.bench_ab.effects[] | "<tr><td>effect \(.effect | h)</td><td>\(ci(.patched))</td><td>\(ci(.control))</td><td>\(ci(.ratio_control_over_patched))</td></tr>"] | join("")) +
   "</table><p class=small>median [95 % interval] over the kept runs; effects are ratios within one run (per round).</p>" end) +
"<h2 id=\"stages\">Stage times of the last run</h2>" +
(if .summary == null or (.summary | type) != "object" or .summary.stages == null then "<p>" + badge("missing") + " no stage record (out/summary.json: run <code>make</code> or <code>make summary</code>).</p>"
 else (.summary.stages // []) as $st |
   "<table><tr><th>kernel</th>" + ([$st[] | "<th>\(. | h)</th>"] | join("")) + "</tr>" +
   ([.summary.kernels[] as $r | "<tr><td>\($r.name | h)</td>" +
     ([$st[] as $s | $r.stages[$s] as $c | if $c == null then "<td>-</td>" else
       "<td>" + (if $c.result == "ok" then "" else badge($c.result) + " " end) + "\($c.work_seconds // $c.seconds) s<div class=small>\($c.detail | h)\(if $c.noop then " (no-op pass; the work is shown)" else "" end)</div></td>" end] | join("")) + "</tr>"] | join("")) +
   "<tr><th>work</th>" + ([$st[] as $s | "<th>\(.summary.stage_totals[$s] // "-") s</th>"] | join("")) + "</tr></table>" end) +
"<script>
window.addEventListener(\"load\", function () {
  var imgs = document.images, bad = [];
  for (var i = 0; i < imgs.length; i++)
    if (!imgs[i].complete || imgs[i].naturalWidth === 0) bad.push(imgs[i].getAttribute(\"src\"));
  document.body.setAttribute(\"data-images\", imgs.length);
  document.body.setAttribute(\"data-images-missing\", bad.join(\" \") || \"none\");
  if (bad.length) {
    var p = document.createElement(\"p\");
    p.textContent = \"missing images: \" + bad.join(\", \");
    p.style.color = \"#b00\";
    document.body.insertBefore(p, document.body.firstChild);
  }
});
</script>
</body></html>"' "$work/page/report.json" >"$work/page/index.html"

rm -rf "$dest.old"
if [ -d "$dest" ]; then mv "$dest" "$dest.old"; fi
mv "$work/page" "$dest"
rm -rf "$dest.old"
log report all "$(jq '.kernels | length' "$dest/report.json") kernel(s), ${#plots[@]} plot(s): $(shown "$dest/index.html")"
echo "report: $(shown "$dest/index.html")"
