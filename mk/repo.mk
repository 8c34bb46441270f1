# mk/repo.mk - the promotion gate, the signing key and the signed APT/YUM
# repositories. Included from the top Makefile ("include mk/repo.mk"), which
# defines SCRIPTS, Q, KERNELS and OUT. The targets only read what the stages
# before them wrote under $(OUT); promote.sh takes a lock of its own, so
# `make -j` (or two makes at once) cannot interleave two publications.
#
#   make gate                      $(OUT)/gate.json + gate-junit.xml for KERNELS
#   make promote CHANNEL=testing   publish what the gate passed (then CHANNEL=stable)
#   make keys                      the project signing key in $(OUT)/keys
# Variables: CHANNEL (testing|stable), SIGNING_KEY (a key id in your
# GNUPGHOME; empty: the project key), REPO_URL (the base URL hosts use).

CHANNEL ?= testing
SIGNING_KEY ?=
REPO_URL ?= file://$(OUT)/repo

.PHONY: gate promote keys help-repo

gate:
	$(Q)$(SCRIPTS)/gate.sh $(KERNELS)

promote:
	$(Q)SIGNING_KEY='$(SIGNING_KEY)' REPO_URL='$(REPO_URL)' $(SCRIPTS)/promote.sh '$(CHANNEL)'

keys:
	$(Q)SIGNING_KEY='$(SIGNING_KEY)' $(SCRIPTS)/keys.sh

help-repo:
	@echo 'Gate and repositories'
	@echo '  gate                 one verdict per kernel from out/results: out/gate.json, out/gate-junit.xml'
	@echo '  promote              publish what the gate passed, signed: out/repo/apt, out/repo/yum/<channel>'
	@echo '                       (CHANNEL=testing|stable, SIGNING_KEY=<gpg key id>, REPO_URL=<base URL>)'
	@echo '  keys                 make the project signing key (out/keys) when no SIGNING_KEY is used'
