# file: scripts/lib.sh
# tests: unit/test_faults\.sh:test_faults_exit_handlers_compose$
# A later handler replaces the exit trap, as before issue 13.
s/^zc_on_exit() { _zc_exit_handlers+=("\$1"); _zc_trap_install; }$/zc_on_exit() { trap "$1" EXIT; }/
