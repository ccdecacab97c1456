#!/usr/bin/env python3
"""Deterministic partner feeds for the benchmark: N products rows, about 3% bad of mixed kinds
("N/A" and empty prices, negative prices, unknown categories, shifted columns, ragged rows,
duplicate keys), with non-ASCII names and quoted commas among the good rows.

The keys' shape: `sorted` (SKU-1, SKU-2, … in file order), `random` (every key once, in a
scrambled order), `repeats` (each key about four times, scrambled). SKUs are zero-padded to
`--width` digits (at least the digits of ROWS).

usage: gen_feed.py ROWS OUT.csv [--seed S] [--shape sorted|random|repeats] [--width W]
"""
import argparse
import csv
import math
import random

CATEGORIES = ["Tools", "Garden", "Kitchen", "Toys", "Electronics"]
NAMES = ["Hammer", "Rake", "Kettle", "Kite", "Lamp", "Gartenschlauch Ø13mm", "Crème brûlée torch",
         "Drill, cordless", "Ruler 12\" steel", "Hose reel"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("rows", type=int)
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--shape", choices=["sorted", "random", "repeats"], default="sorted")
    ap.add_argument("--width", type=int, default=7)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    n = args.rows
    width = max(args.width, len(str(n)))
    # A bijection of 1..n that scrambles the order (a multiplier coprime to n).
    step = max(1, int(n * 0.6180339887))
    while math.gcd(step, n) != 1:
        step += 1
    distinct = max(1, n // 4) if args.shape == "repeats" else n

    def key(i):
        if args.shape == "sorted":
            return i
        return ((i - 1) * step % n) % distinct + 1

    with open(args.out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["sku", "name", "price", "category"])
        for i in range(1, args.rows + 1):
            sku = f"SKU-{key(i):0{width}d}"
            name = f"{NAMES[i % len(NAMES)]} {i}"
            price = f"{rnd.randint(100, 99999) / 100:.2f}"
            cat = CATEGORIES[i % len(CATEGORIES)]
            r = rnd.random()
            if r < 0.005:
                price = "N/A"
            elif r < 0.008:
                price = ""
            elif r < 0.012:
                price = f"-{price}"
            elif r < 0.018:
                cat = rnd.choice(["Gadgets", "Toys & Games", "Misc"])
            elif r < 0.021:
                # shifted: the name is missing, price and category slide left
                w.writerow([sku, price, cat, ""])
                continue
            elif r < 0.024:
                w.writerow([sku, name, price])  # ragged
                continue
            elif r < 0.030 and i > 10:
                sku = f"SKU-{key(rnd.randint(1, i - 1)):0{width}d}"  # duplicate key
            w.writerow([sku, name, price, cat])


if __name__ == "__main__":
    main()
