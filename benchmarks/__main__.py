"""``python -m benchmarks [--quick]``: every benchmark, one after the other.

``--quick`` uses small sizes and short runs (CI runs it so the scripts never rot; nothing here
asserts on timing). Tables go to stdout, JSON to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import time

from . import (
    batch,
    coldstart,
    export_hold,
    fixture_overhead,
    growth,
    scaling,
    throughput,
    uploads,
)

BENCHMARKS = {
    "throughput": throughput.main,
    "scaling": scaling.main,
    "fixture_overhead": fixture_overhead.main,
    "coldstart": coldstart.main,
    "batch": batch.main,
    "uploads": uploads.main,
    "growth": growth.main,
    "export_hold": export_hold.main,
}


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, short runs (CI)")
    parser.add_argument(
        "--only", choices=list(BENCHMARKS), action="append", help="run only these (repeatable)"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    for name in args.only or BENCHMARKS:
        print(f"== {name} ==", flush=True)
        BENCHMARKS[name](["--quick"] if args.quick else [])
    print(f"all benchmarks done in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
