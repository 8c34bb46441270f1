# tests/c.mk - build rules for the C test programs.
#
# Included from the top-level Makefile ("include tests/c.mk").  Produces
#   $(C_OUT)/zc-smoke       from tests/smoke/zc_smoke.c
#   $(C_OUT)/zc-rpc-bench   from tests/bench/zc_rpc_bench.c
#   $(C_OUT)/zc-stress      from tests/stress/zc_stress.c
#   $(C_OUT)/zc-lockcount   from tests/debug/zc_lockcount.c
# as static binaries; all include tests/lib/zc_common.h.  Targets:
# c-build, c-check (build and run zc-smoke), c-clean.  Safe with make -j.
# Including this file does not change the includer's default goal.
#
# Variables (override on the command line or before the include):
#   CC         compiler (gcc)
#   C_OUT      output directory (out/bin), relative to the top directory
#   C_CFLAGS   required flags; CPPFLAGS, CFLAGS and LDFLAGS are appended
#   C_LDFLAGS  link flags (-static -pthread)

# make predefines CC as "cc", so "?=" alone would never pick gcc.
ifeq ($(origin CC),default)
CC := gcc
endif
CC ?= gcc
C_OUT ?= out/bin
C_CFLAGS ?= -std=c11 -Wall -Wextra -Werror -O2 -D_GNU_SOURCE
C_LDFLAGS ?= -static -pthread

# Keep the includer's default goal, whatever the position of the include.
C_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

# Directory of this fragment, relative as given to "include".
C_TESTS_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

C_PROGS := $(C_OUT)/zc-smoke $(C_OUT)/zc-rpc-bench $(C_OUT)/zc-stress \
	$(C_OUT)/zc-lockcount
# Headers every program includes (by a relative path from its source).
C_HEADERS := $(C_TESTS_DIR)/lib/zc_common.h

.PHONY: c-build c-check c-clean

c-build: $(C_PROGS)

# Link to a temporary name first so an interrupted build leaves no binary.
define c_prog_rule
$(C_OUT)/$(1): $(C_TESTS_DIR)/$(2) $(C_HEADERS) $(C_TESTS_DIR)/c.mk
	@mkdir -p $$(@D)
	$$(if $$(Q),@echo "  CC      $$@")
	$$(Q)$$(CC) $$(C_CFLAGS) $$(CPPFLAGS) $$(CFLAGS) -o $$@.tmp $$< $$(C_LDFLAGS) $$(LDFLAGS)
	$$(Q)mv -f $$@.tmp $$@
endef

$(eval $(call c_prog_rule,zc-smoke,smoke/zc_smoke.c))
$(eval $(call c_prog_rule,zc-rpc-bench,bench/zc_rpc_bench.c))
$(eval $(call c_prog_rule,zc-stress,stress/zc_stress.c))
$(eval $(call c_prog_rule,zc-lockcount,debug/zc_lockcount.c))

# The top Makefile's c-bins (what tests and quick-smoke need) includes these too.
c-bins: $(C_OUT)/zc-stress $(C_OUT)/zc-lockcount

c-check: $(C_OUT)/zc-smoke
	$(C_OUT)/zc-smoke

c-clean:
	rm -f $(C_PROGS) $(addsuffix .tmp,$(C_PROGS))

.DEFAULT_GOAL := $(C_SAVED_DEFAULT_GOAL)
