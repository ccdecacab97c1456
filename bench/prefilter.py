#!/usr/bin/env python3
"""The case study's pipeline made robust, step 1: drop ragged rows so `\\copy` accepts the
file. usage: prefilter.py IN.csv OUT.csv"""
import csv
import sys

with open(sys.argv[1], newline="", encoding="utf-8") as src, open(sys.argv[2], "w", newline="", encoding="utf-8") as dst:
    r = csv.reader(src)
    w = csv.writer(dst, lineterminator="\n")
    header = next(r)
    w.writerow(header)
    w.writerows(row for row in r if len(row) == len(header))
