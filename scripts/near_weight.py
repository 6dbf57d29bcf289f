#!/usr/bin/env python3
"""What counting `near_duplicate_prompts` at a weight would change, from a report of every group.

    distillguard simulate --seed 64 --variation 0.5 --out DIR
    distillguard scan -q DIR/logs.ndjson.gz --min-score 0 --out DIR/all.json
    scripts/near_weight.py DIR [DIR...]

The signal does not change how accounts are grouped, so a group's score with it counted is
sigmoid(-6 + its contributions + weight x strength x its coordination factor), the factor being
clamp(extraction points / 4, 0.25, 1) as in src/detect/score.rs. An account is flagged when its
group then scores 0.5 or more. Prints precision, recall and the legitimate false-positive rate at
weights 0, 1.0 and 1.5, and the legitimate groups holding near-duplicates with the highest scores.
"""

import csv
import json
import math
import os
import sys

EXTRACTION = {"reasoning_elicitation", "rubric_grading", "agentic_tool_use", "coding_tasks",
              "single_turn", "long_outputs", "topic_sweep"}


def main():
    for d in sys.argv[1:]:
        with open(os.path.join(d, "labels.csv"), newline="") as f:
            labels = {r["account_id"]: (r["class"], r["kind"] == "campaign") for r in csv.DictReader(f)}
        with open(os.path.join(d, "all.json")) as f:
            clusters = json.load(f)["clusters"]
        cells = []
        for weight in (0.0, 1.0, 1.5):
            flagged = set()
            for c in clusters:
                logit = -6 + sum(s["contribution"] for s in c["signals"])
                near = [s for s in c["signals"] if s["name"] == "near_duplicate_prompts"]
                if near:
                    points = sum(s["contribution"] for s in c["signals"] if s["name"] in EXTRACTION)
                    logit += weight * near[0]["score"] * min(max(points / 4, 0.25), 1)
                if 1 / (1 + math.exp(-logit)) >= 0.5:
                    flagged.update(c["accounts"])
            tp = sum(1 for a, (_, camp) in labels.items() if camp and a in flagged)
            fp = sum(1 for a, (_, camp) in labels.items() if not camp and a in flagged)
            campaign = sum(1 for _, camp in labels.values() if camp)
            precision = tp / (tp + fp) if tp + fp else 1.0
            cells.append(f"weight {weight}: precision {precision:.3f}, recall {tp / campaign:.3f}, "
                         f"legit FPR {100 * fp / (len(labels) - campaign):.2f} %")
        legit = []
        for c in clusters:
            near = [s for s in c["signals"] if s["name"] == "near_duplicate_prompts"]
            if near and not any(labels.get(a, ("", False))[1] for a in c["accounts"]):
                classes = "/".join(sorted({labels.get(a, ("?", False))[0] for a in c["accounts"]}))
                legit.append((c["score"], near[0]["score"], c["size"], classes))
        legit.sort(reverse=True)
        print(f"{os.path.basename(os.path.normpath(d))}: " + "; ".join(cells))
        print("  legitimate groups with near-duplicates, highest scores (score, strength, size, classes):",
              legit[:4])


if __name__ == "__main__":
    main()
