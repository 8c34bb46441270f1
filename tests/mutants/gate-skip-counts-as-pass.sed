# file: scripts/gate.sh
# tests: unit/test_gate\.sh:test_gate_fails_on_failing_check$
# Any verdict but "fail" passes (a skip would).
s/pass: (.verdict == "pass"),/pass: (.verdict != "fail"),/
