# file: scripts/promote.sh
# tests: integration/test_promote\.sh:test_promote_stable_refuses_stale_kernel_unless_allowed$
# The project key's gpg-agent is not stopped at exit.
s/^zc_on_exit stop_project_agent$/: zc_on_exit stop_project_agent/
