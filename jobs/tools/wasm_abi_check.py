#!/usr/bin/env python3
"""Check that WebAssembly modules expose exactly the CyxWiz job ABI v1.

Parses the binary directly (Python 3.11 stdlib only): the module must import
exactly cyx.report_metric (i32, f64) -> () and export exactly `memory` plus
the eight cyx_* functions with the signatures of docs/job-abi.md, and have no
start function.  Usage: wasm_abi_check.py FILE.wasm...   (exit 1 on mismatch)
"""
from __future__ import annotations

import sys

I32, I64, F32, F64 = 0x7F, 0x7E, 0x7D, 0x7C
NAMES = {I32: "i32", I64: "i64", F32: "f32", F64: "f64"}

EXPECTED_IMPORTS = {("cyx", "report_metric"): ((I32, F64), ())}
EXPECTED_EXPORTS = {
    "cyx_abi_version": ((), (I32,)),
    "cyx_alloc": ((I32,), (I32,)),
    "cyx_init": ((I32, I32, I64), (I32,)),
    "cyx_train_epoch": ((I32,), (I32,)),
    "cyx_evaluate": ((), (I32,)),
    "cyx_weights_ptr": ((), (I32,)),
    "cyx_weights_len": ((), (I32,)),
    "cyx_set_weights": ((I32, I32), (I32,)),
}


class Reader:
    def __init__(self, b: bytes, pos: int = 0, end: int | None = None):
        self.b, self.pos, self.end = b, pos, len(b) if end is None else end

    def byte(self) -> int:
        v = self.b[self.pos]
        self.pos += 1
        return v

    def uleb(self) -> int:
        r = shift = 0
        while True:
            v = self.byte()
            r |= (v & 0x7F) << shift
            shift += 7
            if v < 0x80:
                return r

    def name(self) -> str:
        n = self.uleb()
        s = self.b[self.pos:self.pos + n].decode("utf-8")
        self.pos += n
        return s

    def limits(self) -> tuple[int, int | None]:
        flag = self.byte()
        lo = self.uleb()
        return lo, (self.uleb() if flag & 1 else None)


def sig(t: tuple[tuple[int, ...], tuple[int, ...]]) -> str:
    p, r = t
    return "(" + ", ".join(NAMES.get(x, hex(x)) for x in p) + ") -> (" + ", ".join(NAMES.get(x, hex(x)) for x in r) + ")"


def check(path: str) -> list[str]:
    b = open(path, "rb").read()
    errs: list[str] = []
    if b[:8] != b"\0asm\1\0\0\0":
        return [f"{path}: not a wasm v1 module"]
    r = Reader(b, 8)
    types: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
    func_types: list[int] = []  # function index space: imports first
    imports: dict[tuple[str, str], object] = {}
    exports: dict[str, tuple[int, int]] = {}
    memories: list[tuple[int, int | None]] = []
    customs: list[str] = []
    while r.pos < len(b):
        sid = r.byte()
        size = r.uleb()
        s = Reader(b, r.pos, r.pos + size)
        r.pos += size
        if sid == 0:
            customs.append(s.name())
        elif sid == 1:
            for _ in range(s.uleb()):
                assert s.byte() == 0x60
                params = tuple(s.byte() for _ in range(s.uleb()))
                results = tuple(s.byte() for _ in range(s.uleb()))
                types.append((params, results))
        elif sid == 2:
            for _ in range(s.uleb()):
                mod, nm, kind = s.name(), s.name(), s.byte()
                if kind == 0:
                    ti = s.uleb()
                    func_types.append(ti)
                    imports[(mod, nm)] = types[ti]
                else:
                    imports[(mod, nm)] = f"non-function import kind {kind}"
                    if kind == 1:
                        s.byte(); s.limits()
                    elif kind == 2:
                        s.limits()
                    elif kind == 3:
                        s.byte(); s.byte()
        elif sid == 3:
            func_types.extend(s.uleb() for _ in range(s.uleb()))
        elif sid == 5:
            memories.extend(s.limits() for _ in range(s.uleb()))
        elif sid == 7:
            for _ in range(s.uleb()):
                nm, kind, idx = s.name(), s.byte(), s.uleb()
                exports[nm] = (kind, idx)
        elif sid == 8:
            errs.append(f"{path}: module has a start function")
    # imports
    got_imports = {k: v for k, v in imports.items()}
    if set(got_imports) != set(EXPECTED_IMPORTS):
        errs.append(f"{path}: imports {sorted(got_imports)} != {sorted(EXPECTED_IMPORTS)}")
    for k, want in EXPECTED_IMPORTS.items():
        if k in got_imports and got_imports[k] != want:
            errs.append(f"{path}: import {k[0]}.{k[1]} has type {got_imports[k]}, want {sig(want)}")
    # exports
    want_names = set(EXPECTED_EXPORTS) | {"memory"}
    if set(exports) != want_names:
        errs.append(f"{path}: exports {sorted(exports)} != {sorted(want_names)}")
    if "memory" in exports and exports["memory"][0] != 2:
        errs.append(f"{path}: export 'memory' is not a memory")
    for nm, want in EXPECTED_EXPORTS.items():
        if nm not in exports:
            continue
        kind, idx = exports[nm]
        if kind != 0:
            errs.append(f"{path}: export {nm} is not a function")
            continue
        got = types[func_types[idx]]
        if got != want:
            errs.append(f"{path}: export {nm} has type {sig(got)}, want {sig(want)}")
    if len(memories) != 1:
        errs.append(f"{path}: expected exactly one (defined) memory, found {len(memories)}")
    if not errs:
        lo, hi = memories[0]
        print(f"abi ok: {path}: 1 import, {len(exports)} exports, memory {lo} pages "
              f"({lo * 64} KiB) max={hi if hi is not None else 'none'}, custom sections {customs}")
    return errs


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    errs = [e for p in argv for e in check(p)]
    for e in errs:
        print("FAIL:", e, file=sys.stderr)
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
