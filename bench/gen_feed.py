#!/usr/bin/env python3
"""Deterministic partner feeds for the benchmark: N products rows, about 3% bad of mixed kinds
("N/A" and empty prices, negative prices, unknown categories, shifted columns, ragged rows,
duplicate keys), with non-ASCII names and quoted commas among the good rows.

usage: gen_feed.py ROWS OUT.csv [--seed S]
"""
import argparse
import csv
import random

CATEGORIES = ["Tools", "Garden", "Kitchen", "Toys", "Electronics"]
NAMES = ["Hammer", "Rake", "Kettle", "Kite", "Lamp", "Gartenschlauch Ø13mm", "Crème brûlée torch",
         "Drill, cordless", "Ruler 12\" steel", "Hose reel"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("rows", type=int)
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    with open(args.out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["sku", "name", "price", "category"])
        for i in range(1, args.rows + 1):
            sku = f"SKU-{i:07d}"
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
                sku = f"SKU-{rnd.randint(1, i - 1):07d}"  # duplicate key
            w.writerow([sku, name, price, cat])


if __name__ == "__main__":
    main()
