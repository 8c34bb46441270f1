# file: scripts/promote.sh
# tests: integration/test_promote\.sh:test_promote_test_profile_goes_to_lab_only$
# Kernels of test profiles are let into testing and stable.
s/select(.channels != "fleet")/select(false)/
