# mk/repo.mk - the promotion gate, the signing key and the signed APT/YUM
# repositories. Included from the top Makefile ("include mk/repo.mk"), which
# defines SCRIPTS, Q, KERNELS and OUT. The targets only read what the stages
# before them wrote under $(OUT); promote.sh takes a lock of its own, so
# `make -j` (or two makes at once) cannot interleave two publications.
#
#   make gate                      $(OUT)/gate.json + gate-junit.xml for KERNELS
#   make promote CHANNEL=testing   publish what the gate passed (then CHANNEL=stable)
#   make keys                      the project signing key in $(OUT)/keys
# Variables: CHANNEL (lab|testing|stable), SIGNING_KEY (a key id in your
# GNUPGHOME; empty: the project key), REPO_URL (the base URL hosts use),
# ALLOW_STALE=1 (stable: take a kernel behind its line's newest release; recorded).
# Values reach the scripts as single-quoted words ($(call shq,...)): a quote
# in CHANNEL is a "bad channel", not a shell syntax error.

# The channel the pipeline promotes to: what PROFILE's CHANNELS= allows
# (packaging/configs/<profile>.profile): a test profile (CHANNELS=lab) goes to
# `lab`, a fleet profile (CHANNELS=fleet) to `testing`.
PROFILE_CHANNELS := $(shell sed -n 's/^CHANNELS=//p' packaging/configs/$(PROFILE).profile 2>/dev/null)
PIPELINE_CHANNEL := $(if $(filter fleet,$(PROFILE_CHANNELS)),testing,lab)
CHANNEL ?= $(PIPELINE_CHANNEL)
SIGNING_KEY ?=
REPO_URL ?= file://$(OUT)/repo
ALLOW_STALE ?= 0

.PHONY: gate promote keys help-repo

gate:
	$(Q)"$(SCRIPTS)"/gate.sh $(foreach k,$(KERNELS),$(call shq,$(k)))

promote:
	$(Q)SIGNING_KEY=$(call shq,$(SIGNING_KEY)) REPO_URL=$(call shq,$(REPO_URL)) ALLOW_STALE=$(call shq,$(ALLOW_STALE)) \
		"$(SCRIPTS)"/promote.sh $(call shq,$(CHANNEL))

keys:
	$(Q)SIGNING_KEY=$(call shq,$(SIGNING_KEY)) "$(SCRIPTS)"/keys.sh

help-repo:
	@echo 'Gate and repositories'
	@echo '  gate                 one verdict per kernel from out/results: out/gate.json, out/gate-junit.xml'
	@echo '  promote              publish what the gate passed, signed: out/repo/apt, out/repo/yum/<channel>'
	@echo '                       (CHANNEL=lab|testing|stable, default $(PIPELINE_CHANNEL) for PROFILE=$(PROFILE);'
	@echo '                       test profiles go to lab only; stable refuses a kernel behind its line'"'"'s newest'
	@echo '                       release unless ALLOW_STALE=1; SIGNING_KEY=<gpg key id>, REPO_URL=<base URL>)'
	@echo '  keys                 make the project signing key (out/keys) when no SIGNING_KEY is used'
