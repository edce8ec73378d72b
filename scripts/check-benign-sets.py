#!/usr/bin/env python3
"""Checks the hand-written benign moderation sets in data/ (see data/README.md).

Usage: scripts/check-benign-sets.py [--root DIR]   (default: the repository root)

Verifies, for data/moderation_benign_{short,answers}_{eval,train}.jsonl:
  - every line is a JSON object {"text": <non-empty string>, "labels": {}} (UTF-8, nothing else);
  - no duplicate text within a file, nor between any two of the files (after normalisation,
    below);
  - no text shared between an eval file and a train file (after normalisation), and no
    eval/train pair that is a near-copy (similarity >= 0.9 after normalisation);
  - no text of data/moderation_challenge.jsonl equals, contains or is contained in one of them
    (after normalisation; containment only for texts of 20+ normalised characters), and none is
    a near-copy of one (similarity >= 0.8);
  - each file holds at least its minimum number of lines;
  - the short eval file holds the lines "hi", "hello", "thanks" and "ok" exactly.
Prints the counts per file; exits 1 if any check fails.

Normalisation: Unicode NFKC, lowercase, then every punctuation, separator (space), control and
format character and emoji variation selector removed. A text that normalises to nothing ("?",
"...") is compared by its stripped raw text instead.
"""
import argparse
import difflib
import json
import os
import sys
import unicodedata

FILES = [
    # (path, minimum, role)
    ("data/moderation_benign_short_eval.jsonl", 250, "eval"),
    ("data/moderation_benign_answers_eval.jsonl", 200, "eval"),
    ("data/moderation_benign_short_train.jsonl", 400, "train"),
    ("data/moderation_benign_answers_train.jsonl", 400, "train"),
]
CHALLENGE = "data/moderation_challenge.jsonl"
REQUIRED_SHORT = ["hi", "hello", "thanks", "ok"]
NEAR_EVAL_TRAIN = 0.9
NEAR_CHALLENGE = 0.8
MIN_NEAR_LEN = 15  # normalised characters; shorter texts are compared for equality only
MIN_CONTAIN_LEN = 20


def norm(text):
    t = unicodedata.normalize("NFKC", text).lower()
    out = "".join(
        c for c in t
        if unicodedata.category(c)[0] not in "PZC" and c not in "\ufe0e\ufe0f"
    )
    return out if out else "raw:" + text.strip()


def read_set(path, errors):
    """The texts of one benign file, in order; format problems go to errors."""
    texts = []
    try:
        raw = open(path, "rb").read()
    except OSError as e:
        errors.append(f"{path}: cannot read ({e})")
        return texts
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        errors.append(f"{path}: not UTF-8 ({e})")
        return texts
    if content and not content.endswith("\n"):
        errors.append(f"{path}: last line has no newline")
    for n, line in enumerate(content.split("\n")[:-1] if content else [], 1):
        where = f"{path}:{n}"
        if not line.strip():
            errors.append(f"{where}: blank line")
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"{where}: bad JSON ({e})")
            continue
        if not isinstance(obj, dict):
            errors.append(f"{where}: not a JSON object")
            continue
        if set(obj) != {"text", "labels"}:
            errors.append(f"{where}: keys must be exactly text and labels, got {sorted(obj)}")
        text = obj.get("text")
        if not isinstance(text, str) or not text.strip():
            errors.append(f"{where}: text must be a non-empty string")
            continue
        if text != text.strip():
            errors.append(f"{where}: text has leading or trailing whitespace: {text!r}")
        if obj.get("labels") != {}:
            errors.append(f"{where}: labels must be {{}} (benign), got {obj.get('labels')!r}")
        texts.append(text)
    return texts


def near(a, b, threshold):
    """Whether two normalised texts are near-copies (difflib ratio >= threshold)."""
    if len(a) < MIN_NEAR_LEN or len(b) < MIN_NEAR_LEN:
        return False
    if 2 * min(len(a), len(b)) / (len(a) + len(b)) < threshold:  # the ratio's upper bound
        return False
    m = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return m.real_quick_ratio() >= threshold and m.quick_ratio() >= threshold and m.ratio() >= threshold


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    args = ap.parse_args()
    os.chdir(args.root)

    errors = []
    sets = {}
    for path, minimum, role in FILES:
        texts = read_set(path, errors)
        sets[path] = texts
        seen = {}
        for i, t in enumerate(texts, 1):
            k = norm(t)
            if k in seen:
                errors.append(f"{path}:{i}: duplicate of line {seen[k]} after normalisation: {t!r}")
            else:
                seen[k] = i
        if len(texts) < minimum:
            errors.append(f"{path}: {len(texts)} lines, fewer than the minimum {minimum}")

    short_eval = set(sets[FILES[0][0]])
    for req in REQUIRED_SHORT:
        if req not in short_eval:
            errors.append(f"{FILES[0][0]}: required line {req!r} missing")

    for i, (a, _, _) in enumerate(FILES):
        for b, _, _ in FILES[i + 1:]:
            bnorm = {norm(t): t for t in sets[b]}
            for t in sets[a]:
                if norm(t) in bnorm:
                    errors.append(f"shared between {a} and {b}: {t!r} / {bnorm[norm(t)]!r}")

    evals = [p for p, _, r in FILES if r == "eval"]
    trains = [p for p, _, r in FILES if r == "train"]
    for e in evals:
        for tr in trains:
            tnorm = {}
            for t in sets[tr]:
                tnorm.setdefault(norm(t), t)
            for t in sets[e]:
                a = norm(t)
                for k, u in tnorm.items():
                    if a != k and near(a, k, NEAR_EVAL_TRAIN):
                        errors.append(f"near-copy between {e} and {tr}: {t!r} / {u!r}")

    challenge = []
    for n, line in enumerate(open(CHALLENGE, encoding="utf-8"), 1):
        if line.strip():
            challenge.append(json.loads(line)["text"])
    cnorm = [(norm(c), c) for c in challenge]
    for path, _, _ in FILES:
        for t in sets[path]:
            a = norm(t)
            for k, c in cnorm:
                if a == k:
                    errors.append(f"{path}: text of the challenge set: {t!r}")
                elif len(a) >= MIN_CONTAIN_LEN and len(k) >= MIN_CONTAIN_LEN and (a in k or k in a):
                    errors.append(f"{path}: contains or is contained in a challenge text: {t!r} / {c!r}")
                elif near(a, k, NEAR_CHALLENGE):
                    errors.append(f"{path}: near-copy of a challenge text: {t!r} / {c!r}")

    print(f"{'file':48} {'lines':>6} {'minimum':>8}")
    total = 0
    for path, minimum, role in FILES:
        n = len(sets[path])
        total += n
        words = [len(t.split()) for t in sets[path]]
        median = sorted(words)[len(words) // 2] if words else 0
        print(f"{path:48} {n:>6} {minimum:>8}   ({role}; words per text: median {median}, max {max(words, default=0)})")
    print(f"{'total':48} {total:>6}")
    print(f"required short lines present: {', '.join(r for r in REQUIRED_SHORT if r in short_eval)}")
    print(f"challenge texts compared: {len(challenge)}")
    if errors:
        print(f"\n{len(errors)} problem(s):")
        for e in errors:
            print("  " + e)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
