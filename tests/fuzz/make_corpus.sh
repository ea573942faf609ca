#!/usr/bin/env bash
# make_corpus.sh — seed corpora for the libFuzzer harnesses, built from small valid files
# (never copied from ../shared): the header and first tensors of models/kjv.gguf, tiny
# synthetic GGUF and llama2.c models written here (F32/F16/Q8_0/Q4_0, RoPE scaling keys
# and factor tensors, ak42 v1), a tiny tokenizer.bin, lines of models/kjv-heldout.txt and
# some awkward text, and command lines. Usage: tests/fuzz/make_corpus.sh OUT_DIR
# (run from the project root; needs python3 for the binary files).
set -euo pipefail
out=${1:?usage: make_corpus.sh OUT_DIR}
cd "$(dirname "$0")/../.."
for t in gguf llama2c tokenizer_bin encode spm bpe args; do mkdir -p "$out/$t"; done

# ---- GGUF: kjv.gguf cut to its metadata + tensor directory, and + its first tensors ----
if [ -f models/kjv.gguf ]; then
    head -c 24704 models/kjv.gguf > "$out/gguf/kjv_header.gguf"
    head -c 26752 models/kjv.gguf > "$out/gguf/kjv_header_2k.gguf"
fi

python3 - "$out" <<'PY'
import os, struct, sys
out = sys.argv[1]
rng_state = [12345]
def rnd():
    rng_state[0] = (rng_state[0] * 1103515245 + 12345) & 0x7fffffff
    return (rng_state[0] / 0x7fffffff - 0.5) * 0.2

# ---------- GGUF v3 writer (just enough for seeds) ----------
def gstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack('<Q', len(b)) + b
def kv_u32(k, v): return gstr(k) + struct.pack('<II', 4, v)
def kv_f32(k, v): return gstr(k) + struct.pack('<If', 6, v)
def kv_str(k, v): return gstr(k) + struct.pack('<I', 8) + gstr(v)
def kv_arr_str(k, items): return gstr(k) + struct.pack('<IIQ', 9, 8, len(items)) + b''.join(gstr(i) for i in items)
def kv_arr_f32(k, items): return gstr(k) + struct.pack('<IIQ', 9, 6, len(items)) + struct.pack('<%df' % len(items), *items)
def kv_arr_i32(k, items): return gstr(k) + struct.pack('<IIQ', 9, 5, len(items)) + struct.pack('<%di' % len(items), *items)

def f16(x): return struct.pack('<e', x)
def tensor_bytes(vals, typ, ne0):
    if typ == 0: return struct.pack('<%df' % len(vals), *vals)
    if typ == 1: return b''.join(f16(v) for v in vals)
    blocks = b''
    for i in range(0, len(vals), 32):
        blk = vals[i:i + 32]
        amax = max(abs(v) for v in blk) or 1.0
        if typ == 8:
            d = amax / 127
            blocks += f16(d) + bytes((round(v / d) & 0xff) for v in blk)
        else:  # Q4_0: 16 bytes of nibbles, low nibbles first half
            d = amax / 8
            q = [min(15, max(0, round(v / d) + 8)) for v in blk]
            blocks += f16(d) + bytes(q[j] | (q[j + 16] << 4) for j in range(16))
    return blocks

def gguf(path, dim=32, hidden=64, layers=1, heads=2, kv_heads=1, vocab=40, ctx=64,
         mtype=0, extra_kv=(), extra_tensors=(), with_vocab=True):
    pieces = ['<unk>', '<s>', '</s>'] + ['<0x%02X>' % b for b in range(0, 16)] + \
             ['\u2581', 'a', 'b', 'c', 'd', 'e', 'i', 'n', 'o', 't', 'h', 'th', 'the',
              '\u2581the', 'in', '\u2581a', 'an', 'and', '\u2581and', 'nd', 'he']
    pieces = (pieces + ['x%d' % i for i in range(vocab)])[:vocab]
    types = [2, 3, 3] + [6] * 16 + [1] * (vocab - 19)
    kvs = [kv_str('general.architecture', 'llama'), kv_str('general.name', 'seed'),
           kv_u32('llama.context_length', ctx), kv_u32('llama.embedding_length', dim),
           kv_u32('llama.feed_forward_length', hidden), kv_u32('llama.block_count', layers),
           kv_u32('llama.attention.head_count', heads),
           kv_u32('llama.attention.head_count_kv', kv_heads),
           kv_f32('llama.attention.layer_norm_rms_epsilon', 1e-5),
           kv_f32('llama.rope.freq_base', 10000.0)] + list(extra_kv)
    if with_vocab:
        kvs += [kv_str('tokenizer.ggml.model', 'llama'), kv_arr_str('tokenizer.ggml.tokens', pieces),
                kv_arr_f32('tokenizer.ggml.scores', [-float(i) for i in range(vocab)]),
                kv_arr_i32('tokenizer.ggml.token_type', types),
                kv_u32('tokenizer.ggml.bos_token_id', 1), kv_u32('tokenizer.ggml.eos_token_id', 2),
                kv_u32('tokenizer.ggml.unknown_token_id', 0)]
    head = dim // heads
    tensors = [('token_embd.weight', [dim, vocab], mtype), ('output_norm.weight', [dim], 0),
               ('output.weight', [dim, vocab], mtype)]
    for l in range(layers):
        p = 'blk.%d.' % l
        tensors += [(p + 'attn_norm.weight', [dim], 0), (p + 'ffn_norm.weight', [dim], 0),
                    (p + 'attn_q.weight', [dim, dim], mtype),
                    (p + 'attn_k.weight', [dim, kv_heads * head], mtype),
                    (p + 'attn_v.weight', [dim, kv_heads * head], mtype),
                    (p + 'attn_output.weight', [dim, dim], mtype),
                    (p + 'ffn_gate.weight', [dim, hidden], mtype),
                    (p + 'ffn_down.weight', [hidden, dim], mtype),
                    (p + 'ffn_up.weight', [dim, hidden], mtype)]
    tensors += list(extra_tensors)
    infos, data = b'', b''
    for name, ne, typ in tensors:
        n = 1
        for e in ne: n *= e
        vals = [1.0 + rnd() if name.endswith('norm.weight') or 'rope' in name else rnd()
                for _ in range(n)]
        blob = tensor_bytes(vals, typ, ne[0])
        infos += gstr(name) + struct.pack('<I', len(ne)) + b''.join(struct.pack('<Q', e) for e in ne) \
                 + struct.pack('<IQ', typ, len(data))
        data += blob + b'\0' * (-len(blob) % 32)
    header = b'GGUF' + struct.pack('<IQQ', 3, len(tensors), len(kvs)) + b''.join(kvs) + infos
    header += b'\0' * (-len(header) % 32)
    open(os.path.join(out, 'gguf', path), 'wb').write(header + data)

gguf('tiny_f32.gguf')
gguf('tiny_f16.gguf', mtype=1)
gguf('tiny_q8_0.gguf', mtype=8)
gguf('tiny_q4_0.gguf', mtype=2, layers=2)
gguf('tiny_novocab.gguf', with_vocab=False)
gguf('tiny_yarn.gguf', extra_kv=[kv_str('llama.rope.scaling.type', 'yarn'),
     kv_f32('llama.rope.scaling.factor', 4.0), kv_u32('llama.rope.scaling.original_context_length', 16),
     kv_f32('llama.rope.scaling.yarn_beta_fast', 32.0), kv_f32('llama.rope.scaling.yarn_beta_slow', 1.0)])
gguf('tiny_linear.gguf', extra_kv=[kv_f32('llama.rope.scale_linear', 2.0)])
gguf('tiny_rope_freqs.gguf', extra_tensors=[('rope_freqs.weight', [8], 0)])
gguf('tiny_longrope.gguf', extra_kv=[kv_str('llama.rope.scaling.type', 'longrope'),
     kv_u32('llama.rope.scaling.original_context_length', 16)],
     extra_tensors=[('rope_factors_long.weight', [8], 0), ('rope_factors_short.weight', [8], 0)])
gguf('tiny_half_split.gguf', extra_kv=[kv_str('ropewalk.rope.layout', 'half_split'),
     kv_u32('llama.rope.dimension_count', 8)])

# ---------- llama2.c ----------
def llama2c(path, dim=8, hidden=16, layers=1, heads=2, kv_heads=2, vocab=32, seq=16,
            shared=True, v1=False):
    head = dim // heads
    kv = head * kv_heads
    n = vocab * dim + 2 * layers * dim + dim + layers * (2 * dim * dim + 2 * kv * dim) \
        + 3 * layers * hidden * dim + (0 if v1 else seq * head) + (0 if shared else vocab * dim)
    cfg = struct.pack('<7i', dim, hidden, layers, heads, kv_heads, vocab if shared or v1 else -vocab, seq)
    if v1:
        hdr = struct.pack('<Ii', 0x616b3432, 1) + cfg + bytes([1 if shared else 0])
        hdr += b'\0' * (256 - len(hdr))
    else:
        hdr = cfg
    vals = [rnd() for _ in range(n)]
    open(os.path.join(out, 'llama2c', path), 'wb').write(hdr + struct.pack('<%df' % n, *vals))

llama2c('tiny_legacy.bin')
llama2c('tiny_unshared.bin', shared=False)
llama2c('tiny_gqa.bin', dim=16, heads=4, kv_heads=2, layers=2)
llama2c('tiny_v1.bin', v1=True)
llama2c('tiny_v1_unshared.bin', v1=True, shared=False)
open(os.path.join(out, 'llama2c', 'v2_header.bin'), 'wb').write(struct.pack('<Ii', 0x616b3432, 2) + b'\0' * 248)

# ---------- tokenizer.bin (2-byte vocab size, then the file) ----------
def tokenizer_bin(path, pieces):
    body = struct.pack('<i', max(len(p.encode()) for p in pieces))
    for i, p in enumerate(pieces):
        b = p.encode()
        body += struct.pack('<fi', -float(i), len(b)) + b
    open(os.path.join(out, 'tokenizer_bin', path), 'wb').write(struct.pack('<H', len(pieces)) + body)

letters = [chr(ord('a') + i) for i in range(26)]
tokenizer_bin('tok32.bin', ['<unk>', '\n<s>\n', '\n</s>\n', ' '] + letters + ['th', 'he'])
tokenizer_bin('tok_bytes.bin', ['<unk>', '\n<s>\n', '\n</s>\n'] + ['<0x%02X>' % b for b in range(256)]
              + [' t', 'he', ' the', 'in', 'and'])
PY

# ---------- text for the encoders ----------
for t in encode spm bpe; do
    if [ -f models/kjv-heldout.txt ]; then
        head -c 300 models/kjv-heldout.txt > "$out/$t/kjv_head.txt"
        sed -n '20,24p' models/kjv-heldout.txt > "$out/$t/kjv_lines.txt"
    fi
    printf 'In the beginning God created the heaven and the earth.' > "$out/$t/plain.txt"
    printf '  leading,  double  and trailing spaces  \n\ttabs\r\n' > "$out/$t/spaces.txt"
    printf 'caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe2\x96\x81 <s> </s> <0x41>' > "$out/$t/unicode.txt"
    printf 'bad \xff\xfe \xc3 \xed\xa0\x80 \xf4\x90\x80\x80 \x00 nul' > "$out/$t/invalid_utf8.txt"
done
printf "<|begin_of_text|>I'M 12345 <|eot_id|>\n\n  x\r\n\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd <|eot" > "$out/bpe/llama3.txt"

# ---------- command lines (one word per line) ----------
a="$out/args"
printf 'models/kjv.gguf\n-p\nIn the beginning\n-n\n16\n--temp\n0' > "$a/generate"
printf 'models/kjv.gguf\n-c\n1024\n--rope-scaling\nyarn\n--rope-scale\n4\n--yarn-orig-ctx\n256\n--yarn-beta-fast\n32\n--yarn-beta-slow\n1' > "$a/yarn"
printf 'models/kjv.gguf\n-c\n2048\n--rope-scaling\nllama3\n--rope-scale\n8\n--rope-low-freq-factor\n1\n--rope-high-freq-factor\n4' > "$a/llama3"
printf 'models/kjv.gguf\n-c\n1024\n--rope-scaling\ndynamic\n--rope-seq-len\n700\n--rope-keys\nattention' > "$a/dynamic"
printf 'models/kjv.gguf\n--rope-scaling\nntk\n--rope-freq-scale\n0.25\n--rope-freq-base\n500000\n--rope-dim\n32' > "$a/ntk"
printf 'models/kjv.gguf\n-c\n512\n--rope-scaling\nlongrope\n--rope-long-factors\n1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32\n--rope-short-factors\n1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1\n--rope-max-pos\n4096' > "$a/longrope"
printf -- '--print-rope\n--head-dim\n128\n-c\n8192\n--rope-scaling\nyarn\n--yarn-mscale\n1\n--yarn-mscale-all-dim\n0.5\n--yarn-no-truncate\n--json' > "$a/print_rope"
printf 'models/kjv.gguf\n--ppl\nmodels/kjv-heldout.txt\n-c\n128\n--ppl-score-from\n64\n--ppl-chunks\n4\n--ppl-band\n32\n--csv' > "$a/ppl"
printf 'models/kjv.gguf\n--ppl\nmodels/kjv-heldout.txt\n--ppl-stride\n64\n--ppl-positions\n/dev/null\n--ppl-no-progress\n--json' > "$a/ppl_stride"
printf 'models/kjv.gguf\n--stream-window\n64\n--sinks\n4\n-t\n1\n-b\n8\n--kv-type\nq8_0\n-s\n42\n--top-p\n0.5' > "$a/stream"
printf 'models/kjv.gguf\n--context-shift\n--keep\n8\n-v\n--bench\n--bench-prompt\n8\n--bench-gen\n4\n--bench-depth\n16\n--bench-repeats\n1' > "$a/bench"
echo "seed corpora in $out: $(find "$out" -type f | wc -l) files"
