"""``python -m mockdrive`` at its edges: a reader that goes away (``mockdrive export | head``),
output that cannot be written, and a server stopped by a signal with everything it printed
delivered and its files removed (the process ends with ``gc.freeze()``, no last collection)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent.parent / "fixtures"


def _environment(buffered: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONUNBUFFERED", None)
    if not buffered:
        env["PYTHONUNBUFFERED"] = "1"
    return env


def _to_a_gone_reader(args: list[str], buffered: bool = True) -> subprocess.CompletedProcess:
    """Run the CLI with its stdout a pipe whose reader has already closed its end: every write
    fails as it does for ``mockdrive ... | head`` once ``head`` has read enough."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "mockdrive", *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=_environment(buffered),
            timeout=60,
        )
    finally:
        os.close(write_end)


SUBCOMMANDS = [
    ["export"],  # a short answer: written when stdout is flushed at exit
    ["export", "--demo", "--users", "5", "--items", "300"],  # more than a pipe holds
    ["validate", str(FIXTURES / "quickstart.yaml")],
    ["help"],
    ["help", "export"],
]


@pytest.mark.parametrize("args", SUBCOMMANDS, ids=lambda a: " ".join(a[:2]))
@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
def test_a_reader_that_went_away_ends_the_command_quietly(args, buffered):
    done = _to_a_gone_reader(args, buffered)
    assert "Traceback" not in done.stderr, done.stderr
    assert "Exception ignored" not in done.stderr, done.stderr
    assert done.stderr == ""
    if args[0] != "help" or buffered:  # (argparse's print_help ignores a write that failed)
        assert done.returncode == 1  # not all was delivered: as Python's recipe for it says


def test_an_export_that_cannot_be_written_fails():
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "mockdrive", "export"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env=_environment(True),
            timeout=60,
        )
    assert done.returncode != 0  # never a silent success with nothing written
    assert "No space left" in done.stderr


def test_an_export_piped_whole_is_what_an_export_to_a_file_is(tmp_path):
    args = [sys.executable, "-m", "mockdrive", "export", "--demo", "--items", "300"]
    env = _environment(True)
    piped = subprocess.run(args, capture_output=True, env=env, timeout=60)
    with open(tmp_path / "out.yaml", "wb") as out:
        written = subprocess.run(args, stdout=out, stderr=subprocess.PIPE, env=env, timeout=60)
    assert piped.returncode == written.returncode == 0
    assert piped.stdout == (tmp_path / "out.yaml").read_bytes()
    assert len(piped.stdout) > 65536  # more than one pipe's worth


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("options", [[], ["--tls"], ["--proxy"]], ids=["plain", "tls", "proxy"])
def test_a_server_stopped_by_a_signal_delivered_its_banner_and_removed_its_files(sig, options):
    process = subprocess.Popen(
        [sys.executable, "-m", "mockdrive", "--port", "0", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_environment(True),
    )
    try:
        first = process.stdout.readline()
        assert first.startswith("mockdrive listening on "), first + process.stderr.read()
        lines = [first]
        while not lines[-1].startswith("  Admin API:"):  # then the CA's and the proxy's lines
            lines.append(process.stdout.readline())
        process.send_signal(sig)
        rest = process.stdout.read()  # (what readline buffered too: communicate() would not)
        errors = process.stderr.read()
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, errors
    assert errors == ""
    banner = "".join(lines) + rest
    assert banner.endswith("\n")
    if options:
        ca = banner.partition("  CA bundle: ")[2].partition("\n")[0]
        assert ca, banner
        assert not os.path.exists(ca), banner  # its certificate's folder is removed
    if "--proxy" in options:
        assert "  Proxy: HTTPS_PROXY=" in banner
