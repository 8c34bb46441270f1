# file: scripts/gate.sh
# tests: unit/test_gate\.sh:test_gate_wrong_shape_json_writes_both_files$
# Any valid JSON is taken, whatever its shape.
s/jq -e "\$(shape "\$1")" "\$1"/jq -e . "$1"/
