#!/usr/bin/env python3
"""Side-by-side per-category precision / recall / F1 of two moderators on the same files.

    tinychat eval moderation --model A --data X --data Y --json > a.json
    tinychat eval moderation --model B --data X --data Y --json > b.json
    scripts/compare-moderators.py a.json b.json --names old new   # Markdown on stdout

Each input is `eval moderation --json` output (an array of reports, one per --data file, in the
same order in both).
"""
import argparse
import json
import os


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--names", nargs=2, default=["A", "B"])
    args = ap.parse_args()
    ra, rb = (json.load(open(p)) for p in (args.a, args.b))
    na, nb = args.names
    print(f"| data | {na} macro F1 | {na} benign FPR | {nb} macro F1 | {nb} benign FPR |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for x, y in zip(ra, rb):
        name = os.path.basename(x["data"])
        mf = lambda r: f"{r['macro_f1']:.3f}" if r["macro_categories"] else "—"
        fpr = lambda r: f"{100 * r['false_positive_rate']:.2f}% ({r['benign_flagged']}/{r['benign']})"
        print(f"| {name} | {mf(x)} | {fpr(x)} | {mf(y)} | {fpr(y)} |")
    for x, y in zip(ra, rb):
        if not x["macro_categories"]:
            continue
        print()
        print(f"**{os.path.basename(x['data'])}** ({x['examples']} texts)")
        print()
        print(f"| category | positives | {na} P | {na} R | {na} F1 | {nb} P | {nb} R | {nb} F1 |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        cy = {c["category"]: c for c in y["categories"]}
        for c in x["categories"]:
            if c["positives"] == 0:
                continue
            d = cy[c["category"]]
            print(
                f"| {c['category']} | {c['positives']} | {c['precision']:.2f} | {c['recall']:.2f} | {c['f1']:.2f} "
                f"| {d['precision']:.2f} | {d['recall']:.2f} | {d['f1']:.2f} |"
            )


if __name__ == "__main__":
    main()
