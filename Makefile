# zc-kernel: backport, build, package, boot-test, promote and roll out the
# TCP receive zerocopy "short-circuit small reads" fix on LTS kernels.
# `make help` lists the targets. Every stage is a script in scripts/; this
# file only wires them together, per kernel, so `make -j` is safe.

KERNELS ?= 5.10 6.1 6.12
# Only an unset KERNEL means every line of KERNELS: `KERNEL=$$UNSET` (empty)
# is a mistake, never "all kernels".
ifneq ($(origin KERNEL),undefined)
ifeq ($(strip $(KERNEL)),)
$(error KERNEL= is empty: give one kernel line (KERNEL=5.10), or leave KERNEL unset for all of KERNELS="$(KERNELS)")
endif
KERNELS := $(KERNEL)
endif
ifeq ($(strip $(KERNELS)),)
$(error KERNELS= is empty: give at least one kernel line (KERNELS="5.10 6.1"))
endif
PROFILE ?= smoke
# A profile is a file packaging/configs/<name>.profile: a misspelt one is
# refused here, before a stage downloads or unpacks anything for it.
ifeq ($(wildcard $(CURDIR)/packaging/configs/$(PROFILE).profile),)
$(error PROFILE=$(PROFILE): unknown profile, no packaging/configs/$(PROFILE).profile (profiles: $(patsubst %.profile,%,$(notdir $(wildcard $(CURDIR)/packaging/configs/*.profile)))))
endif
V ?= 0
ifeq ($(filter 0 1,$(V)),)
$(error V=$(V): use V=0 (quiet, the default) or V=1 (show every command))
endif

# OUT is removed by `make clean` and written by every stage: refuse what
# would hit the wrong directory. Whitespace cannot be used (make splits
# target names at spaces); the path is made absolute.
OUT ?= $(CURDIR)/out
ifeq ($(strip $(OUT)),)
$(error OUT= is empty: it must name the output directory (default $(CURDIR)/out))
endif
ifneq ($(words $(OUT)),1)
$(error OUT='$(OUT)' contains whitespace, which make cannot handle in file names: choose another directory)
endif
override OUT := $(abspath $(OUT))
ifneq ($(filter / $(abspath $(HOME)) $(CURDIR) $(abspath $(CURDIR)/..),$(OUT)),)
$(error OUT=$(OUT) is /, $$HOME, the project or its parent: `make clean` would remove it. Use a directory of its own, like $(CURDIR)/out)
endif
ifeq ($(words $(subst /, ,$(OUT))),1)
$(error OUT=$(OUT) is a directory right under /: `make clean` would remove it. Use a directory of its own, like $(CURDIR)/out)
endif
export OUT V PROFILE

ifeq ($(V),1)
Q :=
else
Q := @
endif

# $(call shq,TEXT): TEXT as one single-quoted shell word, whatever it holds.
shq = '$(subst ','\'',$(1))'

SCRIPTS := $(CURDIR)/scripts
C_OUT := $(OUT)/bin
include tests/c.mk
include mk/image.mk
include mk/repo.mk
include mk/rollout.mk
include mk/refresh.mk
include mk/abi.mk
include mk/mutants.mk

.DEFAULT_GOAL := all
.PHONY: all pipeline help deps c-bins source patch patch-check kernel deb rpm tools-pkg repro-check \
	smoke-host bench-host quick-smoke check test lint summary clean distclean mutants

# The main job, for every kernel in KERNELS: fetch, backport, build, package,
# image, boot and smoke, gate, promote to the local repository (`lab` for a
# test profile such as the default smoke, `testing` for cloud and distro).
# The summary table is printed whatever happened; the exit code is the job's.
all: deps
	$(Q)rc=0; $(MAKE) --no-print-directory pipeline || rc=$$?; \
	"$(SCRIPTS)"/summary.sh $(KERNELS) || true; exit $$rc

# A fleet profile (cloud, distro) is ABI-checked against Debian's build and
# goes to `testing`; a test profile (smoke, debug) only ever to `lab`.
PROFILE_CHANNELS = $(shell sed -n 's/^CHANNELS=//p' packaging/configs/$(PROFILE).profile 2>/dev/null)
FIRST_CHANNEL = $(if $(filter fleet,$(PROFILE_CHANNELS)),testing,lab)
# The gate decides: a failing ABI report or smoke (the control's, say) still
# goes to the gate, which records why and refuses; nothing is promoted then.
pipeline:
	$(Q)$(MAKE) --no-print-directory deb rpm
	$(Q)rc=0; \
	$(if $(filter fleet,$(PROFILE_CHANNELS)),$(MAKE) --no-print-directory abi || rc=1;) \
	$(MAKE) --no-print-directory smoke || rc=1; \
	$(MAKE) --no-print-directory gate || exit 1; \
	[ $$rc = 0 ] || { echo "pipeline: the gate passed, but an earlier stage failed: nothing is promoted" >&2; exit 1; }
	$(Q)$(MAKE) --no-print-directory promote CHANNEL=$(FIRST_CHANNEL)

help:
	@echo 'zc-kernel: the TCP zerocopy short-circuit fix on LTS kernels'
	@echo
	@echo 'Main commands'
	@echo '  make                 fetch, backport, build, package, image, smoke, gate, promote'
	@echo '                       (PROFILE=smoke: to the lab channel; PROFILE=cloud|distro: ABI check, to testing)'
	@echo '                       for every kernel, then a summary table'
	@echo '  make check           the project test suite (ends with "N passed, N failed")'
	@echo
	@echo 'Stages (each for every kernel in KERNELS, or one with KERNEL=<lts>)'
	@echo '  deps                 install what is missing from Debian bookworm'
	@echo '  source               download the pinned Debian source, verify, unpack to out/src/<lts>'
	@echo '  patch                apply patches/<lts>/series to out/patched/<lts>, prove the fix'
	@echo '  patch-check          compile net/ipv4/ pristine and patched (W=1): no new warning'
	@echo '  kernel               build with PROFILE (smoke|cloud|distro) once, stage image/modules/headers'
	@echo '                       (CONFIG_ONLY=1: configure and check the profile only)'
	@echo '  deb                  linux-image-<KREL>, linux-headers-<KREL> (+ zc-smoke), lintian-clean'
	@echo '  selftests-pkg        zc-selftests-<lts>: tcp_mmap, msg_zerocopy, tcp_inq of the line'"'"'s own tree'
	@echo '  rpm                  kernel-zc, kernel-zc-devel (+ zc-smoke), rpmlint-clean'
	@echo '  repro-check          rebuild from scratch and compare the packages byte for byte'
	@echo
	@echo 'Smoke test and benchmark'
	@echo '  smoke-host           build zc-smoke and run it on this machine'"'"'s kernel'
	@echo '  bench-host           zc-rpc-bench --suite ab on this machine'"'"'s kernel: 10 interleaved runs'
	@echo '                       per configuration, medians with 95% intervals (BENCH_REPEAT=10)'
	@echo '  quick-smoke          tiny kernel + busybox initramfs in qemu, zc-smoke inside'
	@echo '                       (TREE=patched|pristine, KERNEL=<lts>)'
	@echo
	@$(MAKE) -s --no-print-directory help-image
	@echo
	@$(MAKE) -s --no-print-directory help-repo
	@echo
	@$(MAKE) -s --no-print-directory help-rollout
	@echo
	@$(MAKE) -s --no-print-directory help-refresh
	@echo
	@$(MAKE) -s --no-print-directory help-abi
	@echo
	@echo 'Other'
	@echo '  summary              the table of the last results, one row per kernel'
	@echo '  report               the results page: out/report/index.html (plots, verdicts, gate)'
	@echo '  lint                 shellcheck every script'
	@$(MAKE) -s --no-print-directory help-mutants
	@echo '  clean                remove out/ (downloads stay cached in $$CACHE_DIR)'
	@echo '  distclean            clean, and drop the download cache'
	@echo
	@echo 'Variables'
	@echo '  KERNELS="$(KERNELS)"  KERNEL=<lts>  PROFILE=$(PROFILE)  V=1 (show commands)'
	@echo '  OUT=out  CACHE_DIR=$${XDG_CACHE_HOME:-~/.cache}/zc-kernel  TESTS=<regex> (check)'

deps:
	$(Q)"$(SCRIPTS)"/deps.sh

source: $(addprefix source-,$(KERNELS))
source-%:
	$(Q)"$(SCRIPTS)"/source.sh $*

patch: $(addprefix patch-,$(KERNELS))
patch-%: source-%
	$(Q)"$(SCRIPTS)"/patch.sh $*

patch-check: $(addprefix patch-check-,$(KERNELS))
patch-check-%: patch-%
	$(Q)"$(SCRIPTS)"/quick-kernel.sh $*
	$(Q)sed 's/^/patch-check $*: /' "$(OUT)/build/quick/$*/patch-check.txt" | cut -c1-160

kernel: $(addprefix kernel-,$(KERNELS))
kernel-%: patch-%
	$(Q)"$(SCRIPTS)"/kernel.sh $*

tools-pkg: $(C_OUT)/zc-smoke
	$(Q)"$(SCRIPTS)"/package-tools.sh

deb: $(addprefix deb-,$(KERNELS))
deb-%: kernel-% tools-pkg
	$(Q)"$(SCRIPTS)"/package-deb.sh $*

# zc-selftests-<lts>: the line's own net selftests, one package for every profile
selftests-pkg: $(addprefix selftests-pkg-,$(KERNELS))
selftests-pkg-%: patch-%
	$(Q)"$(SCRIPTS)"/package-selftests.sh $*

rpm: $(addprefix rpm-,$(KERNELS))
rpm-%: kernel-% tools-pkg
	$(Q)"$(SCRIPTS)"/package-rpm.sh $*

repro-check: $(addprefix repro-check-,$(KERNELS))
repro-check-%: patch-%
	$(Q)"$(SCRIPTS)"/repro-check.sh $*

smoke-host: $(C_OUT)/zc-smoke
	$(Q)mkdir -p "$(OUT)/results/host"
	$(Q)"$(C_OUT)/zc-smoke" --json "$(OUT)/results/host/smoke.json" | tee "$(OUT)/results/host/smoke.tap"
	$(Q)jq -e '.summary.fail == 0' "$(OUT)/results/host/smoke.json" >/dev/null
	@echo "smoke-host: pass ($(OUT)/results/host/smoke.{tap,json})"

# BENCH_REPEAT=10 BENCH_WARMUP=1 BENCH_DURATION=0.5 (scripts/bench.sh)
bench-host: $(C_OUT)/zc-rpc-bench
	$(Q)"$(SCRIPTS)"/bench.sh host

# The results page from the JSON the pipeline wrote: $(OUT)/report/index.html
.PHONY: report
report:
	$(Q)"$(SCRIPTS)"/report.sh

TREE ?= patched
quick-smoke: $(C_OUT)/zc-smoke $(C_OUT)/zc-stress $(addprefix quick-smoke-,$(KERNELS))
quick-smoke-%: patch-% $(C_OUT)/zc-smoke $(C_OUT)/zc-stress
	$(Q)"$(SCRIPTS)"/quick-smoke.sh $* $(call shq,$(TREE))

c-bins: $(C_OUT)/zc-smoke $(C_OUT)/zc-rpc-bench

check: deps
	$(Q)$(MAKE) --no-print-directory c-bins
	$(Q)tests/run.sh

test: check

lint:
	$(Q)shellcheck -x -S warning scripts/*.sh tests/run.sh tests/*/*.sh tests/mutants/run.sh .ci/run images/*.sh \
		rollout/roles/*/files/zc-* tests/lib/fakehost/bin/fake
	$(Q)if command -v ansible-lint >/dev/null; then cd rollout && ansible-lint -q; fi

summary:
	$(Q)"$(SCRIPTS)"/summary.sh $(KERNELS)

clean:
	rm -rf -- "$(OUT)"

distclean: clean
	rm -rf "$${CACHE_DIR:-$${XDG_CACHE_HOME:-$$HOME/.cache}/zc-kernel}"
