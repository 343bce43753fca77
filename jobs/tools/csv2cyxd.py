#!/usr/bin/env python3
"""Convert the example CSV data sets into the CYXD v1 binary format.

CYXD v1 (all little-endian):
    magic      4 bytes  b"CYXD"
    version    u32      1
    n_samples  u32
    n_features u32
    n_classes  u32
    features   n_samples * n_features f32, row-major
    labels     n_samples u32

Raw values are stored (no normalisation); the kernels normalise.
Python 3.11 standard library only.

Usage:
    python3 jobs/tools/csv2cyxd.py            # converts both bundled data sets
    python3 jobs/tools/csv2cyxd.py --check    # verify the committed .cyxd files are up to date
"""
from __future__ import annotations

import argparse
import csv
import gzip
import io
import math
import struct
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"
MAGIC = b"CYXD"
VERSION = 1


def encode(rows: list[list[float]], labels: list[int], n_classes: int) -> bytes:
    n = len(rows)
    if n == 0:
        raise ValueError("no rows")
    f = len(rows[0])
    for r in rows:
        if len(r) != f:
            raise ValueError("ragged rows")
        for v in r:
            if not math.isfinite(v):
                raise ValueError(f"non-finite feature {v!r}")
    for y in labels:
        if not 0 <= y < n_classes:
            raise ValueError(f"label {y} out of range 0..{n_classes - 1}")
    out = io.BytesIO()
    out.write(MAGIC)
    out.write(struct.pack("<4I", VERSION, n, f, n_classes))
    for r in rows:
        # struct's "f" rounds each double to the nearest f32 (round-half-even).
        out.write(struct.pack(f"<{f}f", *r))
    out.write(struct.pack(f"<{n}I", *labels))
    data = out.getvalue()
    assert len(data) == 20 + 4 * n * f + 4 * n
    return data


def parse_rows(lines: list[list[str]]) -> tuple[list[list[float]], list[int]]:
    rows, labels = [], []
    for rec in lines:
        if not rec:
            continue
        rows.append([float(x) for x in rec[:-1]])
        lab = rec[-1].strip()
        if not lab.isdigit():
            raise ValueError(f"label {lab!r} is not a non-negative integer")
        labels.append(int(lab))
    return rows, labels


def digits() -> bytes:
    with gzip.open(DATA / "digits.csv.gz", "rt", newline="") as fh:
        rows, labels = parse_rows(list(csv.reader(fh)))
    if len(rows) != 1797 or any(len(r) != 64 for r in rows):
        raise ValueError("digits.csv.gz: expected 1797 rows x 64 features")
    return encode(rows, labels, 10)


def breast_cancer() -> bytes:
    with open(DATA / "breast_cancer.csv", newline="") as fh:
        recs = list(csv.reader(fh))
    header, body = recs[0], recs[1:]
    n, f = int(header[0]), int(header[1])
    rows, labels = parse_rows(body)
    if len(rows) != n or any(len(r) != f for r in rows):
        raise ValueError(f"breast_cancer.csv: expected {n} rows x {f} features")
    return encode(rows, labels, len(header) - 2)


JOBS = {"digits.cyxd": digits, "breast_cancer.cyxd": breast_cancer}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="fail if the committed .cyxd files differ from a fresh conversion")
    args = ap.parse_args()
    bad = 0
    for name, fn in JOBS.items():
        data = fn()
        path = DATA / name
        if args.check:
            if not path.exists() or path.read_bytes() != data:
                print(f"csv2cyxd: {path} is missing or out of date", file=sys.stderr)
                bad = 1
            else:
                print(f"csv2cyxd: {name} ok ({len(data)} bytes)")
        else:
            path.write_bytes(data)
            print(f"csv2cyxd: wrote {path} ({len(data)} bytes)")
    return bad


if __name__ == "__main__":
    sys.exit(main())
