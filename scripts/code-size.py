#!/usr/bin/env python3
"""Lists Rust source files over 800 lines and functions over 150 lines (issue "One house").

Usage: scripts/code-size.py [--max-file N] [--max-fn N] [paths...]   (default: src)
Exits 1 when anything is over. A function's length runs from its `fn` line to the line of its
closing brace; braces inside strings, chars and comments are skipped.
"""
import os
import re
import sys

FN = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?(extern\s+\"[^\"]*\"\s+)?fn\s+(\w+)")


def strip(line, state):
    """The line without comments and string/char literals; state carries a block comment or a
    raw/normal string across lines."""
    out = []
    i, n = 0, len(line)
    while i < n:
        if state["block"]:
            j = line.find("*/", i)
            if j < 0:
                return "".join(out)
            state["block"] -= 1
            i = j + 2
            continue
        if state["str"] is not None:
            end = state["str"]
            if end == '"':
                if line[i] == "\\":
                    i += 2
                    continue
                if line[i] == '"':
                    state["str"] = None
                i += 1
                continue
            j = line.find(end, i)
            if j < 0:
                return "".join(out)
            state["str"] = None
            i = j + len(end)
            continue
        c = line[i]
        if line.startswith("//", i):
            break
        if line.startswith("/*", i):
            state["block"] += 1
            i += 2
            continue
        m = re.match(r'r(#*)"', line[i:])
        if m and (i == 0 or not (line[i - 1].isalnum() or line[i - 1] == "_")):
            state["str"] = '"' + m.group(1)
            i += len(m.group(0))
            continue
        if c == '"':
            state["str"] = '"'
            i += 1
            continue
        if c == "'":
            m = re.match(r"'(\\.|[^\\'])'|'\\u\{[0-9a-fA-F]+\}'|'\\x[0-9a-fA-F]{2}'", line[i:])
            if m:
                i += len(m.group(0))
                continue
        out.append(c)
        i += 1
    return "".join(out)


def functions(lines):
    """(name, first line, last line) of each fn with a body."""
    state = {"block": 0, "str": None}
    stack = []  # (name or None, start line, depth at open)
    depth = 0
    pending = None  # fn seen, body brace not yet
    found = []
    for no, raw in enumerate(lines, 1):
        code = strip(raw, state)
        if pending is None:
            m = FN.match(code)
            if m:
                pending = (m.group(7), no)
        for c in code:
            if c == "{":
                if pending is not None:
                    stack.append((pending[0], pending[1], depth))
                    pending = None
                else:
                    stack.append((None, no, depth))
                depth += 1
            elif c == "}":
                depth -= 1
                if stack:
                    name, start, _ = stack.pop()
                    if name is not None:
                        found.append((name, start, no))
            elif c == ";" and pending is not None:
                pending = None  # a declaration without a body (trait method)
    return found


def main():
    args = sys.argv[1:]
    max_file, max_fn = 800, 150
    paths = []
    while args:
        a = args.pop(0)
        if a == "--max-file":
            max_file = int(args.pop(0))
        elif a == "--max-fn":
            max_fn = int(args.pop(0))
        else:
            paths.append(a)
    paths = paths or ["src"]
    over = 0
    for root in paths:
        walk = [(root, [], [os.path.basename(root)])] if os.path.isfile(root) else os.walk(root)
        for d, _, files in walk:
            for f in sorted(files):
                p = root if os.path.isfile(root) else os.path.join(d, f)
                if not p.endswith(".rs"):
                    continue
                lines = open(p, encoding="utf-8").read().split("\n")
                if lines and lines[-1] == "":
                    lines.pop()
                if len(lines) > max_file:
                    print(f"{p}: {len(lines)} lines (max {max_file})")
                    over += 1
                for name, a, b in functions(lines):
                    if b - a + 1 > max_fn:
                        print(f"{p}:{a}: fn {name} is {b - a + 1} lines (max {max_fn})")
                        over += 1
    if over:
        print(f"{over} over the limits")
        sys.exit(1)
    print("no file or function over the limits")


if __name__ == "__main__":
    main()
