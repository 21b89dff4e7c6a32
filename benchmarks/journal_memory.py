"""Journal memory: server RSS while refused 1 MiB requests arrive.

A server subprocess serves ``fixtures/quickstart.yaml``; Bob, who may only read /Projects, sends
``--requests`` invites of just under 1 MiB each (a JSON body of many small objects, which costs
the most once parsed). Each is refused (403) and journaled. Before the journal was bounded in
bytes it kept every parsed body: ~22 MB of Python objects per request. The server's RSS is read
from /proc after warm-up, after every request, and its peak (VmHWM) at the end.

    python -m benchmarks.journal_memory             # 100 requests (the figure in RELIABILITY.md)
    python -m benchmarks.journal_memory --quick     # 10 requests, for CI
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import requests

from ._common import ROOT

RESULTS = Path(__file__).resolve().parent / "results"
BODY_LIMIT = 1024 * 1024
CHECKPOINTS = (1, 2, 10, 50, 100, 200, 300)


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field}")


def refused_invite_body() -> bytes:
    """An invite body just under the JSON body limit: ~349,000 empty recipient objects."""
    head, tail = b'{"roles":["read"],"recipients":[', b"]}"
    count = (BODY_LIMIT - len(head) - len(tail) - 16) // 3
    return head + b",".join([b"{}"] * count) + tail


def measure(count: int) -> dict:
    scenario = ROOT / "fixtures" / "quickstart.yaml"
    process = subprocess.Popen(
        [sys.executable, "-m", "mockdrive", "--port", "0", "--scenario", str(scenario)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = process.stdout.readline().strip().rsplit(" ", 1)[1]
        session = requests.Session()
        session.headers["Authorization"] = "Bearer bob-token"
        drive_id = session.get(url + "/_mockdrive/state", timeout=60).json()["drives"][0]["id"]
        invite = f"{url}/v1.0/drives/{drive_id}/root:/Projects:/invite"
        headers = {"Content-Type": "application/json"}
        body = refused_invite_body()
        statuses: dict[int, int] = {}
        session.post(invite, data=b'{"recipients":[{"email":"a@b.example"}]}', headers=headers)
        warm = status_kib(process.pid, "VmRSS")
        samples = []
        for _ in range(count):
            response = session.post(invite, data=body, headers=headers, timeout=60)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            samples.append(status_kib(process.pid, "VmRSS"))
        journal = session.get(url + "/_mockdrive/journal", timeout=60).json()["value"]
        peak = status_kib(process.pid, "VmHWM")
    finally:
        process.terminate()
        process.wait(timeout=10)
    return {
        "requests": count,
        "body_bytes": len(body),
        "statuses": statuses,
        "journal_entries": len(journal),
        "rss_kib_after_warmup": warm,
        "rss_kib_end": samples[-1],
        "rss_kib_max_sampled": max(samples),
        "rss_kib_peak_vmhwm": peak,
        "rss_growth_kib": samples[-1] - warm,
        "rss_kib_after_request": {n: samples[n - 1] for n in CHECKPOINTS if n <= count},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 requests (CI)")
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args(argv)
    report = measure(10 if args.quick else args.requests)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "journal_memory.json").write_text(json.dumps(report, indent=2) + "\n")
    for key, value in report.items():
        print(f"{key:>22}: {value}")
    return 0 if set(report["statuses"]) == {403} else 1


if __name__ == "__main__":
    raise SystemExit(main())
