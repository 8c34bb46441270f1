# mk/mutants.mk - the mutation check. Included from the top Makefile, which
# defines Q and OUT.
#
#   make mutants                  every tests/mutants/*.sed must be killed
#   make mutants MUTANTS="a b"    only those
# Each mutant is a named sed script breaking one script on purpose (allowing
# fuzz, skipping a sha256 comparison, not requiring a check in the gate, ...);
# it is applied to a scratch copy and the tests its header names must fail
# there. About 10-15 minutes on 2 cores: part of the longer suite, not of
# `make check`.

MUTANTS ?=

.PHONY: mutants help-mutants

mutants:
	$(Q)tests/mutants/run.sh $(foreach m,$(MUTANTS),$(call shq,$(m)))

help-mutants:
	@echo '  mutants              the mutation check: each tests/mutants/*.sed applied to a scratch copy'
	@echo '                       must make the tests it names fail (MUTANTS="<name>...")'
