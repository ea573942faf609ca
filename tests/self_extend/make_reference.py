#!/usr/bin/python3
"""make_reference.py — reference outputs of Self-Extend attention for tests/test_attention.c,
computed with numpy in float64 straight from the paper's formula (Jin et al. 2024, "LLM Maybe
LongLM", section 3): for a query at position i and a key at j <= i,
    i - j <  W:  score = R(i) q . R(j) k / sqrt(d)
    i - j >= W:  score = R(i // G + W - W // G) q . R(j // G) k / sqrt(d)
one softmax over all j <= i, out = sum_j p_j v_j. R(m) rotates pair k by m * base^(-2k/d),
pairs interleaved (x[2k], x[2k+1]) or half-split (x[k], x[k + d/2]).

Writes reference.json beside this script: per case the shape, the raw q/k/v (drawn from a
seeded generator) and the expected outputs. Run from the project root:
    /usr/bin/python3 tests/self_extend/make_reference.py
"""
import json
import os

import numpy as np

CASES = [
    # name, positions, heads, kv heads, head dim, G, W, base, layout
    ("g3_w4_interleaved", 16, 2, 1, 8, 3, 4, 10000.0, "interleaved"),
    ("g2_w5_half_split", 21, 4, 2, 8, 2, 5, 100.0, "half-split"),
    ("g4_w8_long", 70, 2, 1, 16, 4, 8, 10000.0, "interleaved"),
]


def rotate(x, m, base, layout):
    d = x.shape[-1]
    theta = base ** (-np.arange(0, d, 2) / d)
    c, s = np.cos(m * theta), np.sin(m * theta)
    y = x.copy()
    if layout == "interleaved":
        a, b = x[0::2], x[1::2]
        y[0::2], y[1::2] = a * c - b * s, a * s + b * c
    else:
        a, b = x[:d // 2], x[d // 2:]
        y[:d // 2], y[d // 2:] = a * c - b * s, a * s + b * c
    return y


def self_extend_attention(q, k, v, G, W, base, layout):
    n, heads, d = q.shape
    group = heads // k.shape[1]
    out = np.zeros_like(q)
    for i in range(n):
        for h in range(heads):
            g = h // group
            scores = np.empty(i + 1)
            for j in range(i + 1):
                if i - j < W:
                    qi, kj = rotate(q[i, h], i, base, layout), rotate(k[j, g], j, base, layout)
                else:
                    qi = rotate(q[i, h], i // G + W - W // G, base, layout)
                    kj = rotate(k[j, g], j // G, base, layout)
                scores[j] = qi @ kj / np.sqrt(d)
            p = np.exp(scores - scores.max())
            out[i, h] = (p / p.sum()) @ v[:i + 1, g]
    return out


def main():
    rng = np.random.default_rng(2024)
    cases = []
    for name, n, heads, kv, d, G, W, base, layout in CASES:
        q = 2.0 * rng.standard_normal((n, heads, d))  # peaked enough that a wrong key shows
        k = rng.standard_normal((n, kv, d))
        v = rng.standard_normal((n, kv, d))
        q, k, v = (x.astype(np.float32).astype(np.float64) for x in (q, k, v))
        out = self_extend_attention(q, k, v, G, W, base, layout)
        cases.append({"name": name, "positions": n, "n_heads": heads, "n_kv_heads": kv,
                      "head_dim": d, "group": G, "window": W, "base": base, "layout": layout,
                      "q": q.ravel().tolist(), "k": k.ravel().tolist(), "v": v.ravel().tolist(),
                      "out": [round(x, 12) for x in out.ravel().tolist()]})
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.json")
    with open(path, "w") as f:
        json.dump({"made_by": "tests/self_extend/make_reference.py (numpy float64)",
                   "cases": cases}, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
