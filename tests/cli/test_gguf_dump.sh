#!/bin/sh
# tests/cli/test_gguf_dump.sh - `ikada gguf dump [--json] FILE`: a hand-built
# GGUF with every value type, an abridged array, a nested array, a string
# needing escapes and tensors of known and table-sized types prints exactly the
# listing pinned below (and the same facts as JSON); every kind of damage is
# one error naming the file, exit status 1; usage errors exit 2. The real
# llama.cpp vocabulary ../shared/data/tokenizers/ggml-vocab-llama-spm (when
# present; IKADA_SHARED overrides ../shared) dumps too.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null 2>&1 || { echo "SKIP: $TEST_NAME: no python3"; exit 77; }

python3 - <<'EOF' || fail "could not write the test files"
import struct

def s(x):
    b = x if isinstance(x, bytes) else x.encode()
    return struct.pack('<Q', len(b)) + b

def kv(key, t, payload):
    return s(key) + struct.pack('<I', t) + payload

def gguf(kvs, tensors, data, version=3, align=32):
    out = b'GGUF' + struct.pack('<IQQ', version, len(tensors), len(kvs)) + b''.join(kvs)
    for name, dims, ty, off in tensors:
        out += s(name) + struct.pack('<I', len(dims)) + b''.join(struct.pack('<Q', d) for d in dims)
        out += struct.pack('<IQ', ty, off)
    out += b'\0' * ((align - len(out) % align) % align)
    return out + data

kvs = [
    kv('general.architecture', 8, s('llama')),
    kv('general.type', 8, s('adapter')),
    kv('a.u8', 0, struct.pack('<B', 200)),
    kv('a.i8', 1, struct.pack('<b', -5)),
    kv('a.u16', 2, struct.pack('<H', 65535)),
    kv('a.i16', 3, struct.pack('<h', -300)),
    kv('a.u32', 4, struct.pack('<I', 4000000000)),
    kv('a.i32', 5, struct.pack('<i', -7)),
    kv('adapter.lora.alpha', 6, struct.pack('<f', 16.0)),
    kv('a.bool', 7, b'\1'),
    kv('a.u64', 10, struct.pack('<Q', 2**64 - 1)),
    kv('a.i64', 11, struct.pack('<q', -2**63)),
    kv('a.f64', 12, struct.pack('<d', 0.1)),
    kv('a.nan', 6, struct.pack('<f', float('nan'))),
    kv('a.text', 8, s('line1\n"q"\t\xe3\x81\x82'.encode('latin-1').decode('utf-8').encode() + b'\xff')),
    kv('a.ints', 9, struct.pack('<IQ', 5, 10) + b''.join(struct.pack('<i', i) for i in range(10))),
    kv('a.strs', 9, struct.pack('<IQ', 8, 2) + s('x') + s('yz')),
    kv('a.nested', 9, struct.pack('<IQ', 9, 2) + struct.pack('<IQ', 0, 2) + b'\1\2' + struct.pack('<IQ', 0, 0)),
    kv('a.long', 8, s('a' * 100)),
]
# Tensors: F32 (4, 2) = 32 bytes at 0; F16 (3) = 6 bytes at 32; Q4_K (256, 1) =
# 144 bytes at 64 (sized by the dump's table, not the reader's).
tensors = [('blk.0.attn_q.weight.lora_a', [4, 2], 0, 0), ('t.f16', [3], 1, 32), ('t.q4k', [256, 1], 12, 64)]
data = struct.pack('<8f', *range(8)) + b'\0' * 32 + b'\0' * 144
open('ok.gguf', 'wb').write(gguf(kvs, tensors, data))

small = [kv('general.architecture', 8, s('qwen2'))]
open('badmagic.gguf', 'wb').write(b'GGUX' + gguf(small, [], b'')[4:])
open('v1.gguf', 'wb').write(gguf(small, [], b'', version=1))
full = gguf(small, [], b'')
open('cut.gguf', 'wb').write(full[:40])
open('badtype.gguf', 'wb').write(gguf([kv('k', 13, b'\0' * 8)], [], b''))
open('outside.gguf', 'wb').write(gguf(small, [('w', [4], 0, 32)], b'\0' * 16))
open('unaligned.gguf', 'wb').write(gguf(small, [('w', [4], 0, 8)], b'\0' * 64))
open('q4k-past.gguf', 'wb').write(gguf(small, [('w', [256, 2], 12, 0)], b'\0' * 200))
open('q4k-rows.gguf', 'wb').write(gguf(small, [('w', [100], 12, 0)], b'\0' * 200))
open('empty.gguf', 'wb').write(b'')
EOF

run_ik 0 gguf dump ok.gguf
cat >want <<'EOF'
ok.gguf: GGUF v3, 19 key/value(s), 3 tensor(s), alignment 32, data section at byte 864 of 1072

* 19 key/value(s)
     1: string     |        1 | general.architecture = "llama"
     2: string     |        1 | general.type = "adapter"
     3: u8         |        1 | a.u8 = 200
     4: i8         |        1 | a.i8 = -5
     5: u16        |        1 | a.u16 = 65535
     6: i16        |        1 | a.i16 = -300
     7: u32        |        1 | a.u32 = 4000000000
     8: i32        |        1 | a.i32 = -7
     9: f32        |        1 | adapter.lora.alpha = 16
    10: bool       |        1 | a.bool = true
    11: u64        |        1 | a.u64 = 18446744073709551615
    12: i64        |        1 | a.i64 = -9223372036854775808
    13: f64        |        1 | a.f64 = 0.10000000000000001
    14: f32        |        1 | a.nan = nan
    15: string     |        1 | a.text = "line1\n\"q\"\tあ\xff"
    16: [i32]      |       10 | a.ints = [0, 1, 2, 3, 4, 5, 6, 7, ...]
    17: [string]   |        2 | a.strs = ["x", "yz"]
    18: [array]    |        2 | a.nested = [[1, 2], []]
    19: string     |        1 | a.long = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"... (100 bytes)

* 3 tensor(s)
     1: F32      | 4, 2                     | offset            0 |           32 bytes | blk.0.attn_q.weight.lora_a
     2: F16      | 3                        | offset           32 |            6 bytes | t.f16
     3: Q4_K     | 256, 1                   | offset           64 |          144 bytes | t.q4k
EOF
diff want out >diff.txt || { cat diff.txt >&2; fail "the listing of ok.gguf differs"; }
[ ! -s err ] || fail "a clean dump wrote to stderr: $(cat err)"

run_ik 0 gguf dump --json ok.gguf
python3 - <<'EOF' || fail "the JSON dump of ok.gguf is wrong: $(cat out)"
import json
j = json.load(open('out'))
assert (j['version'], j['n_kv'], j['n_tensors'], j['alignment'], j['data_offset'], j['size']) == (3, 19, 3, 32, 864, 1072), j
kv = {e['key']: e for e in j['kv']}
assert [e['key'] for e in j['kv']][:3] == ['general.architecture', 'general.type', 'a.u8']
assert kv['adapter.lora.alpha'] == {'key': 'adapter.lora.alpha', 'type': 'f32', 'value': 16.0}
assert kv['a.u64']['value'] == '18446744073709551615' and kv['a.i64']['value'] == -2**63
assert kv['a.nan']['value'] == 'nan' and kv['a.f64']['value'] == 0.1 and kv['a.bool']['value'] is True
assert kv['a.text']['value'] == 'line1\n"q"\t\u3042\ufffd'
assert kv['a.ints'] == {'key': 'a.ints', 'type': 'array', 'elem_type': 'i32', 'count': 10,
                        'abridged': True, 'value': list(range(8))}
assert kv['a.strs']['value'] == ['x', 'yz'] and kv['a.strs']['abridged'] is False
assert kv['a.nested']['value'] == [[1, 2], []] and kv['a.long']['value'] == 'a' * 100
t = j['tensors']
assert t[0] == {'name': 'blk.0.attn_q.weight.lora_a', 'type': 'F32', 'type_id': 0, 'dims': [4, 2],
                'offset': 0, 'bytes': 32}, t[0]
assert (t[2]['type'], t[2]['bytes'], t[2]['offset']) == ('Q4_K', 144, 64)
EOF

# Damage: one message naming the file and what is wrong, status 1, nothing on stdout.
for c in "badmagic.gguf|badmagic.gguf: error: offset 0: not a GGUF v2/v3 file" \
         "v1.gguf|v1.gguf: error: offset 0: not a GGUF v2/v3 file" \
         "empty.gguf|empty.gguf: error: offset 0: not a GGUF v2/v3 file" \
         "cut.gguf|cut.gguf: error: offset 32: truncated or malformed metadata" \
         "badtype.gguf|badtype.gguf: error: offset 37: truncated or malformed metadata" \
         "outside.gguf|outside.gguf: error: tensor 'w': 16 bytes at offset 32 of the data section (which starts at 128) run past the file's 144 bytes" \
         "unaligned.gguf|unaligned.gguf: error: tensor 'w': data offset 8 is not a multiple of the alignment 32" \
         "q4k-past.gguf|q4k-past.gguf: error: tensor 'w': 288 bytes at offset 0 of the data section (which starts at 128) run past the file's 328 bytes" \
         "q4k-rows.gguf|q4k-rows.gguf: error: tensor 'w': its dimensions do not suit ggml type Q4_K (too many elements, or rows not in whole blocks of 256)" \
         "missing.gguf|ikada: error: cannot open 'missing.gguf': No such file or directory"; do
    f=${c%%|*} want=${c#*|}
    for j in "" --json; do
        run_ik 1 gguf dump $j "$f"
        [ "$(cat err)" = "$want" ] || fail "dump $j $f said '$(cat err)', expected '$want'"
        [ ! -s out ] || fail "dump $j $f printed '$(cat out)'"
    done
done

run_ik 2 gguf dump
contains err "ikada: error: expected a FILE"
run_ik 2 gguf dump a b
contains err "unexpected argument 'b'"
run_ik 2 gguf show ok.gguf
contains err "unknown gguf command 'show'"
run_ik 0 gguf --help
contains out "usage: ikada gguf dump [--json] FILE"

shared=${IKADA_SHARED:-$SRCDIR/../shared}
vocab=$shared/data/tokenizers/ggml-vocab-llama-spm/ggml-vocab-llama-spm.gguf
if [ -r "$vocab" ]; then
    run_ik 0 gguf dump "$vocab"
    contains out "GGUF v3, 22 key/value(s), 0 tensor(s), alignment 32"
    contains out '    15: [string]   |    32000 | tokenizer.ggml.tokens = ["<unk>", "<s>", "</s>", "<0x00>", "<0x01>", "<0x02>", "<0x03>", "<0x04>", ...]'
    contains out '    21: bool       |        1 | tokenizer.ggml.add_bos_token = true'
    run_ik 0 gguf dump --json "$vocab"
    python3 -c "
import json; j = json.load(open('out'))
assert j['n_kv'] == 22 and j['kv'][12] == {'key': 'tokenizer.ggml.model', 'type': 'string', 'value': 'llama'}, j['kv'][12]
assert j['kv'][14]['count'] == 32000 and j['kv'][14]['value'][:3] == ['<unk>', '<s>', '</s>']" ||
        fail "the JSON dump of the llama vocabulary is wrong"
else
    echo "note: $TEST_NAME: $vocab absent, the real-file case is skipped"
fi
pass
