# Reads are hash-checked: a flipped byte in an object is never fed to a node,
# exported or shown. The reader fails naming the object and the node or REF,
# moves the object to quarantine/, and the next run re-creates it.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

cat > g.yaml <<'YAML'
nodes:
  make:
    type: command
    params: {cmd: "seq 1 20000 > $IKADA_OUT_o", outputs: {o: numbers.txt}}
  count:
    type: command
    in: {x: make.o}
    params: {cmd: "echo counting; wc -l < $IKADA_IN_x > $IKADA_OUT_n", outputs: {n: n.txt}}
YAML

# object_of REF: the hash of the object REF names.
object_of() {
    "$IKADA" cache show "$1" --json | sed -n 's/^  "hash": "\([0-9a-f]*\)",*$/\1/p' | head -n 1
}

# flip HASH: changes one byte of the object in the middle, keeping its size.
flip() {
    local p=.ikada/objects/$(printf %s "$1" | cut -c1-2)/$(printf %s "$1" | cut -c3-)
    [ -f "$p" ] || fail "object $1 not found"
    chmod u+w "$p"
    python3 - "$p" <<'PY'
import sys
p = sys.argv[1]
with open(p, "r+b") as f:
    f.seek(0, 2)
    n = f.tell()
    f.seek(n // 2)
    b = f.read(1)
    f.seek(n // 2)
    f.write(bytes([b[0] ^ 0x01]))
PY
    chmod a-w "$p"
}

run_ik 0 run g.yaml
run_ik 0 cache export count.n -o n1.txt
[ "$(tr -d ' ' < n1.txt)" = 20000 ] || fail "count.n is '$(cat n1.txt)', expected 20000"
made=$(object_of make.o)
[ -n "$made" ] || fail "no hash for make.o"

# 1. A node whose input is corrupt fails clearly instead of computing on it.
flip "$made"
sed -i 's/wc -l < $IKADA_IN_x/cat $IKADA_IN_x | wc -l/' g.yaml
run_ik 1 run g.yaml
contains err "count"
contains err "input 'x'"
contains err "object $made is corrupt"
contains err "quarantine"
[ -f ".ikada/quarantine/$made" ] || fail "the corrupt object was not moved to quarantine/"
[ ! -e ".ikada/objects/$(printf %s "$made" | cut -c1-2)/$(printf %s "$made" | cut -c3-)" ] ||
    fail "the corrupt object is still in objects/"

# The next run re-creates the object (make re-runs) and count gets good bytes.
run_ik 0 run g.yaml
contains err "make: running"
contains err "count: done"
run_ik 0 cache export count.n -o n2.txt
[ "$(tr -d ' ' < n2.txt)" = 20000 ] || fail "after the re-run count.n is '$(cat n2.txt)'"
[ "$(object_of make.o)" = "$made" ] || fail "make.o was re-created with other bytes"
run_ik 0 cache verify

# 2. export of a corrupt object: exit 1, no file written, the object quarantined.
flip "$made"
run_ik 1 cache export make.o -o out.txt
contains err "make.o"
contains err "object $made is corrupt"
[ ! -e out.txt ] || fail "export wrote a file from a corrupt object"
[ -f ".ikada/quarantine/$made" ] || fail "export did not quarantine the corrupt object"
run_ik 0 run g.yaml
contains err "make: running"
contains err "count: cached"
run_ik 0 cache export make.o -o out.txt
[ "$(wc -l < out.txt)" = 20000 ] || fail "the re-created make.o is wrong"

# 3. show of a corrupt object: exit 1 and the message, not a preview.
flip "$made"
run_ik 1 cache show make.o
contains err "object $made is corrupt"
lacks out "producer"
run_ik 0 run g.yaml
contains err "make: running"
run_ik 0 cache show make.o
contains out "producer make.o"

# 4. A corrupt spec object (the node's key) fails the node; a forced re-run re-creates it.
key=$("$IKADA" cache show count --json | sed -n 's/^  "action": "\([0-9a-f]*\)",*$/\1/p')
[ -n "$key" ] || fail "no action key for count"
flip "$key"
run_ik 1 run --force count g.yaml
contains err "spec"
contains err "object $key is corrupt"
run_ik 0 run --force count g.yaml
contains err "count: done"
run_ik 0 cache verify

# 5. A corrupt log: show of the action says so and exits 1; node.log fails.
log=$(object_of count.log)
[ -n "$log" ] || fail "no hash for count.log"
flip "$log"
run_ik 1 cache show count.log
contains err "object $log is corrupt"
run_ik 0 run --force count g.yaml
log=$(object_of count.log)
flip "$log"
run_ik 1 cache show count
contains err "the log of count: object $log is corrupt"
contains out "log      (missing from the cache)"
pass
