#!/usr/bin/env python3
"""Medians, ratios, growth, stages and correctness of a benchmark run.
usage: summarize.py OUT_DIR (results.tsv, stages.tsv, correctness.tsv)"""
import os
import statistics
import sys
from collections import defaultdict

out = sys.argv[1]
times = defaultdict(lambda: defaultdict(list))
rss = defaultdict(lambda: defaultdict(list))
disk = defaultdict(lambda: defaultdict(list))
for line in open(os.path.join(out, "results.tsv")):
    rows, method, run, seconds, kb, staging = (line.rstrip("\n").split("\t") + [""])[:6]
    times[int(rows)][method].append(float(seconds))
    if kb:
        rss[int(rows)][method].append(int(kb))
    if staging:
        disk[int(rows)][method].append(int(staging))

ORDER = [
    ("copy", "floor: psql \\copy of the file into a text table"),
    ("copy_typed", "floor: COPY of the clean typed rows into a copy of the target"),
    ("merge", "floor: bare MERGE of the typed rows into the target"),
    ("seed_upsert", "floor: INSERT … ON CONFLICT of the typed rows"),
    ("seed_load_validate", "hand pipeline: prefilter + \\copy + validation SQL"),
    ("seed_total", "hand pipeline end to end (+ INSERT … ON CONFLICT)"),
    ("replace_total", "hand full replace end to end (LIKE, insert, rename)"),
    ("sling_upsert", "Sling load + the same validation and upsert SQL"),
    ("pgloader_empty", "pgloader into an empty table"),
    ("pgloader_half", "pgloader into a half-filled table"),
    ("check", "airlock check"),
    ("check_gzip", "airlock check, the feed gzip-compressed"),
    ("check_xlsx_csv", "airlock check, the xlsx comparison's rows as CSV"),
    ("check_xlsx", "airlock check, the same rows as an xlsx sheet"),
    ("run_upsert", "airlock run --yes, upsert (undo kept)"),
    ("run_upsert_no_undo", "airlock run --yes, upsert, keep_undo = false"),
    ("run_swap", "airlock run --yes, swap"),
]
# Each step against what it is compared with: (floor, peer).
AGAINST = {
    "check": ("copy", "seed_load_validate"),
    "check_gzip": ("copy", "check"),
    "check_xlsx": (None, "check_xlsx_csv"),
    "run_upsert": ("merge", "seed_total"),
    "run_upsert_no_undo": ("merge", "run_upsert"),
    "run_swap": ("copy_typed", "replace_total"),
    "sling_upsert": ("merge", "run_upsert"),
    "seed_total": ("merge", None),
}


def mb(values):
    return f"{max(values) / 1048576:.0f} MB" if values else ""


med = {}
for n in sorted(times):
    m = {k: statistics.median(v) for k, v in times[n].items()}
    if "seed_load_validate" in m and "seed_upsert" in m:
        m["seed_total"] = m["seed_load_validate"] + m["seed_upsert"]
    if "seed_load_validate" in m and "hand_replace" in m:
        m["replace_total"] = m["seed_load_validate"] + m["hand_replace"]
    med[n] = m

print("| rows | step | median s | s per M rows | × floor | × peer | peak RSS | staging |")
print("|---:|---|---:|---:|---:|---:|---:|---:|")
for n, m in med.items():
    for key, label in ORDER:
        if key not in m:
            continue
        floor, peer = AGAINST.get(key, (None, None))
        rf = f"{m[key] / m[floor]:.2f} ({floor})" if floor in m else ""
        rp = f"{m[key] / m[peer]:.2f} ({peer})" if peer in m else ""
        per = f"{m[key] / n * 1e6:.2f}" if n >= 100000 else ""
        kb = rss[n].get(key)
        mem = f"{max(kb) / 1024:.0f} MB" if kb else ""
        print(f"| {n:,} | {label} | {m[key]:.2f} | {per} | {rf} | {rp} | {mem} | {mb(disk[n].get(key))} |")

sizes = [n for n in med if n >= 1000000]
if len(sizes) > 1:
    print()
    print("Growth: seconds per million rows, and against the smallest size")
    print()
    print("| step | " + " | ".join(f"{n:,}" for n in sizes) + " |")
    print("|---|" + "---:|" * len(sizes))
    for key in ["copy", "merge", "check", "run_upsert", "run_swap", "seed_total", "sling_upsert"]:
        if not all(key in med[n] for n in sizes):
            continue
        base = med[sizes[0]][key] / sizes[0]
        cells = [f"{med[n][key] / n * 1e6:.2f} ({med[n][key] / n / base:.2f}×)" for n in sizes]
        print(f"| {key} | " + " | ".join(cells) + " |")

stages = defaultdict(list)
path = os.path.join(out, "stages.tsv")
if os.path.exists(path):
    for line in open(path):
        rows, method, run, stage, ms = line.rstrip("\n").split("\t")
        if method in ("check", "run_upsert", "run_swap"):
            stages[(int(rows), method, stage)].append(int(ms))
if stages:
    print()
    print("Where Airlock's time goes (median ms per stage; stages under 5 ms left out)")
    print()
    print("| rows | step | stage | ms | ms per M rows |")
    print("|---:|---|---|---:|---:|")
    for (n, method, stage), v in stages.items():
        ms = statistics.median(v)
        if ms >= 5:
            print(f"| {n:,} | {method} | {stage} | {ms:.0f} | {ms / n * 1e6:.0f} |")

path = os.path.join(out, "correctness.tsv")
if os.path.exists(path) and os.path.getsize(path):
    print()
    print("What each pipeline left in production (first run), against Airlock's upsert")
    print()
    print("| rows | pipeline | rows in production | rows differing from Airlock's | bad rows reported | rows dropped unsaid |")
    print("|---:|---|---:|---:|---:|---:|")
    for line in open(path):
        rows, t, total, diff, reported, dropped = line.rstrip("\n").split("\t")
        print(f"| {int(rows):,} | {t} | {int(total):,} | {int(diff):,} | {int(reported):,} | {int(dropped):,} |")
