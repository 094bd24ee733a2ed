#!/usr/bin/python3
"""bench/report.py - turn raw samples into markdown tables for bench/RESULTS.md.

Samples are TSV lines "ROW<TAB>VALUE" (one line per measurement).

  report.py hyperfine OUT.tsv JSON...      append the per-run times (ms) of
                                           hyperfine --export-json files
  report.py table TSV [--unit U] [--decimals D] [--ratio ROW,...]
                  [--order ROW,...] [--label TEXT]
                                           | row | median | min-max | n | x ROW ...|
  report.py matrix TSV --rows R1,R2 --cols C1,C2 [--note TEXT]
                                           median(row) / median(col) for each pair
Medians, not means: the machine is shared and noisy.
"""
import argparse
import json
import statistics
import sys


def load(path):
    rows = {}
    order = []
    try:
        with open(path) as f:
            for line in f:
                line = line.rstrip("\n")
                if not line or "\t" not in line:
                    continue
                name, val = line.rsplit("\t", 1)
                try:
                    v = float(val)
                except ValueError:
                    continue
                if name not in rows:
                    rows[name] = []
                    order.append(name)
                rows[name].append(v)
    except FileNotFoundError:
        pass
    return rows, order


def fmt(v, d):
    return f"{v:.{d}f}"


def cmd_hyperfine(a):
    with open(a.out, "a") as out:
        for path in a.json:
            try:
                with open(path) as f:
                    data = json.load(f)
            except (OSError, ValueError) as e:
                print(f"report.py: skipping {path}: {e}", file=sys.stderr)
                continue
            for r in data.get("results", []):
                name = r.get("command", "?")
                for t in r.get("times") or []:
                    out.write(f"{name}\t{t * 1000.0:.4f}\n")


def split(s):
    return [x for x in (s or "").split(",") if x]


def cmd_table(a):
    rows, order = load(a.tsv)
    if a.order:
        order = [r for r in split(a.order) if r in rows] + [r for r in order if r not in split(a.order)]
    refs = [r for r in split(a.ratio)]
    med = {r: statistics.median(v) for r, v in rows.items()}
    head = [a.label, f"median ({a.unit})", f"min-max ({a.unit})", "n"]
    head += [f"x {r}" for r in refs]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
    for r in order:
        v = rows[r]
        cells = [r, fmt(med[r], a.decimals), f"{fmt(min(v), a.decimals)}-{fmt(max(v), a.decimals)}", str(len(v))]
        for ref in refs:
            if ref in med and med[ref] > 0:
                cells.append(f"{med[r] / med[ref]:.2f}")
            else:
                cells.append("n/a")
        print("| " + " | ".join(cells) + " |")
    missing = [r for r in split(a.order) if r not in rows]
    if missing:
        print()
        print("Not measured: " + ", ".join(missing) + " (see the notes).")


def cmd_matrix(a):
    rows, _ = load(a.tsv)
    med = {r: statistics.median(v) for r, v in rows.items()}
    rr = [r for r in split(a.rows) if r in med]
    cc = [c for c in split(a.cols) if c in med]
    if not rr or not cc:
        print("(no ratio table: rows or columns missing)")
        return
    print("| median ratio | " + " | ".join(cc) + " |")
    print("|---|" + "|".join(["---:"] * len(cc)) + "|")
    for r in rr:
        cells = [f"{med[r] / med[c]:.2f}" if med[c] > 0 else "n/a" for c in cc]
        print(f"| {r} | " + " | ".join(cells) + " |")
    if a.note:
        print()
        print(a.note)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("hyperfine")
    h.add_argument("out")
    h.add_argument("json", nargs="*")
    t = sub.add_parser("table")
    t.add_argument("tsv")
    t.add_argument("--unit", default="ms")
    t.add_argument("--decimals", type=int, default=1)
    t.add_argument("--ratio", default="")
    t.add_argument("--order", default="")
    t.add_argument("--label", default="row")
    m = sub.add_parser("matrix")
    m.add_argument("tsv")
    m.add_argument("--rows", required=True)
    m.add_argument("--cols", required=True)
    m.add_argument("--note", default="")
    a = p.parse_args()
    {"hyperfine": cmd_hyperfine, "table": cmd_table, "matrix": cmd_matrix}[a.cmd](a)


if __name__ == "__main__":
    main()
