#!/usr/bin/env python3
"""Two reference detectors for distillation campaigns, to measure distillguard against.

Both read the same request log distillguard reads (NDJSON, plain or gzip, fields as in the
contract) and write a report in the contract's shape, so one evaluator can score all three:

    {"clusters": [{"id", "score", "accounts": [...], "signals": [{"name", "score", "detail"}]}]}

keyword  The rule an operator would write first: an account with at least --min-requests
         requests of which more than --min-share ask for step-by-step reasoning is flagged.
         Every flagged account is a cluster of one.

fraudar  Fraudar (Hooi et al., KDD 2016; PyPI rgmining-fraudar) on the bipartite graph
         accounts x shared attribute values. Each detected dense block's accounts form one
         cluster; the block's accounts are then removed and the search repeated, up to
         --blocks times or until a block is less than --min-density as dense as the first.

Usage:
    baselines.py keyword LOG --out REPORT.json
    baselines.py fraudar LOG --out REPORT.json [--blocks 10] [--min-density 0.5]
"""

import argparse
import contextlib
import gzip
import hashlib
import io
import ipaddress
import json
import re
import sys
import time
from collections import defaultdict

# --- reading the log -------------------------------------------------------------------------

def open_log(path):
    """Plain or gzip NDJSON; '-' is standard input. Gzip is recognised by its magic bytes."""
    if path == "-":
        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
    with open(path, "rb") as f:
        magic = f.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, "rt", encoding="utf-8", errors="replace")


def text_of(content):
    """Message content is a string, or (in newer chat APIs) a list of {type, text} parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def prompt_of(rec):
    """`prompt`, else the last user message of `messages` (as the contract says)."""
    p = rec.get("prompt")
    if isinstance(p, str):
        return p
    for m in reversed(rec.get("messages") or []):
        if isinstance(m, dict) and m.get("role") == "user":
            return text_of(m.get("content"))
    return ""


def system_prompt_of(rec):
    s = rec.get("system_prompt")
    if isinstance(s, str):
        return s
    for m in rec.get("messages") or []:
        if isinstance(m, dict) and m.get("role") == "system":
            return text_of(m.get("content"))
    return ""


def records(path):
    """Yields usable records; a bad line is skipped with a note, never fatal (like distillguard)."""
    bad = 0
    with open_log(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                bad += 1
                continue
            if not isinstance(rec, dict) or not isinstance(rec.get("account_id"), str):
                bad += 1
                continue
            yield rec
    if bad:
        print(f"skipped {bad} unusable lines", file=sys.stderr)


# --- keyword baseline ------------------------------------------------------------------------

# Phrases that ask the model to show its reasoning. Deliberately the obvious list a person would
# write from reading a few extraction prompts; it is a baseline, not a tuned lexicon.
REASONING = re.compile(
    r"step[ -]by[ -]step"
    r"|one step at a time"
    r"|show (all )?(of )?your (work|working|reasoning|steps|thinking)"
    r"|explain your (reasoning|thinking|thought process)"
    r"|explain each step"
    r"|think(ing)? (it )?through"
    r"|walk me through"
    r"|chain[ -]of[ -]thought"
    r"|reason carefully"
    r"|let'?s think",
    re.IGNORECASE,
)


def keyword(path, min_requests=20, min_share=0.5):
    total = defaultdict(int)
    asks = defaultdict(int)
    t_read = time.perf_counter()
    for rec in records(path):
        a = rec["account_id"]
        total[a] += 1
        if REASONING.search(prompt_of(rec)):
            asks[a] += 1
    t_detect = time.perf_counter()
    clusters = []
    for a, n in total.items():
        share = asks[a] / n
        if n >= min_requests and share > min_share:
            clusters.append({
                "id": f"kw-{a}",
                "score": round(share, 4),
                "accounts": [a],
                "signals": [{
                    "name": "asks_for_reasoning",
                    "score": round(share, 4),
                    "detail": f"{asks[a]} of {n} requests ask for step-by-step reasoning",
                }],
            })
    clusters.sort(key=lambda c: (-c["score"], c["id"]))
    t_end = time.perf_counter()
    return clusters, {"read_s": t_detect - t_read, "detect_s": t_end - t_detect}


# --- Fraudar baseline ------------------------------------------------------------------------

def attributes(rec):
    """The (kind, value) pairs that can tie accounts together."""
    out = []
    for kind in ("ip", "user_agent", "tls_fingerprint", "payment_fingerprint", "email_domain", "asn"):
        v = rec.get(kind)
        if v is not None and v != "":
            out.append((kind, str(v)))
    ip = rec.get("ip")
    if isinstance(ip, str) and ip:
        # A campaign rotating addresses often stays inside one block: /24 for IPv4, /64 for IPv6.
        try:
            addr = ipaddress.ip_address(ip)
            bits = 24 if addr.version == 4 else 64
            out.append(("subnet", str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))))
        except ValueError:
            pass
    sp = system_prompt_of(rec)
    if sp:
        out.append(("system_prompt", hashlib.sha1(sp.encode("utf-8")).hexdigest()[:16]))
    return out


def build_graph(path):
    """Account -> set of attribute values, keeping only values held by at least two accounts
    (a value only one account has cannot tie anyone together and only adds noise)."""
    holders = defaultdict(set)
    for rec in records(path):
        a = rec["account_id"]
        for attr in attributes(rec):
            holders[attr].add(a)
    shared = {v: accts for v, accts in holders.items() if len(accts) >= 2}
    accounts = sorted({a for accts in shared.values() for a in accts})
    values = sorted(shared)
    row = {a: i for i, a in enumerate(accounts)}
    edges = [(row[a], j) for j, v in enumerate(values) for a in shared[v]]
    return accounts, values, edges


def fraudar(path, blocks=10, min_density=0.5, min_accounts=2):
    # Imported here so the keyword baseline runs without the scientific stack.
    import numpy as np
    from scipy import sparse
    from fraudar.export.greedy import logWeightedAveDegree

    t_read = time.perf_counter()
    accounts, values, edges = build_graph(path)
    t_detect = time.perf_counter()

    found = []
    if edges:
        rows, cols = zip(*edges)
        m = sparse.coo_matrix(
            (np.ones(len(edges), dtype=int), (rows, cols)), shape=(len(accounts), len(values))
        ).tocsr()
        for _ in range(blocks):
            if m.nnz == 0:
                break
            # The library's greedy peeling with log-weighted columns (Fraudar's default, which
            # discounts values that very many accounts share). It prints progress; silence it.
            with contextlib.redirect_stdout(io.StringIO()):
                (row_set, col_set), density = logWeightedAveDegree(m)
            # Only accounts that actually hold one of the block's values belong to it.
            sub = m[sorted(row_set), :][:, sorted(col_set)]
            members = [r for r, d in zip(sorted(row_set), np.asarray(sub.sum(axis=1)).ravel()) if d > 0]
            if len(members) < min_accounts:
                break
            # Fraudar has no threshold of its own: it always returns the densest block left,
            # however ordinary. Once the shared values that tie campaigns are used up, what
            # remains is the big diffuse blocks of common ASNs, user agents and e-mail domains.
            # Stop when a block is less than min_density as dense as the first one.
            if found and density < min_density * found[0][2]:
                break
            found.append((members, sorted(col_set), float(density)))
            # Peel: drop every edge of the block's accounts, so each account lands in one block
            # and the next search finds the next densest group.
            keep = np.ones(m.shape[0])
            keep[members] = 0
            m = sparse.diags(keep) @ m
            m.eliminate_zeros()
    t_end = time.perf_counter()

    top = max((d for _, _, d in found), default=1.0) or 1.0
    clusters = []
    for k, (members, cols, density) in enumerate(found):
        kinds = defaultdict(int)
        for j in cols:
            kinds[values[j][0]] += 1
        detail = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items(), key=lambda x: -x[1]))
        score = round(density / top, 4)
        clusters.append({
            "id": f"fraudar-{k + 1}",
            "score": score,
            "accounts": sorted(accounts[r] for r in members),
            "signals": [{
                "name": "dense_shared_attributes",
                "score": score,
                "detail": f"block {k + 1}: {len(members)} accounts x {len(cols)} shared values "
                          f"({detail}); log-weighted density {density:.3f}",
            }],
        })
    clusters.sort(key=lambda c: -c["score"])
    stats = {
        "read_s": t_detect - t_read,
        "detect_s": t_end - t_detect,
        "graph_accounts": len(accounts),
        "graph_values": len(values),
        "graph_edges": len(edges),
    }
    return clusters, stats


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("method", choices=["keyword", "fraudar"])
    ap.add_argument("log", help="NDJSON request log, plain or .gz; '-' for standard input")
    ap.add_argument("--out", required=True, help="where to write the report JSON")
    ap.add_argument("--min-requests", type=int, default=20, help="keyword: requests an account needs (default 20)")
    ap.add_argument("--min-share", type=float, default=0.5,
                    help="keyword: share of reasoning requests that must be exceeded (default 0.5)")
    ap.add_argument("--blocks", type=int, default=10, help="fraudar: most blocks to peel (default 10)")
    ap.add_argument("--min-density", type=float, default=0.5,
                    help="fraudar: stop at a block less dense than this share of the first (default 0.5; 0 keeps all)")
    args = ap.parse_args()

    if args.method == "keyword":
        clusters, stats = keyword(args.log, args.min_requests, args.min_share)
    else:
        clusters, stats = fraudar(args.log, args.blocks, args.min_density)
    report = {"clusters": clusters, "timing": stats}
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    flagged = sum(len(c["accounts"]) for c in clusters)
    print(f"{args.method}: {len(clusters)} clusters, {flagged} accounts; "
          f"read {stats['read_s']:.2f}s, detect {stats['detect_s']:.2f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
