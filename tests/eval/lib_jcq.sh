# tests/eval/lib_jcq.sh - shell helpers of the jcq-regress tests: a graph
# whose jcq-regress node compares two models given as YAML flow maps.

# jcq_graph FILE BASELINE CANDIDATE PARAMS [INPUTS]: FILE gets a graph with one
# node `jcq` on the shipped questions; BASELINE and CANDIDATE are the models
# entries, PARAMS more params ("" for none), INPUTS more input lines.
jcq_graph() {
    cat > "$1" <<YAML
nodes:
  jcq:
    type: jcq-regress
    in:
      questions: {file: examples/jcommonsenseqa/valid.jsonl}
${5:-}
    params:
      models:
        - $2
        - $3
      $4
YAML
}

# predictions_from REF.json OUT.jsonl: the reference's stored replies as a
# predictions file matched by index (five questions of valid v1.1 begin with
# a space that the reference's copy had stripped, so questions would not match).
predictions_from() {
    python3 - "$1" "$2" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))["results"]
with open(sys.argv[2], "w") as f:
    for i, r in enumerate(rows):
        f.write(json.dumps({"index": i, "response": r["response"]}, ensure_ascii=False) + "\n")
PY
}

# report_field REF PATH: one field (a.b, models.1.correct) of a report, as JSON.
report_field() {
    "$IKADA" cache export "$1" -o - --format json > report.json || fail "cache export $1"
    python3 -c 'import json, sys
v = json.load(open("report.json"))
for k in sys.argv[1].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(json.dumps(v))' "$2"
}
