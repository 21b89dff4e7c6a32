"""``.ci/run``'s package installs, run against stand-ins for apt-get, npm and python3 (nothing is
installed and nothing leaves the machine): a failed install stops the run before the benchmarks
and the tests, with the install's own output in the log."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def stand_in(directory: Path, name: str, script: str) -> None:
    path = directory / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.mark.skipif(shutil.which("bash") is None, reason="the script is a bash script")
@pytest.mark.parametrize("failing", ["update", "install"])
def test_a_failed_package_install_stops_the_run_before_the_benchmarks(tmp_path, failing):
    """An ``apt-get update`` that fails (a mirror down, a key expired) stopped nothing: the
    install after it was skipped, the run went on to the benchmarks and tests, and failed
    there for want of a browser, if at all."""
    checkout = tmp_path / "checkout"
    (checkout / ".ci").mkdir(parents=True)
    (checkout / "tests" / "js").mkdir(parents=True)
    shutil.copy(ROOT / ".ci" / "run", checkout / ".ci" / "run")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    for tool in ("bash", "cat", "chmod", "cp", "dirname", "mkdir", "rm", "sh"):  # of the system
        (bin_dir / tool).symlink_to(shutil.which(tool))
    stand_in(bin_dir, "id", "echo 0\n")  # root: no sudo
    refuse = f'[ "$1" = {failing} ] && {{ echo "E: {failing} failed" >&2; exit 100; }}\n'
    stand_in(bin_dir, "apt-get", f'echo "apt-get $*" >> {calls}\n' + refuse + "exit 0\n")
    stand_in(bin_dir, "npm", f'echo "npm $*" >> {calls}\n')
    venv_python = f'#!/bin/sh\necho "venv python $*" >> {calls}\n'
    stand_in(bin_dir, "python3", f'echo "python3 $*" >> {calls}\nmkdir -p .venv/bin\n'
             f"printf '%s' '{venv_python}' > .venv/bin/python\ncp .venv/bin/python .venv/bin/pip\n"
             "chmod +x .venv/bin/python .venv/bin/pip\n")  # fmt: skip
    ran = subprocess.run(
        ["bash", str(checkout / ".ci" / "run")],
        env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    called = calls.read_text().splitlines()
    assert ran.returncode != 0, (ran.stdout, ran.stderr, called)
    assert f"E: {failing} failed" in ran.stdout + ran.stderr  # the install's own words
    assert not any(line.startswith("venv python -m benchmarks") for line in called), called
