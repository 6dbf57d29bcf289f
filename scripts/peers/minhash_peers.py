#!/usr/bin/env python3
"""MinHash peers (datasketch, rensa) on the shingle sets and pairs `minhash_peers` wrote, beside
our figures from ours.json, as one markdown table.

    minhash_peers.py DIR

DIR holds shingles.tsv (one prompt's distinct shingles per line, tab-separated), pairs.tsv
(i, j, exact Jaccard) and ours.json. Every tool sketches the same sets; errors are measured on
the same pairs; LSH candidate recall is the share of the pairs at or above the threshold that
the tool's LSH index returns as candidates among the first `eval_prompts` prompts.
"""

import json
import math
import os
import sys
import time

import datasketch
import rensa


def read(dir_):
    with open(os.path.join(dir_, "shingles.tsv"), encoding="utf-8") as f:
        sets = [line.rstrip("\n").split("\t") for line in f]
    pairs = []
    with open(os.path.join(dir_, "pairs.tsv")) as f:
        for line in f:
            i, j, e = line.split("\t")
            pairs.append((int(i), int(j), float(e)))
    with open(os.path.join(dir_, "ours.json")) as f:
        ours = json.load(f)
    return sets, pairs, ours


def errors(pairs, estimate):
    errs = [(e, estimate(i, j) - e) for i, j, e in pairs]
    rmse = math.sqrt(sum(d * d for _, d in errs) / len(errs))
    similar = [d for e, d in errs if e >= 0.3]
    rmse_similar = math.sqrt(sum(d * d for d in similar) / max(len(similar), 1))
    mean = sum(d for _, d in errs) / len(errs)
    return rmse, rmse_similar, mean


def recall(pairs, candidates, threshold):
    near = [(i, j) for i, j, e in pairs if e >= threshold]
    return sum((i, j) in candidates for i, j in near) / max(len(near), 1)


def measure(sets, pairs, m, sketch, index, repeat):
    """Sketches every set with `sketch(tokens)` (best of `repeat` runs: the machine is shared),
    estimates the pairs, then indexes the first m sketches in `index` (an LSH index with insert
    and query) and collects the candidate pairs."""
    sketch_s = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        sketches = [sketch(tokens) for tokens in sets]
        sketch_s = min(sketch_s, time.perf_counter() - t)
    err = errors(pairs, lambda i, j: sketches[i].jaccard(sketches[j]))
    t = time.perf_counter()
    for i in range(m):
        index.insert(i, sketches[i])
    candidates = set()
    for i in range(m):
        for j in index.query(sketches[i]):
            if j != i:
                candidates.add((min(i, j), max(i, j)))
    lsh_s = time.perf_counter() - t
    return sketch_s, err, lsh_s, candidates


def run_datasketch(sets, pairs, m, perm, threshold):
    encoded = [[s.encode("utf-8") for s in st] for st in sets]

    def sketch(tokens):
        h = datasketch.MinHash(num_perm=perm)
        h.update_batch(tokens)
        return h

    # datasketch picks its bands and rows for the threshold itself.
    lsh = datasketch.MinHashLSH(threshold=threshold, num_perm=perm)
    # One run: it takes tens of seconds.
    return (*measure(encoded, pairs, m, sketch, lsh, 1), f"{lsh.b}×{lsh.r}")


def run_rensa(sets, pairs, m, perm, threshold):
    def sketch(tokens):
        h = rensa.RMinHash(num_perm=perm, seed=42)
        h.update(tokens)
        return h

    # Rows of 4, as ours.
    lsh = rensa.RMinHashLSH(threshold=threshold, num_perm=perm, num_bands=perm // 4)
    return (*measure(sets, pairs, m, sketch, lsh, 3), f"{perm // 4}×4")


def main():
    dir_ = sys.argv[1]
    sets, pairs, ours = read(dir_)
    n, m, threshold = ours["prompts"], ours["eval_prompts"], ours["threshold"]
    near = sum(1 for _, _, e in pairs if e >= threshold)
    print(f"\n{n} prompts ({sum(len(s) for s in sets) / n:.0f} distinct shingles each on average); "
          f"errors on {len(pairs)} pairs among the first {m} prompts, {near} of them at exact "
          f"Jaccard ≥ {threshold}; sketching times are the best of three runs (datasketch: one)\n")
    print("| sketch | bytes per prompt | sketch all prompts | per prompt | RMSE of estimated Jaccard | "
          "RMSE, pairs ≥ 0.3 | mean error | LSH bands × rows | LSH index + queries | candidates | "
          "candidate recall at ≥ " + str(threshold) + " |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|")
    o = ours["ours"]
    us = 1e6 / n
    print(f"| distillguard ({o['bins']} one-byte bins), from the text | {o['bytes_per_signature']} | "
          f"{o['from_text_s']:.3f} s | {o['from_text_s'] * us:.2f} µs | {o['rmse']:.3f} | "
          f"{o['rmse_similar']:.3f} | {o['mean_error']:+.3f} | {o['bins'] // 4}×4 | "
          f"{o['lsh_s'] * 1000:.0f} ms | {o['candidates']} | {100 * o['candidate_recall']:.1f} % |")
    print(f"| distillguard, from the shingle strings | {o['bytes_per_signature']} | "
          f"{o['from_strings_s']:.3f} s | {o['from_strings_s'] * us:.2f} µs | (same) | | | | | | |")
    for name, fn, width in (("datasketch", run_datasketch, 8), ("rensa RMinHash", run_rensa, 4)):
        for perm in (32, 128):
            sketch_s, (rmse, rmse_sim, mean), lsh_s, cands, shape = fn(sets, pairs, m, perm, threshold)
            print(f"| {name} {datasketch.__version__ if name == 'datasketch' else rensa_version()} "
                  f"({perm} permutations) | {perm * width} | {sketch_s:.3f} s | {sketch_s * us:.2f} µs | "
                  f"{rmse:.3f} | {rmse_sim:.3f} | {mean:+.3f} | {shape} | {lsh_s * 1000:.0f} ms | "
                  f"{len(cands)} | {100 * recall(pairs, cands, threshold):.1f} % |")


def rensa_version():
    from importlib.metadata import version
    return version("rensa")


if __name__ == "__main__":
    main()
