#!/usr/bin/env python3
"""Medians and ratios of a benchmark run. usage: summarize.py RESULTS.tsv"""
import statistics
import sys
from collections import defaultdict

times = defaultdict(lambda: defaultdict(list))
rss = defaultdict(lambda: defaultdict(list))
for line in open(sys.argv[1]):
    rows, method, run, seconds, kb = line.rstrip("\n").split("\t")
    times[int(rows)][method].append(float(seconds))
    if kb:
        rss[int(rows)][method].append(int(kb))

ORDER = [
    ("copy", "(a) psql \\copy of the clean rows into a text table"),
    ("seed_load_validate", "(b) seed pipeline: prefilter + \\copy + validation query"),
    ("seed_upsert", "(b) seed pipeline: INSERT … ON CONFLICT transaction"),
    ("seed_total", "(b) seed pipeline end to end"),
    ("hand_replace", "hand-written full replace (LIKE … INCLUDING ALL, insert, rename)"),
    ("replace_total", "hand-written full replace end to end (prefilter, \\copy, validate, replace)"),
    ("pgloader_empty", "(c) pgloader into an empty table"),
    ("pgloader_half", "(c) pgloader into a half-filled table"),
    ("check", "(d) airlock check"),
    ("check_gzip", "(d') airlock check of the same feed gzip-compressed"),
    ("check_xlsx_csv", "(g) airlock check of the xlsx comparison's rows as CSV"),
    ("check_xlsx", "(g') airlock check of the same rows as an xlsx sheet"),
    ("run_upsert", "(e) airlock run --yes, upsert"),
    ("run_upsert_no_undo", "(e') airlock run --yes, upsert, keep_undo = false"),
    ("run_swap", "(f) airlock run --yes, swap"),
]
print("| rows | step | median s | × (a) | × (b)* | peak RSS |")
print("|---:|---|---:|---:|---:|---:|")
for n in sorted(times):
    t = times[n]
    med = {m: statistics.median(v) for m, v in t.items()}
    if "seed_load_validate" in med and "seed_upsert" in med:
        med["seed_total"] = med["seed_load_validate"] + med["seed_upsert"]
    if "seed_load_validate" in med and "hand_replace" in med:
        med["replace_total"] = med["seed_load_validate"] + med["hand_replace"]
    for key, label in ORDER:
        if key not in med:
            continue
        a = med.get("copy")
        b = {"check": "seed_load_validate", "run_upsert": "seed_total", "run_swap": "replace_total",
             "pgloader_empty": "check", "check_gzip": "check",
             "check_xlsx": "check_xlsx_csv", "run_upsert_no_undo": "run_upsert"}.get(key)
        ra = f"{med[key] / a:.1f}" if a else ""
        rb = f"{med[key] / med[b]:.2f}" if b and b in med else ""
        mem = rss[n].get(key)
        mem = f"{max(mem) / 1024:.0f} MB" if mem else ""
        print(f"| {n:,} | {label} | {med[key]:.2f} | {ra} | {rb} | {mem} |")
print()
print("* (d) against (b)'s load+validate; (e) against (b) end to end; (f) against the hand-written")
print("  replace end to end; (c) into an empty table against (d) — Airlock also validates;")
print("  (d') against (d); (g') against (g); (e') against (e), so 1/(e') is what undo data costs.")
