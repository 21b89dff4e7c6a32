"""Shared helpers: machine description, tables, JSON results, bounded subprocess runs."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parent.parent


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
    }


def median(values: list[float]) -> float:
    values = [v for v in values if v == v]  # drop NaN (a figure wrk could not print)
    return statistics.median(values) if values else float("nan")


def row(
    figure: str,
    value: float,
    unit: str,
    baseline: str = "",
    base_value: float | None = None,
    target: str = "",
    met: bool | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One figure: its value, the baseline it is compared with and the ratio to it."""
    ratio = value / base_value if base_value else None
    return {
        "figure": figure,
        "value": value,
        "unit": unit,
        "baseline": baseline,
        "baseline_value": base_value,
        "ratio": ratio,
        "target": target,
        "met": met,
        **extra,
    }


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value != value:  # nan
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 0.1:
        return f"{value:.2f}"
    return f"{value:.4f}"


def table(title: str, rows: list[dict[str, Any]]) -> str:
    """A Markdown table of ``rows`` (also readable on a terminal)."""
    header = ["figure", "value", "unit", "baseline", "baseline value", "ratio", "target", "met"]
    lines = [
        f"### {title}",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] * len(header)) + "|",
    ]
    for r in rows:
        met = {True: "yes", False: "**no**", None: ""}[r["met"]]
        cells = [
            r["figure"],
            fmt(r["value"]),
            r["unit"],
            r["baseline"],
            fmt(r["baseline_value"]),
            f"{r['ratio']:.2f}x" if r["ratio"] is not None else "-",
            r["target"],
            met,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(name: str, title: str, rows: list[dict[str, Any]], **extra: Any) -> Path:
    """Print the table and write ``results/NAME.json``; returns the JSON path."""
    print(table(title, rows), flush=True)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    data = {
        "benchmark": name,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "rows": rows,
        **extra,
    }
    path.write_text(json.dumps(data, indent=2) + "\n")
    print(f"(written to {path.relative_to(ROOT)})\n", flush=True)
    return path
