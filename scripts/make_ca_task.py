#!/usr/bin/env python3
"""A small grid task that is neither Sudoku nor a maze, for `trm data build grid` (README,
"Your own puzzle type"): one step of an elementary cellular automaton on a ring.

Each example is a row of cells ('.' dead, '#' alive); the output is the row after one step of
the rule (Wolfram numbering, 110 by default). Writes OUT/train.jsonl and OUT/test.jsonl, one
{"input": "...", "output": "..."} per line, with test rows that never occur in training.

    python3 scripts/make_ca_task.py --out data/ca-raw --train 2000 --test 500
    trm data build grid --train data/ca-raw/train.jsonl --test data/ca-raw/test.jsonl --out data/ca
"""
import argparse
import json
import os
import random


def step(cells, rule):
    n = len(cells)
    out = []
    for i in range(n):
        left, mid, right = cells[i - 1], cells[i], cells[(i + 1) % n]
        out.append((rule >> (left * 4 + mid * 2 + right)) & 1)
    return out


def text(cells):
    return "".join("#" if c else "." for c in cells)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--train", type=int, default=2000)
    ap.add_argument("--test", type=int, default=500)
    ap.add_argument("--length", type=int, default=24)
    ap.add_argument("--rule", type=int, default=110)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if not 0 <= a.rule <= 255 or a.length < 3:
        ap.error("--rule must be 0..255 and --length at least 3")
    if a.train + a.test > 2 ** a.length // 2:
        ap.error("ask for fewer examples: there are only %d distinct rows" % 2 ** a.length)
    rng = random.Random(a.seed)
    seen = set()
    rows = []
    while len(rows) < a.train + a.test:
        cells = [rng.randint(0, 1) for _ in range(a.length)]
        key = tuple(cells)
        if key in seen:
            continue
        seen.add(key)
        rows.append(cells)
    os.makedirs(a.out, exist_ok=True)
    for name, part in (("train", rows[: a.train]), ("test", rows[a.train :])):
        with open(os.path.join(a.out, name + ".jsonl"), "w") as f:
            for cells in part:
                f.write(json.dumps({"input": text(cells), "output": text(step(cells, a.rule))}) + "\n")
    print(json.dumps({"out": a.out, "train": a.train, "test": a.test, "length": a.length, "rule": a.rule}))


if __name__ == "__main__":
    main()
