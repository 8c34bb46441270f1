# shellcheck shell=bash
# The CI pipeline definitions (.github/workflows/kernels.yml, .gitlab-ci.yml):
# valid YAML, one matrix job per kernel line running the same make targets as
# a developer, artifacts with the results and JUnit, and a final gate/promote
# job that needs every matrix job. Linted with yamllint when it is installed.

# Targets the pipelines may call: the top Makefile's, mk/repo.mk's, and the
# build/package/image/smoke stages (which may not be merged yet).
CI_KNOWN_TARGETS="deps kernel deb rpm image smoke gate promote keys check c-bins source patch lint outdated refresh report abi"
CI_KERNELS='["5.10", "6.1", "6.12"]'

ci_python() {
	local p
	for p in /usr/bin/python3 python3; do
		if command -v "$p" >/dev/null && "$p" -c 'import yaml' 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	fail "no python3 with the yaml module (make deps installs python3-yaml)"
}

# ci_check KIND FILE: structural checks in python; prints what is wrong.
ci_check() {
	local py
	py=$(ci_python)
	"$py" - "$1" "$2" "$CI_KNOWN_TARGETS" "$CI_KERNELS" <<-'EOF'
		import json, re, sys, yaml
		kind, path, known, kernels = sys.argv[1], sys.argv[2], set(sys.argv[3].split()), json.loads(sys.argv[4])
		doc = yaml.safe_load(open(path))
		errors = []
		def err(m): errors.append(m)

		def make_targets(script):
		    """(targets, variables) of every `make ...` line of a script."""
		    out = []
		    for line in script.splitlines():
		        line = re.sub(r'\$\{\{.*?\}\}', 'EXPR', line)
		        for m in re.finditer(r'(?:^|[;&|]\s*)make\s+([^;&|#]*)', line.strip()):
		            words = m.group(1).split()
		            out.append([w for w in words if '=' not in w and not w.startswith('-')])
		    return out

		def check_targets(script, where):
		    for t in make_targets(script):
		        for w in t:
		            if w not in known:
		                err(f"{where}: `make {w}` is not a known target ({' '.join(sorted(known))})")

		if kind == "github":
		    on = doc.get("on", doc.get(True))
		    if not on: err("no `on:` triggers")
		    jobs = doc.get("jobs") or {}
		    matrix_jobs = [n for n, j in jobs.items() if "kernel" in ((j.get("strategy") or {}).get("matrix") or {})]
		    def jruns(n): return "\n".join(s.get("run", "") for s in jobs[n].get("steps", []))
		    cloud_jobs = [n for n in matrix_jobs if "PROFILE=cloud" in jruns(n)]
		    smoke_jobs = [n for n in matrix_jobs if n not in cloud_jobs]
		    if len(smoke_jobs) != 1: err(f"expected one smoke job with a kernel matrix, found {smoke_jobs}")
		    if len(cloud_jobs) != 1: err(f"expected one cloud-profile job with a kernel matrix (PROFILE=cloud), found {cloud_jobs}")
		    for n in matrix_jobs:
		        j = jobs[n]
		        got = j["strategy"]["matrix"]["kernel"]
		        if got != kernels: err(f"job {n}: matrix kernel is {got!r}, expected {kernels!r} (quoted: 5.10 unquoted is the float 5.1)")
		        runs = jruns(n)
		        for t in ("deps", "kernel", "deb", "rpm", "image", "smoke") + (("abi",) if n in cloud_jobs else ()):
		            if not any(t in tt for tt in make_targets(runs)): err(f"job {n}: no `make {t}`")
		        if "KERNEL=${{ matrix.kernel }}" not in runs: err(f"job {n}: make is not given KERNEL=${{{{ matrix.kernel }}}}")
		        uploads = [s for s in j.get("steps", []) if str(s.get("uses", "")).startswith("actions/upload-artifact")]
		        paths = "\n".join(str((s.get("with") or {}).get("path", "")) for s in uploads)
		        for p in ("out/results/", "out/pkg/") + (("junit",) if n in smoke_jobs else ()):
		            if p not in paths: err(f"job {n}: no artifact with {p}")
		    finals = [n for n, j in jobs.items() if "gate" in "\n".join(s.get("run", "") for s in j.get("steps", []))
		              and n not in matrix_jobs]
		    if not finals: err("no final job running make gate")
		    for n in finals:
		        j = jobs[n]
		        needs = j.get("needs", [])
		        needs = [needs] if isinstance(needs, str) else needs
		        for m in matrix_jobs:
		            if m not in needs: err(f"job {n}: does not need the matrix job {m}")
		        runs = "\n".join(s.get("run", "") for s in j.get("steps", []))
		        if not re.search(r"make gate\b", runs): err(f"job {n}: no make gate")
		        if not re.search(r"make promote CHANNEL=testing PROFILE=cloud", runs): err(f"job {n}: no make promote CHANNEL=testing PROFILE=cloud (testing takes the fleet profiles only)")
		        if re.search(r"make promote CHANNEL=(testing|stable)(?! PROFILE=(cloud|distro))", runs): err(f"job {n}: a test-profile kernel promoted to a fleet channel")
		        if runs.index("make gate") > runs.index("make promote"): err(f"job {n}: promote before gate")
		        dl = [s for s in j.get("steps", []) if str(s.get("uses", "")).startswith("actions/download-artifact")]
		        if not dl: err(f"job {n}: downloads no artifacts")
		        up = "\n".join(str((s.get("with") or {}).get("path", "")) for s in j.get("steps", [])
		                       if str(s.get("uses", "")).startswith("actions/upload-artifact"))
		        for p in ("out/gate.json", "out/gate-junit.xml", "out/report/"):
		            if p not in up: err(f"job {n}: {p} is not uploaded")
		        if not re.search(r"make report\b", runs): err(f"job {n}: no make report (the results page)")
		        summ = "\n".join(s.get("run", "") + str(s.get("env", "")) for s in j.get("steps", []))
		        if "GITHUB_STEP_SUMMARY" not in summ or "artifact-url" not in summ:
		            err(f"job {n}: the job summary does not link the uploaded results page (artifact-url)")
		    if not any("make check" in "\n".join(s.get("run", "") for s in j.get("steps", [])) for j in jobs.values()):
		        err("no job runs make check")
		    for n, j in jobs.items():
		        if "runs-on" not in j: err(f"job {n}: no runs-on")
		        for s in j.get("steps", []):
		            if "uses" in s and not re.search(r"@v?\d", s["uses"]): err(f"job {n}: action {s['uses']} is not pinned to a version")
		            check_targets(s.get("run", ""), f"job {n}")

		elif kind == "gitlab":
		    stages = doc.get("stages") or []
		    jobs = {n: j for n, j in doc.items() if isinstance(j, dict) and "script" in j}
		    def script(j):
		        s = []
		        for k in ("before_script", "script", "after_script"):
		            v = j.get(k) or (doc.get("default") or {}).get(k) if k == "before_script" else j.get(k)
		            s += v if isinstance(v, list) else ([v] if v else [])
		        return "\n".join(s)
		    matrix_jobs = []
		    for n, j in jobs.items():
		        if j.get("stage") not in stages: err(f"job {n}: stage {j.get('stage')!r} is not in stages {stages}")
		        m = (j.get("parallel") or {}).get("matrix") if isinstance(j.get("parallel"), dict) else None
		        if m:
		            matrix_jobs.append(n)
		            got = [k for entry in m for k in entry.get("KERNEL", [])]
		            if got != kernels: err(f"job {n}: matrix KERNEL is {got!r}, expected {kernels!r}")
		        check_targets(script(j), f"job {n}")
		    cloud_jobs = [n for n in matrix_jobs if "PROFILE=cloud" in script(jobs[n])]
		    if len([n for n in matrix_jobs if n not in cloud_jobs]) != 1: err(f"expected one smoke parallel:matrix job, found {matrix_jobs}")
		    if len(cloud_jobs) != 1: err(f"expected one cloud-profile parallel:matrix job (PROFILE=cloud), found {cloud_jobs}")
		    for n in matrix_jobs:
		        j = jobs[n]
		        s = script(j)
		        for t in ("deps", "kernel", "deb", "rpm", "image", "smoke") + (("abi",) if n in cloud_jobs else ()):
		            if not any(t in tt for tt in make_targets(s)): err(f"job {n}: no `make {t}`")
		        if "KERNEL=$KERNEL" not in s: err(f"job {n}: make is not given KERNEL=$KERNEL")
		        a = j.get("artifacts") or {}
		        paths = "\n".join(a.get("paths", []))
		        for p in ("out/results/", "out/pkg/"):
		            if p not in paths: err(f"job {n}: no artifact path {p}")
		        if not (a.get("reports") or {}).get("junit"): err(f"job {n}: no artifacts:reports:junit")
		        if a.get("when") != "always": err(f"job {n}: artifacts are not kept when the job fails (when: always)")
		    finals = [n for n, j in jobs.items() if re.search(r"make gate\s*$", script(j), re.M) and n not in matrix_jobs]
		    if not finals: err("no final job running make gate")
		    for n in finals:
		        j = jobs[n]
		        needs = [x if isinstance(x, str) else x.get("job") for x in (j.get("needs") or [])]
		        for m in matrix_jobs:
		            if m not in needs: err(f"job {n}: does not need the matrix job {m}")
		        if any(stages.index(j["stage"]) <= stages.index(jobs[m]["stage"]) for m in matrix_jobs):
		            err(f"job {n}: its stage does not come after the matrix job's")
		        s = script(j)
		        if "make promote CHANNEL=testing PROFILE=cloud" not in s: err(f"job {n}: no make promote CHANNEL=testing PROFILE=cloud (testing takes the fleet profiles only)")
		        a = j.get("artifacts") or {}
		        if (a.get("reports") or {}).get("junit") != "out/gate-junit.xml": err(f"job {n}: gate JUnit not reported")
		        if "out/gate.json" not in a.get("paths", []): err(f"job {n}: out/gate.json is not an artifact")
		        if "out/report/" not in a.get("paths", []) or not a.get("expose_as"): err(f"job {n}: the results page out/report/ is not an exposed artifact")
		        if not re.search(r"make report\b", "\n".join(j.get("after_script") or [])): err(f"job {n}: no make report in after_script (the page whatever the gate said)")
		    if not any("make check" in script(j) for j in jobs.values()): err("no job runs make check")

		for e in errors: print(e)
		sys.exit(1 if errors else 0)
	EOF
}

test_ci_github_workflow_structure() {
	local f=.github/workflows/kernels.yml
	[ -f "$f" ] || fail "$f missing"
	out=$(ci_check github "$f" 2>&1) || fail "$f: $out"
}

test_ci_gitlab_structure() {
	local f=.gitlab-ci.yml
	[ -f "$f" ] || fail "$f missing"
	out=$(ci_check gitlab "$f" 2>&1) || fail "$f: $out"
}

# The checks can fail: a matrix with the unquoted float 5.10, and a final job
# that does not need the matrix, are caught.
test_ci_checks_catch_mistakes() {
	local d
	d=$(mktemp -d)
	# shellcheck disable=SC2064
	trap "rm -rf '$d'" EXIT
	sed 's/kernel: \["5.10", "6.1", "6.12"\]/kernel: [5.10, 6.1, 6.12]/' .github/workflows/kernels.yml >"$d/gh.yml"
	run_rc rc ci_check github "$d/gh.yml"
	assert_eq 1 "$rc" "check of a float matrix"
	assert_contains "$out" "matrix kernel is [5.1, 6.1, 6.12]"
	sed 's/^    needs: \[kernel, cloud\]$/    needs: [cloud]/' .github/workflows/kernels.yml >"$d/gh2.yml"
	run_rc rc ci_check github "$d/gh2.yml"
	assert_eq 1 "$rc" "check of a final job without needs"
	assert_contains "$out" "does not need the matrix job kernel"
	sed 's/make gate$/make gates/; s/junit: out\/gate-junit.xml/junit: out\/other.xml/' .gitlab-ci.yml >"$d/gl.yml"
	run_rc rc ci_check gitlab "$d/gl.yml"
	assert_eq 1 "$rc" "check of a broken gitlab file"
	assert_contains "$out" "make gates"
	sed 's/^      artifacts: true$/      artifacts: true\n    - job: check/; s/^    - job: kernel$/    - job: other/' .gitlab-ci.yml >"$d/gl2.yml"
	run_rc rc ci_check gitlab "$d/gl2.yml"
	assert_eq 1 "$rc" "check of a gitlab gate without needs"
	assert_contains "$out" "does not need the matrix job kernel"
}

test_ci_yamllint() {
	command -v yamllint >/dev/null || skip "yamllint is not installed (apt-get install yamllint); the YAML is still parsed by the structure tests"
	yamllint -s -d '{extends: default, rules: {line-length: {max: 160}, document-start: disable, truthy: {check-keys: false}}}' \
		.github/workflows/kernels.yml .github/workflows/refresh.yml .gitlab-ci.yml
}

test_ci_actionlint() {
	command -v actionlint >/dev/null || skip "actionlint is not packaged in Debian bookworm; the workflow is checked by the structure test and yamllint"
	actionlint .github/workflows/kernels.yml
}

# The scheduled refresh: weekly `make outdated`, `make refresh` of the lines
# behind, the pipeline up to the gate, and a pull/merge request with the new
# pins, through each CI system's own mechanism.
ci_refresh_check() {
	local py
	py=$(ci_python)
	"$py" - "$1" "$2" <<-'EOF'
		import re, sys, yaml
		kind, path = sys.argv[1], sys.argv[2]
		doc = yaml.safe_load(open(path))
		errors = []
		def err(m): errors.append(m)
		def order(script, words):
		    pos = []
		    for w in words:
		        m = re.search(w, script)
		        if not m: err(f"no `{w}`"); return
		        pos.append(m.start())
		    if pos != sorted(pos): err(f"steps out of order: {words}")
		if kind == "github":
		    on = doc.get("on", doc.get(True)) or {}
		    crons = [c.get("cron") for c in (on.get("schedule") or [])]
		    if not crons or not all(crons): err("no schedule: cron trigger")
		    perms = doc.get("permissions") or {}
		    for p in ("contents", "pull-requests"):
		        if perms.get(p) != "write": err(f"permissions: {p} is not write")
		    for n, j in (doc.get("jobs") or {}).items():
		        steps = j.get("steps", [])
		        runs = "\n".join(s.get("run", "") for s in steps)
		        order(runs, [r"make outdated", r"make refresh", r"make kernel deb rpm image smoke gate"])
		        pr = [s for s in steps if str(s.get("uses", "")).startswith("peter-evans/create-pull-request@")]
		        if not pr: err(f"job {n}: no pull request step")
		        for s in pr:
		            paths = str((s.get("with") or {}).get("add-paths", ""))
		            if "source.conf" not in paths: err(f"job {n}: the pull request does not carry source.conf")
		            if "steps.outdated.outputs.behind" not in str(s.get("if", "")): err(f"job {n}: the pull request step runs when nothing is behind")
		        if "promote" in runs: err(f"job {n}: a refresh must not promote")
		elif kind == "gitlab":
		    j = doc.get("refresh") or {}
		    if not j: err("no refresh job")
		    rules = " ".join(str(r.get("if", "")) for r in j.get("rules", []))
		    if '$CI_PIPELINE_SOURCE == "schedule"' not in rules: err("refresh does not run on the schedule")
		    script = "\n".join(j.get("script", []))
		    order(script, [r"make outdated", r"make refresh", r"make kernel deb rpm image smoke gate", r"merge_request\.create"])
		    if "promote" in script: err("a refresh must not promote")
		    for n, job in doc.items():
		        if n == "refresh" or not isinstance(job, dict) or "script" not in job: continue
		        r = " ".join(str(x.get("if", "")) for x in job.get("rules", []))
		        if '!= "schedule"' not in r: err(f"job {n} also runs on the refresh schedule")
		for e in errors: print(e)
		sys.exit(1 if errors else 0)
	EOF
}

test_ci_refresh_schedule() {
	out=$(ci_refresh_check github .github/workflows/refresh.yml 2>&1) || fail ".github/workflows/refresh.yml: $out"
	out=$(ci_refresh_check gitlab .gitlab-ci.yml 2>&1) || fail ".gitlab-ci.yml: $out"
	# and the check can fail: a refresh that promotes, a PR step without a condition
	local d
	d=$(mktemp -d)
	# shellcheck disable=SC2064
	trap "rm -rf '$d'" EXIT
	sed 's/^        if: steps.outdated.outputs.behind != .. *$/        if: always()/' .github/workflows/refresh.yml >"$d/r.yml"
	run_rc rc ci_refresh_check github "$d/r.yml"
	assert_eq 1 "$rc" "check of a PR step that always runs"
	assert_contains "$out" "runs when nothing is behind"
	sed 's/^    - make refresh KERNELS="$behind"$/    - make refresh KERNELS="$behind"\n    - make promote CHANNEL=stable/' .gitlab-ci.yml >"$d/g.yml"
	run_rc rc ci_refresh_check gitlab "$d/g.yml"
	assert_eq 1 "$rc" "check of a refresh that promotes"
	assert_contains "$out" "must not promote"
}
