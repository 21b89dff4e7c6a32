"""The distribution works for someone who only installs it: build the sdist and the wheel from a
copy of the checkout, check what they carry (licence, shipped scenarios, py.typed), install the
wheel into a fresh venv outside the checkout, and use a shipped scenario by name there (the CLI,
and a downstream project's own test with the marker, without a conftest).

It needs PyPI for the build backend and the dependencies (pip's cache keeps it quick).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging  # runs in CI; -m "not packaging" leaves it out offline

ROOT = Path(__file__).parent.parent
NOT_SHIPPED = shutil.ignore_patterns(
    ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "node_modules"
)
DOWNSTREAM_TEST = """
from urllib.request import Request, urlopen

import pytest


@pytest.mark.mock_drive(scenario="team")
def test_shipped_team(mock_drive):
    mock_drive.assert_can("bob@contoso.example", "write", "/Finance/Q3.xlsx")
    mock_drive.assert_cannot("bob@contoso.example", "read", "/Finance/Payroll")


def test_load_by_name(mock_drive):
    mock_drive.load("quickstart")
    url = mock_drive.graph_url + "/me/drive/root:/Notes.txt:/content"
    with urlopen(Request(url, headers=mock_drive.headers("ada-token"))) as response:
        assert response.read() == b"Remember the milk."
"""


def run(*command: str | Path, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHONPATH"))}
    result = subprocess.run(
        [str(c) for c in command], capture_output=True, text=True, cwd=cwd, timeout=timeout,
        env=env,
    )  # fmt: skip
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel, built as ``python -m build`` does (the wheel from the sdist)."""
    base = tmp_path_factory.mktemp("packaging")
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SHIPPED)
    run(sys.executable, "-m", "build", "--outdir", base / "dist", source, cwd=base)
    return base / "dist"


def test_sdist_carries_the_licence_and_the_scenario_sources(dist: Path):
    (sdist,) = dist.glob("mockdrive-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
        top = archive.getnames()[0].split("/")[0]
        metadata = archive.extractfile(f"{top}/PKG-INFO").read().decode()
    assert {"LICENSE", "fixtures/team.yaml", "fixtures/quickstart.yaml", "setup.py"} <= names
    assert "License-Expression: MIT" in metadata and "License-File: LICENSE" in metadata


def test_wheel_carries_the_licence_the_scenarios_and_py_typed(dist: Path):
    (wheel,) = dist.glob("mockdrive-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = archive.read(metadata_name).decode()
        licence = archive.read(metadata_name.replace("METADATA", "licenses/LICENSE")).decode()
    shipped = {p.name for p in (ROOT / "fixtures").iterdir() if p.suffix == ".yaml"}
    assert {f"mockdrive/scenarios/{name}" for name in shipped} <= names
    assert "mockdrive/py.typed" in names and "mockdrive/scenario.schema.json" in names
    assert "License-Expression: MIT" in metadata
    assert licence.startswith("MIT License") and "the mockdrive authors" in licence


def test_installed_wheel_serves_shipped_scenarios_by_name_outside_the_checkout(
    dist: Path, tmp_path: Path
):
    (wheel,) = dist.glob("mockdrive-*.whl")
    venv = tmp_path / "venv"
    project = tmp_path / "downstream"
    project.mkdir()
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    # this venv's pip installs into the new one (no ensurepip; pip's cache serves the wheels)
    run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-compile", wheel,
        "pytest", cwd=tmp_path)  # fmt: skip

    where = run(python, "-c", "import mockdrive; print(mockdrive.__file__)", cwd=project)
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout
    assert not Path(where.stdout.strip()).is_relative_to(ROOT)

    validated = run(python, "-m", "mockdrive", "validate", "team", cwd=project)
    assert validated.stdout.startswith("team: ok (5 users"), validated.stdout
    exported = run(venv / "bin" / "mockdrive", "export", "--scenario", "quickstart", cwd=project)
    assert "email: ada@contoso.example" in exported.stdout

    (project / "test_downstream.py").write_text(DOWNSTREAM_TEST)
    result = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project)
    assert "2 passed" in result.stdout, result.stdout
