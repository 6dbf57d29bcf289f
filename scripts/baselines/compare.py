#!/usr/bin/env python3
"""Runs distillguard and the two baselines on one simulated log and prints one markdown table.

    compare.py DIR [--distillguard target/release/distillguard] [--python PYTHON]

DIR is what `distillguard simulate --out DIR` wrote (logs.ndjson.gz, labels.csv). Reports land
next to it: dg.json, keyword.json, fraudar.json, fraudar-k10.json.

Every method is scored by the same code below from labels.csv, so none is favoured by how it is
counted: an account is flagged when it is in any cluster of the method's report.
"""

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def read_labels(path):
    """account_id -> (class, is_campaign), from `account_id,class,kind,campaign`."""
    out = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            out[row["account_id"]] = (row["class"], row["kind"] == "campaign")
    return out


def flagged_accounts(report_path):
    with open(report_path) as f:
        report = json.load(f)
    return {a for c in report.get("clusters", []) for a in c.get("accounts", [])}, report


def score(labels, flagged):
    """Precision, recall, legitimate false-positive rate and the worst legitimate class.
    Flagged accounts missing from the labels are ignored, as `distillguard eval` does."""
    tp = sum(1 for a, (_, camp) in labels.items() if camp and a in flagged)
    fp = sum(1 for a, (_, camp) in labels.items() if not camp and a in flagged)
    n_camp = sum(1 for _, camp in labels.values() if camp)
    n_legit = len(labels) - n_camp
    per_class = {}
    for a, (cls, camp) in labels.items():
        if not camp:
            n, f = per_class.get(cls, (0, 0))
            per_class[cls] = (n + 1, f + (a in flagged))
    # The legitimate class hurt most: a detector that wipes out one class of real customers
    # can still show a small overall false-positive rate when that class is small.
    worst = max(per_class.items(), key=lambda kv: (kv[1][1] / kv[1][0], kv[1][1]))
    return {
        "flagged": tp + fp,
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / n_camp if n_camp else None,
        "fpr": fp / n_legit if n_legit else None,
        "worst": (worst[0], worst[1][1], worst[1][0]),
    }


def timed(cmd):
    """Wall time of a whole run as a user would see it, start-up and log reading included, and
    what the run wrote on standard error."""
    t = time.perf_counter()
    done = subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return time.perf_counter() - t, done.stderr


def dg_detect_s(stderr):
    """distillguard's cross-account stage, from the `scan phases` line `scan -v` logs."""
    m = re.search(r"detect_ms=(\d+)", stderr)
    return int(m.group(1)) / 1000 if m else None


def secs(x):
    """Seconds, or milliseconds when under a tenth of a second (the keyword rule's detection)."""
    return f"{x:.2f} s" if x >= 0.1 else f"{1000 * x:.1f} ms"


def pct(x):
    return "n/a" if x is None else f"{100 * x:.1f}%"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--distillguard", default="target/release/distillguard")
    ap.add_argument("--python", default=sys.executable, help="interpreter with the baselines' requirements")
    ap.add_argument("--by-class", action="store_true", help="also print each class's flagged rate per method")
    args = ap.parse_args()

    d = args.dir
    log = os.path.join(d, "logs.ndjson.gz")
    labels = read_labels(os.path.join(d, "labels.csv"))
    base = [args.python, os.path.join(HERE, "baselines.py")]

    runs = [
        ("distillguard", "dg.json",
         lambda out: [args.distillguard, "scan", "-q", "-v", log, "--out", out]),
        ("keyword rule", "keyword.json",
         lambda out: base + ["keyword", log, "--out", out]),
        ("Fraudar (blocks ≥ ½ top density)", "fraudar.json",
         lambda out: base + ["fraudar", log, "--out", out]),
        ("Fraudar (all 10 blocks)", "fraudar-k10.json",
         lambda out: base + ["fraudar", log, "--out", out, "--min-density", "0"]),
    ]

    rows = []
    for name, file, cmd in runs:
        out = os.path.join(d, file)
        wall, stderr = timed(cmd(out))
        flagged, report = flagged_accounts(out)
        m = score(labels, flagged)
        # Detection alone, without reading the log: the baselines time it themselves, and
        # distillguard logs its cross-account stage with -v.
        detect = report.get("timing", {}).get("detect_s")
        if name == "distillguard":
            detect = dg_detect_s(stderr)
        rows.append((name, m, wall, detect, flagged))
        if name == "distillguard":
            cross_check(args.distillguard, os.path.join(d, "labels.csv"), out, m)

    n_camp = sum(1 for _, camp in labels.values() if camp)
    print(f"\n{os.path.basename(os.path.normpath(d))}: {len(labels)} accounts, {n_camp} in campaigns\n")
    print("| method | flagged | precision | recall | legitimate FPR | worst legitimate class | wall time | of which detection |")
    print("|---|---:|---:|---:|---:|---|---:|---:|")
    for name, m, wall, detect, _ in rows:
        cls, f, n = m["worst"]
        worst = f"{cls} {pct(f / n)} ({f}/{n})" if f else "none flagged"
        det = "—" if detect is None else secs(detect)
        print(f"| {name} | {m['flagged']} | {pct(m['precision'])} | {pct(m['recall'])} | "
              f"{100 * m['fpr']:.2f}% | {worst} | {secs(wall)} | {det} |")

    if args.by_class:
        by_class(labels, rows)


def by_class(labels, rows):
    """Which classes each method catches (campaigns) or hurts (legitimate)."""
    classes = sorted({(camp, cls) for cls, camp in labels.values()}, key=lambda x: (not x[0], x[1]))
    print("\n| class | kind | accounts | " + " | ".join(r[0] for r in rows) + " |")
    print("|---|---|---:|" + "---:|" * len(rows))
    for camp, cls in classes:
        members = [a for a, (c, k) in labels.items() if c == cls and k == camp]
        cells = [pct(sum(a in r[4] for a in members) / len(members)) for r in rows]
        print(f"| {cls} | {'campaign' if camp else 'legit'} | {len(members)} | " + " | ".join(cells) + " |")


def cross_check(dg, labels_path, report_path, m):
    """The scoring here must agree with `distillguard eval`; say so loudly if it does not."""
    try:
        out = subprocess.run([dg, "eval", "--labels", labels_path, "--report", report_path,
                              "--format", "json"], check=True, capture_output=True, text=True).stdout
        e = json.loads(out)
    except (subprocess.CalledProcessError, ValueError) as err:
        print(f"note: could not cross-check with distillguard eval: {err}", file=sys.stderr)
        return
    if (e["true_positives"] + e["false_positives"] != m["flagged"]
            or abs(e["recall"] - m["recall"]) > 1e-9 or abs(e["false_positive_rate"] - m["fpr"]) > 1e-9):
        print(f"WARNING: metrics differ from distillguard eval: {e['precision']=} {e['recall']=} "
              f"{e['false_positive_rate']=}", file=sys.stderr)


if __name__ == "__main__":
    main()
