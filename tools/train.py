#!/usr/bin/python3
"""train.py — trains the project's small default model (issue 8) on the King James Bible.

Owns the whole recipe, end to end and deterministic (fixed seeds, fixed step count):
  1. corpus: `bible` (Debian bible-kjv) -> one verse per line, chapter headings kept;
     whole books held out for evaluation (never trained on) -> models/kjv-heldout.txt
  2. tokenizer: Debian's `spm_train` (BPE, byte fallback, llama-style settings)
  3. model: a small llama (RMSNorm, GQA, SwiGLU, RoPE on interleaved pairs as llama2.c,
     base 10000, head_dim 64) trained with PyTorch on 2 threads at context 256
  4. export: llama2.c legacy .bin (7-int header, fp32); tools/convert_llama2c makes the GGUF.

Needs Debian's python3 with python3-torch, python3-numpy, python3-sentencepiece, and the
bible-kjv and sentencepiece packages. Run from the project root:
    nice -n 5 /usr/bin/python3 tools/train.py            # about 30 minutes on 2 cores
"""
import argparse
import json
import math
import os
import re
import struct
import subprocess
import sys
import time

import numpy as np
import sentencepiece as spm
import torch
import torch.nn as nn
import torch.nn.functional as F

HELD_OUT_BOOKS = ["Ruth", "1 John", "2 John", "3 John", "Jude", "Revelation"]


# ---------------------------------------------------------------- corpus

def read_bible():
    """Returns [(book, chapter, [verse text, ...]), ...] in canonical order."""
    raw = subprocess.run(["bible", "-l100000", "Gen1:1-Rev22:21"], check=True,
                         capture_output=True, text=True).stdout
    chapters = []
    heading = re.compile(r"^(\S.*) (\d+)$")
    verse = re.compile(r"^\s+(\d+) (.*)$")
    for line in raw.splitlines():
        if not line.strip():
            continue
        m = heading.match(line)
        if m:
            chapters.append((m.group(1), int(m.group(2)), []))
            continue
        m = verse.match(line)
        if not m or not chapters:
            sys.exit("train.py: unexpected line from `bible`: %r" % line)
        chapters[-1][2].append(" ".join(m.group(2).split()))
    return chapters


def chapters_text(chapters):
    """One chapter heading line ("Genesis 1"), then one verse per line."""
    lines = []
    for book, number, verses in chapters:
        lines.append("%s %d" % (book, number))
        lines.extend(verses)
    return "\n".join(lines) + "\n"


def split_corpus(chapters):
    train = [c for c in chapters if c[0] not in HELD_OUT_BOOKS]
    held = [c for c in chapters if c[0] in HELD_OUT_BOOKS]
    found = sorted({c[0] for c in held})
    if found != sorted(HELD_OUT_BOOKS):
        sys.exit("train.py: held-out books missing from the corpus: %s" % found)
    return chapters_text(train), chapters_text(held)


# ---------------------------------------------------------------- tokenizer

def train_tokenizer(train_path, model_prefix, vocab_size):
    # llama's own settings: identity normalisation, dummy prefix, digits split,
    # byte fallback; unk=0, bos=1, eos=2 (SentencePiece defaults).
    subprocess.run([
        "spm_train", "--input=" + train_path, "--model_prefix=" + model_prefix,
        "--vocab_size=%d" % vocab_size, "--model_type=bpe", "--byte_fallback=true",
        "--character_coverage=1.0", "--normalization_rule_name=identity",
        "--remove_extra_whitespaces=false", "--add_dummy_prefix=true",
        "--split_digits=true", "--num_threads=2", "--minloglevel=1",
        "--input_sentence_size=0", "--seed_sentencepiece_size=1000000"],
        check=True)
    return spm.SentencePieceProcessor(model_file=model_prefix + ".model")


def tokenizer_for(train_path, a):
    """The committed tokenizer when there is one (a retrained model keeps its vocabulary, so
    the tokenizer's tests and references stay valid), else a new one from the training text."""
    prefix = os.path.join(a.models_dir, a.name)
    if os.path.exists(prefix + ".model") and not a.retrain_tokenizer:
        return spm.SentencePieceProcessor(model_file=prefix + ".model")
    sp = train_tokenizer(train_path, prefix, a.vocab_size)
    os.replace(prefix + ".vocab", os.path.join(a.work_dir, a.name + ".vocab"))  # .model only
    return sp


def encode_stream(sp, text):
    """The whole text tokenized once, as ./run --ppl does (the caller adds BOS)."""
    return np.array(sp.encode(text), dtype=np.int64)


# ---------------------------------------------------------------- model

class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(head_dim, seq_len, base):
    """cos/sin of m * theta_k, theta_k = base^(-2k/head_dim): [seq_len, head_dim/2]."""
    k = torch.arange(0, head_dim, 2, dtype=torch.float64)
    theta = base ** (-k / head_dim)
    angles = torch.outer(torch.arange(seq_len, dtype=torch.float64), theta)
    return torch.cos(angles).float(), torch.sin(angles).float()


def apply_rope(x, cos, sin):
    """Rotates interleaved pairs (x[2k], x[2k+1]) of x [B, H, T, D] as llama2.c does."""
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out0 = x0 * cos - x1 * sin
    out1 = x0 * sin + x1 * cos
    return torch.stack((out0, out1), dim=-1).flatten(-2)


class Block(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.n_heads, self.n_kv, self.hd = a.n_heads, a.n_kv_heads, a.dim // a.n_heads
        self.attention_norm = RMSNorm(a.dim, a.norm_eps)
        self.wq = nn.Linear(a.dim, self.n_heads * self.hd, bias=False)
        self.wk = nn.Linear(a.dim, self.n_kv * self.hd, bias=False)
        self.wv = nn.Linear(a.dim, self.n_kv * self.hd, bias=False)
        self.wo = nn.Linear(self.n_heads * self.hd, a.dim, bias=False)
        self.ffn_norm = RMSNorm(a.dim, a.norm_eps)
        self.w1 = nn.Linear(a.dim, a.hidden_dim, bias=False)
        self.w2 = nn.Linear(a.hidden_dim, a.dim, bias=False)
        self.w3 = nn.Linear(a.dim, a.hidden_dim, bias=False)

    def attention(self, x, cos, sin, mask):
        B, T, _ = x.shape
        q = self.wq(x).view(B, T, self.n_heads, self.hd).transpose(1, 2)
        k = self.wk(x).view(B, T, self.n_kv, self.hd).transpose(1, 2)
        v = self.wv(x).view(B, T, self.n_kv, self.hd).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        group = self.n_heads // self.n_kv  # query head h reads kv head h / group
        k = k.repeat_interleave(group, dim=1)
        v = v.repeat_interleave(group, dim=1)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.hd) + mask
        out = F.softmax(scores, dim=-1) @ v
        return self.wo(out.transpose(1, 2).reshape(B, T, -1))

    def forward(self, x, cos, sin, mask):
        x = x + self.attention(self.attention_norm(x), cos, sin, mask)
        h = self.ffn_norm(x)
        return x + self.w2(F.silu(self.w1(h)) * self.w3(h))


class Llama(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.args = a
        self.tok_embeddings = nn.Embedding(a.vocab_size, a.dim)
        self.layers = nn.ModuleList([Block(a) for _ in range(a.n_layers)])
        self.norm = RMSNorm(a.dim, a.norm_eps)
        self.output = nn.Linear(a.dim, a.vocab_size, bias=False)
        cos, sin = rope_tables(a.dim // a.n_heads, a.seq_len, a.rope_base)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        mask = torch.full((a.seq_len, a.seq_len), float("-inf")).triu(1)
        self.register_buffer("mask", mask, persistent=False)
        self.apply(self._init)
        for name, p in self.named_parameters():  # GPT-2 style scaled residual init
            if name.endswith("wo.weight") or name.endswith("w2.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * a.n_layers))

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)

    def forward(self, ids):
        T = ids.shape[1]
        x = self.tok_embeddings(ids)
        cos, sin, mask = self.cos[:T], self.sin[:T], self.mask[:T, :T]
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return self.output(self.norm(x))


# ---------------------------------------------------------------- passkey samples

# llama.cpp's examples/passkey/passkey.cpp builds its prompt from these (./run --passkey too)
PASSKEY_PREFIX = ("There is an important info hidden inside a lot of irrelevant text. Find it "
                  "and memorize them. I will quiz you about the important information there.")
PASSKEY_JUNK = (" The grass is green. The sky is blue. The sun is yellow. Here we go. There and "
                "back again.")
PASSKEY_SUFFIX = " What is the pass key? The pass key is"


def passkey_prompt(n_junk, pos, key):
    text = PASSKEY_PREFIX
    for i in range(n_junk):
        if i == pos:
            text += " The pass key is %d. Remember it. %d is the pass key." % (key, key)
        text += PASSKEY_JUNK
    return text + PASSKEY_SUFFIX


class PasskeySamples:
    """Passkey prompts of every length that fits the window (keys at every depth), each
    followed by its answer " KEY." and then training text up to the window's end."""

    def __init__(self, sp, seq_len, rng):
        self.sp, self.seq_len, self.rng = sp, seq_len, rng
        # the most junk that leaves room for a 5-digit answer (" 50000." is at most 7 tokens)
        self.max_junk = 1
        while len(self.encode(self.max_junk + 1, 0, 50000)[0]) + 7 < seq_len:
            self.max_junk += 1

    def encode(self, n_junk, pos, key):
        """(prompt ids, answer ids): the answer as it continues the prompt's tokenization."""
        prompt = passkey_prompt(n_junk, pos, key)
        ids = self.sp.encode(prompt)
        whole = self.sp.encode(prompt + " %d." % key)
        if whole[:len(ids)] != ids:
            sys.exit("train.py: the answer changes the prompt's tokenization")
        return ids, whole[len(ids):]

    def draw(self):
        n_junk = int(self.rng.integers(1, self.max_junk + 1))
        pos = int(self.rng.integers(0, n_junk))
        key = int(self.rng.integers(1, 50001))
        return n_junk, pos, key

    def window(self, text_ids, bos):
        """seq_len + 1 tokens: BOS, a prompt, its answer, then training text; and the range
        of the answer's tokens in the window."""
        prompt, answer = self.encode(*self.draw())
        head = [bos] + prompt + answer
        rest = self.seq_len + 1 - len(head)
        start = int(self.rng.integers(0, len(text_ids) - rest))
        row = np.concatenate([np.array(head, dtype=np.int64), text_ids[start:start + rest]])
        return row, (1 + len(prompt), len(head))


@torch.no_grad()
def passkey_accuracy(model, samples, bos, trials):
    """Greedy answers to `trials` prompts drawn from a fixed seed: the share whose first
    digits are the key (what ./run --passkey checks)."""
    model.eval()
    rng, samples.rng = samples.rng, np.random.default_rng(4321)
    correct = 0
    for _ in range(trials):
        n_junk, pos, key = samples.draw()
        ids = [bos] + samples.encode(n_junk, pos, key)[0]
        for _ in range(8):
            ids.append(int(model(torch.tensor([ids]))[0, -1].argmax()))
        answer = samples.sp.decode(ids[-8:])
        digits = re.match(r"\s*(\d+)", answer)
        correct += bool(digits) and digits.group(1) == str(key)
    samples.rng = rng
    model.train()
    return correct / trials


# ---------------------------------------------------------------- training

def windows(stream, starts, seq_len, bos):
    """Windows of seq_len + 1 tokens whose first token is BOS, as the ppl protocol cuts."""
    batch = np.stack([stream[s:s + seq_len + 1] for s in starts])
    batch[:, 0] = bos
    t = torch.from_numpy(batch)
    return t[:, :-1], t[:, 1:]


def learning_rate(step, a):
    if step < a.warmup:
        return a.lr * (step + 1) / a.warmup
    progress = (step - a.warmup) / max(1, a.steps - a.warmup)
    return a.min_lr + 0.5 * (a.lr - a.min_lr) * (1 + math.cos(math.pi * progress))


@torch.no_grad()
def mean_loss(model, stream, seq_len, bos, n_windows):
    """Mean NLL over consecutive non-overlapping windows from the start of stream."""
    model.eval()
    n = min(n_windows, (len(stream) - 1) // seq_len)
    starts = [i * seq_len for i in range(n)]
    total = 0.0
    for i in range(0, n, 8):
        x, y = windows(stream, starts[i:i + 8], seq_len, bos)
        logits = model(x)
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                 reduction="sum").item()
    model.train()
    return total / (n * seq_len)


def make_optimizer(model, a):
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": a.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=a.lr, betas=(0.9, 0.95), eps=1e-8)


def training_batch(train_ids, samples, rng, a):
    """a.batch windows of the training text; each is a passkey sample with probability
    a.passkey_share. Returns inputs, targets and per-target loss weights: a.answer_weight
    on the tokens of a passkey answer, 1 elsewhere."""
    rows = []
    weights = np.ones((a.batch, a.seq_len), dtype=np.float32)
    for b in range(a.batch):
        if samples and rng.random() < a.passkey_share:
            row, (first, end) = samples.window(train_ids, a.bos)
            weights[b, first - 1:end - 1] = a.answer_weight  # target j predicts token j + 1
            rows.append(row)
        else:
            s = int(rng.integers(0, len(train_ids) - a.seq_len - 1))
            rows.append(train_ids[s:s + a.seq_len + 1].copy())
    batch = np.stack(rows)
    batch[:, 0] = a.bos
    t = torch.from_numpy(batch)
    return t[:, :-1], t[:, 1:], torch.from_numpy(weights)


def save_checkpoint(path, model, opt, rng, samples, step, seconds):
    state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
             "seconds": seconds, "rng": rng.bit_generator.state,
             "passkey_rng": samples.rng.bit_generator.state if samples else None,
             "torch_rng": torch.get_rng_state()}
    torch.save(state, path + ".tmp")
    os.replace(path + ".tmp", path)


def load_checkpoint(path, model, opt, rng, samples):
    state = torch.load(path)
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    rng.bit_generator.state = state["rng"]
    if samples and state["passkey_rng"]:
        samples.rng.bit_generator.state = state["passkey_rng"]
    torch.set_rng_state(state["torch_rng"])
    return state["step"], state["seconds"]


def evaluation_record(model, train_ids, held_ids, samples, a):
    record = {"train_loss": round(mean_loss(model, train_ids, a.seq_len, a.bos,
                                            a.eval_windows), 4),
              "heldout_loss": round(mean_loss(model, held_ids, a.seq_len, a.bos,
                                              a.eval_windows), 4)}
    if samples:
        record["passkey_accuracy"] = passkey_accuracy(model, samples, a.bos, a.passkey_trials)
    return record


def train(model, train_ids, held_ids, samples, a, log):
    """Runs steps up to a.steps (or a.stop_after); with a.resume, from the checkpoint's step
    (the schedule, data order and random state continue as if never stopped). Returns the
    training seconds, None when stopped by --stop-after."""
    opt = make_optimizer(model, a)
    rng = np.random.default_rng(a.seed)
    checkpoint = os.path.join(a.work_dir, a.name + "-checkpoint.pt")
    first, before = 0, 0.0
    if a.resume and os.path.exists(checkpoint):
        first, before = load_checkpoint(checkpoint, model, opt, rng, samples)
        log({"resumed_at_step": first, "seconds_before": round(before, 1)})
    start = time.time() - before
    for step in range(first, a.steps):
        if time.time() - start > 60 * a.max_minutes:
            log({"stopped_early_at_step": step, "reason": "--max-minutes %g" % a.max_minutes})
            break
        for g in opt.param_groups:
            g["lr"] = learning_rate(step, a)
        x, y, w = training_batch(train_ids, samples, rng, a)
        logits = model(x)
        nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                              reduction="none")
        loss = (nll * w.reshape(-1)).sum() / w.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % a.log_every == 0 or step == a.steps - 1:
            record = {"step": step, "lr": round(learning_rate(step, a), 6),
                      "train_batch_loss": round(loss.item(), 4),
                      "seconds": round(time.time() - start, 1)}
            if step % a.eval_every == 0 or step == a.steps - 1:
                record.update(evaluation_record(model, train_ids, held_ids, samples, a))
            log(record)
        if (step + 1) % a.checkpoint_every == 0 or step == a.steps - 1 or step + 1 == a.stop_after:
            save_checkpoint(checkpoint, model, opt, rng, samples, step + 1, time.time() - start)
        if step + 1 == a.stop_after:
            log({"stopped_after_step": step + 1, "checkpoint": checkpoint})
            return None
    return time.time() - start


# ---------------------------------------------------------------- export

def write_llama2c(model, path):
    """llama2.c legacy format: 7-int header (negative vocab = separate classifier), fp32."""
    a = model.args
    hd = a.dim // a.n_heads
    with open(path, "wb") as f:
        f.write(struct.pack("7i", a.dim, a.hidden_dim, a.n_layers, a.n_heads,
                            a.n_kv_heads, -a.vocab_size, a.seq_len))

        def put(t):
            f.write(t.detach().float().contiguous().numpy().astype("<f4").tobytes())
        put(model.tok_embeddings.weight)
        for name in ["attention_norm", "wq", "wk", "wv", "wo", "ffn_norm", "w1", "w2", "w3"]:
            for layer in model.layers:
                put(getattr(layer, name).weight)
        put(model.norm.weight)
        cos, sin = rope_tables(hd, a.seq_len, a.rope_base)
        put(cos)
        put(sin)
        put(model.output.weight)


# ---------------------------------------------------------------- evaluation of a .bin

def read_llama2c(path, a):
    """Loads a .bin written by write_llama2c into a Llama (the header decides the shape)."""
    raw = open(path, "rb").read()
    dim, hidden, layers, heads, kv, vocab, seq = struct.unpack("7i", raw[:28])
    a.dim, a.hidden_dim, a.n_layers, a.n_heads, a.n_kv_heads = dim, hidden, layers, heads, kv
    a.vocab_size, a.seq_len = abs(vocab), seq
    model = Llama(a)
    floats = torch.from_numpy(np.frombuffer(raw, dtype="<f4", offset=28).copy())
    at = 0

    def take(t):
        nonlocal at
        t.data.copy_(floats[at:at + t.numel()].view_as(t))
        at += t.numel()
    take(model.tok_embeddings.weight)
    for name in ["attention_norm", "wq", "wk", "wv", "wo", "ffn_norm", "w1", "w2", "w3"]:
        for layer in model.layers:
            take(getattr(layer, name).weight)
    take(model.norm.weight)
    at += seq * (dim // heads)  # freq_cis_real + freq_cis_imag
    take(model.output.weight)
    return model


@torch.no_grad()
def evaluate(a):
    """Held-out NLL with ./run --ppl's protocol: BOS + the file tokenized once, chunks of
    seq_len whose first token is BOS, all seq_len - 1 predictions scored.  Also the unigram
    baseline: each scored token's frequency among the scored held-out tokens."""
    torch.set_num_threads(a.threads)
    sp = spm.SentencePieceProcessor(model_file=os.path.join(a.models_dir, a.name + ".model"))
    text = open(os.path.join(a.models_dir, a.name + "-heldout.txt")).read()
    model = read_llama2c(a.evaluate, a).eval()
    ids = [sp.bos_id()] + sp.encode(text)
    c = a.seq_len
    chunk_nll = []
    for j in range(len(ids) // c):
        chunk = torch.tensor([sp.bos_id()] + ids[j * c + 1:(j + 1) * c]).unsqueeze(0)
        logits = model(chunk)[0, :-1]
        chunk_nll.append(F.cross_entropy(logits, chunk[0, 1:], reduction="mean").item())
    scored = np.concatenate([ids[j * c + 1:(j + 1) * c] for j in range(len(chunk_nll))])
    counts = np.bincount(scored, minlength=a.vocab_size)
    unigram = -np.mean(np.log(counts[scored] / len(scored)))
    print(json.dumps({"context": c, "chunks": len(chunk_nll),
                      "first_chunks_nll": [round(x, 5) for x in chunk_nll[:8]],
                      "mean_nll_first4": round(float(np.mean(chunk_nll[:4])), 5),
                      "heldout_ppl": round(math.exp(np.mean(chunk_nll)), 3),
                      "unigram_ppl": round(math.exp(unigram), 3)}))


# ---------------------------------------------------------------- main

def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models-dir", default="models")
    p.add_argument("--work-dir", default="build/train")
    p.add_argument("--name", default="kjv")
    p.add_argument("--vocab-size", type=int, default=1024)
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--hidden-dim", type=int, default=688)
    p.add_argument("--n-layers", type=int, default=4)
    p.add_argument("--n-heads", type=int, default=4)
    p.add_argument("--n-kv-heads", type=int, default=2)
    p.add_argument("--seq-len", type=int, default=256)
    p.add_argument("--rope-base", type=float, default=10000.0)
    p.add_argument("--norm-eps", type=float, default=1e-5)
    p.add_argument("--batch", type=int, default=12)
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--min-lr", type=float, default=1e-4)
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-minutes", type=float, default=38.0,
                   help="safety stop on a crowded machine (logged; the run is then shorter)")
    p.add_argument("--passkey-share", type=float, default=0.1,
                   help="share of training windows that are llama-passkey prompts + answers")
    p.add_argument("--passkey-trials", type=int, default=20,
                   help="passkey prompts answered greedily at each evaluation")
    p.add_argument("--answer-weight", type=float, default=1.0,
                   help="loss weight of a passkey answer's tokens (1 elsewhere)")
    p.add_argument("--checkpoint-every", type=int, default=100)
    p.add_argument("--stop-after", type=int, default=0,
                   help="checkpoint and stop after this step (continue with --resume)")
    p.add_argument("--resume", action="store_true",
                   help="continue from WORK_DIR/NAME-checkpoint.pt (same flags)")
    p.add_argument("--retrain-tokenizer", action="store_true",
                   help="train the tokenizer again even if MODELS_DIR/NAME.model exists")
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--eval-every", type=int, default=200)
    p.add_argument("--eval-windows", type=int, default=48)
    p.add_argument("--evaluate", metavar="BIN",
                   help="only evaluate a trained .bin on the held-out text (no training)")
    return p.parse_args()


def main():
    a = parse_args()
    if a.evaluate:
        return evaluate(a)
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    os.makedirs(a.work_dir, exist_ok=True)
    log_file = open(os.path.join(a.work_dir, a.name + "-train.log"), "a" if a.resume else "w")

    def log(record):
        line = json.dumps(record)
        print(line, flush=True)
        log_file.write(line + "\n")
        log_file.flush()

    train_text, held_text = split_corpus(read_bible())
    train_path = os.path.join(a.work_dir, a.name + "-train.txt")
    with open(train_path, "w") as f:
        f.write(train_text)
    with open(os.path.join(a.models_dir, a.name + "-heldout.txt"), "w") as f:
        f.write(held_text)
    sp = tokenizer_for(train_path, a)
    a.bos = sp.bos_id()
    train_ids, held_ids = encode_stream(sp, train_text), encode_stream(sp, held_text)
    log({"train_bytes": len(train_text), "heldout_bytes": len(held_text),
         "train_tokens": len(train_ids), "heldout_tokens": len(held_ids),
         "heldout_books": HELD_OUT_BOOKS})

    model = Llama(a)
    log({"params": sum(p.numel() for p in model.parameters()), "config": {
        k: v for k, v in vars(a).items() if k not in ("models_dir", "work_dir")}})
    samples = PasskeySamples(sp, a.seq_len, np.random.default_rng(a.seed + 1)) \
        if a.passkey_share > 0 else None
    if samples:
        log({"passkey_max_junk": samples.max_junk, "passkey_share": a.passkey_share})
    seconds = train(model, train_ids, held_ids, samples, a, log)
    if seconds is None:
        return  # --stop-after: continue with --resume
    bin_path = os.path.join(a.work_dir, a.name + ".bin")
    write_llama2c(model, bin_path)
    log({"done": True, "train_seconds": round(seconds, 1), "bin": bin_path})


if __name__ == "__main__":
    main()
