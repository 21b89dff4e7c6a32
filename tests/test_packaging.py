"""The distribution works for someone who only installs it: build the sdist and the wheel from a
copy of the checkout, check what they carry (licence, shipped scenarios, py.typed), install the
wheel with the user's extras (``[clients,sdk]``) into a fresh venv outside the checkout, and use
it there as a user does: a shipped scenario by name (the CLI, and a downstream project's own test
with the marker, without a conftest), and a user's test suite that uses the ready clients
(``session``, the httpx clients, ``graph_client()``), the oracle on an invited guest,
``clock.set`` and strict upload sessions, with mockdrive's warnings turned into errors.

The fresh venv sees exactly the distributions the wheel's metadata asks for: pip installs the wheel
there beside them, found (and their versions checked) by following each ``Requires-Dist`` from the
wheel's (with the user's extras) through the ones already installed in this environment (which
``pip install -e '.[test]'`` resolved from the index moments before), and only them, so a
dependency the metadata forgets is missing there as it would be for a user. That spares a second
resolution of the same requirements from the index (most of the test's time, and the network). The
two projects of a user are one project here, run by one pytest.

It needs PyPI for the build backend (pip's cache keeps it quick: set ``PIP_CACHE_DIR`` to share
one between runs).
"""

from __future__ import annotations

import csv
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

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


# A user's own test suite, written as the README and docs/pytest.md show, run with pytest alone.
USER_DAY_TEST = """
import asyncio
from datetime import timedelta

import httpx
import pytest
import requests
from msgraph.generated.drives.item.items.item.invite.invite_post_request_body import (
    InvitePostRequestBody,
)
from msgraph.generated.models.drive_recipient import DriveRecipient

GUEST = "guest@partner.example"
FRAGMENT = 320 * 1024


@pytest.fixture
def docs(mock_drive):
    mock_drive.add_file("/Docs/Plan.docx", "plan")
    return mock_drive


def test_session_and_the_httpx_clients(docs):
    assert isinstance(docs.session, requests.Session)
    assert docs.session.get("/me/drive/root:/Docs/Plan.docx").json()["name"] == "Plan.docx"
    client = docs.httpx_client()
    assert isinstance(client, httpx.Client)
    listing = client.get("/me/drive/root:/Docs:/children").json()["value"]
    assert [child["name"] for child in listing] == ["Plan.docx"]

    async def read():
        answer = await docs.async_httpx_client().get("/me/drive/root:/Docs/Plan.docx:/content")
        return (await docs.async_httpx_client().get(answer.headers["Location"])).content

    assert asyncio.run(read()) == b"plan"
    assert docs.item_json("/Docs/Plan.docx")["id"] == docs.item("/Docs/Plan.docx").id


def test_graph_client_invites_a_guest_and_the_oracle_reasons_about_it(docs):
    async def invite():
        client = docs.graph_client()
        drive = client.drives.by_drive_id(docs.drive.id)
        folder = await drive.items.by_drive_item_id("root:/Docs:").get()
        body = InvitePostRequestBody(
            recipients=[DriveRecipient(email=GUEST)], roles=["read"], require_sign_in=True,
            send_invitation=True,
        )
        return await drive.items.by_drive_item_id(folder.id).invite.post(body)

    invited = asyncio.run(invite())
    assert invited.value[0].roles == ["read"]
    result = docs.assert_can(GUEST, "read", "/Docs/Plan.docx")
    assert result.guest and "via an invitation to " + GUEST in str(result)
    with pytest.raises(AssertionError, match="cannot write"):
        docs.assert_can(GUEST, "write", "/Docs/Plan.docx")
    docs.add_user("Guest", GUEST)  # the guest signs in: the API agrees with the oracle
    as_guest = docs.session_for(GUEST)
    url = "/drives/" + docs.drive.id + "/root:/Docs/Plan.docx"
    assert as_guest.get(url).status_code == 200
    assert as_guest.patch(url, json={"name": "Mine.docx"}).status_code == 403


def test_clock_set_expires_what_falls_due(docs):
    created = docs.session.post(
        "/me/drive/root:/Docs/Plan.docx:/createLink",
        json={"type": "view", "scope": "anonymous",
              "expirationDateTime": "2024-01-02T00:00:00Z"},
    )
    assert created.status_code in (200, 201), created.text
    assert len(docs.permissions("/Docs/Plan.docx")) == 2
    start = docs.clock.now()
    assert start.tzinfo is not None
    assert docs.clock.set(start + timedelta(days=2)).startswith("2024-01-03T00:00:")
    assert len(docs.permissions("/Docs/Plan.docx")) == 1
    with pytest.raises(ValueError, match="only moves forward"):
        docs.clock.set(start)


def test_upload_sessions_refuse_what_the_service_refuses(docs):
    session = docs.session
    created = session.post("/me/drive/root:/Docs/big.bin:/createUploadSession", json={})
    url = created.json()["uploadUrl"]
    total = FRAGMENT + 10

    def put(data, start):
        end = start + len(data) - 1
        headers = {"Content-Range": f"bytes {start}-{end}/{total}"}
        return requests.put(url, data=data, headers=headers)

    odd = put(b"x" * 1000, 0)
    assert odd.status_code == 400 and "320 KiB" in odd.json()["error"]["message"]
    with_token = requests.put(url, data=b"x" * FRAGMENT, headers={
        "Content-Range": f"bytes 0-{FRAGMENT - 1}/{total}", **docs.headers()})
    assert with_token.status_code == 401
    assert put(b"x" * FRAGMENT, 0).status_code == 202
    assert put(b"y" * 10, FRAGMENT).status_code == 201
    assert docs.item("/Docs/big.bin").size == total
"""
USER_DAY_INI = """
[pytest]
filterwarnings =
    error:::mockdrive
"""


def run(*command: str | Path, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHONPATH"))}
    result = subprocess.run(
        [str(c) for c in command], capture_output=True, text=True, cwd=cwd, timeout=timeout,
        env=env,
    )  # fmt: skip
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


# ``python -m build`` builds the sdist, then the wheel from the unpacked sdist, each in an isolated
# environment of its own; these are the same steps with one isolated environment for both (the
# wheel's build needs nothing more than the sdist's), so setuptools is installed once, not twice.
BUILD = """
import sys, tarfile
from pathlib import Path
from build import ProjectBuilder
from build.env import DefaultIsolatedEnv

source, outdir, unpacked = map(Path, sys.argv[1:])
with DefaultIsolatedEnv() as env:
    builder = ProjectBuilder.from_isolated_env(env, source)
    env.install(builder.build_system_requires)
    env.install(builder.get_requires_for_build("sdist"))
    sdist = builder.build("sdist", outdir)
    with tarfile.open(sdist) as archive:
        archive.extractall(unpacked, filter="data")
    (top,) = unpacked.iterdir()
    from_sdist = ProjectBuilder.from_isolated_env(env, top)
    env.install(from_sdist.get_requires_for_build("wheel"))
    from_sdist.build("wheel", outdir)
"""


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel, built as ``python -m build`` does (the wheel from the sdist)."""
    base = tmp_path_factory.mktemp("packaging")
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SHIPPED)
    run(sys.executable, "-c", BUILD, source, base / "dist", base / "unpacked", cwd=base)
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


def needed(requirements: list[str], extras: set[str]) -> list[Requirement]:
    """The ``requirements`` (``Requires-Dist`` lines) that hold with these extras asked for."""
    parsed = [Requirement(text) for text in requirements]
    return [
        r
        for r in parsed
        if not r.marker or any(r.marker.evaluate({"extra": e}) for e in {"", *extras})
    ]


def installed_requirements(
    requirements: list[Requirement],
) -> list[importlib.metadata.Distribution]:
    """The distributions of this environment that ``requirements`` need, following each one's
    ``Requires-Dist`` with the extras asked of it, as a resolver would; each requirement's
    version range holds for the version installed, as a resolver checks."""
    found: dict[str, importlib.metadata.Distribution] = {}
    extras: dict[str, set[str]] = {}
    pending = list(requirements)
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        found.setdefault(name, importlib.metadata.distribution(name))
        version = found[name].version
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{requirement} is not met by the installed {name} {version}"
        )
        if name in extras and requirement.extras <= extras[name]:
            continue
        extras.setdefault(name, set()).update(requirement.extras)
        pending.extend(needed(found[name].requires or [], extras[name]))
    return list(found.values())


def link_distributions(dists: list[importlib.metadata.Distribution], into: Path) -> None:
    """Symlinks in ``into`` to the files of ``dists`` (a package with an ``__init__.py`` of its
    own, and a ``.dist-info`` folder, as one link each); scripts are left out."""
    whole: dict[str, Path] = {}
    single: dict[str, Path] = {}
    for dist in dists:
        record = dist.read_text("RECORD")  # what dist.files reads, without a path object a line
        assert record is not None, f"{dist.name} does not list its files"
        names = {row[0] for row in csv.reader(record.splitlines()) if row}
        for name in names:
            top = name.split("/", 1)[0]
            if top.endswith(".dist-info") or f"{top}/__init__.py" in names:
                whole.setdefault(top, Path(dist.locate_file(top)))
            elif top != "..":
                single.setdefault(name, Path(dist.locate_file(name)))
    for top, target in whole.items():
        (into / top).symlink_to(target)
    for name, target in single.items():
        if name.split("/", 1)[0] not in whole:
            link = into / name
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(target)


@pytest.fixture(scope="module")
def venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv outside the checkout with the wheel, its user extras and pytest."""
    (wheel,) = dist.glob("mockdrive-*.whl")
    base = tmp_path_factory.mktemp("installed")
    venv = base / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=base)
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        declared = Parser().parsestr(archive.read(metadata).decode()).get_all("Requires-Dist")
    wanted = [*needed(declared, {"clients", "sdk"}), Requirement("pytest")]
    dependencies = base / "dependencies"
    dependencies.mkdir()
    link_distributions(installed_requirements(wanted), dependencies)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    (venv / "lib" / version / "site-packages" / "dependencies.pth").write_text(f"{dependencies}\n")
    # this venv's pip installs the wheel alone into the new one (no ensurepip): every
    # requirement is there already, found and its version range checked above, so pip has no
    # resolving to do (--no-deps: 0.5 s of its 1.6 s of CPU), and nothing to fetch (--no-index)
    run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q",
        "--no-compile", "--no-index", "--no-deps", wheel, cwd=base)  # fmt: skip
    return venv


@pytest.fixture(scope="module")
def downstream(venv: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A project outside the checkout with a downstream test of the marker (no conftest) and a
    user's own suite (pytest.ini turning mockdrive's warnings into errors), run by one pytest
    on the installed wheel: (the project, pytest's report naming each test that passed)."""
    project = tmp_path_factory.mktemp("downstream")
    (project / "pytest.ini").write_text(USER_DAY_INI)
    (project / "test_downstream.py").write_text(DOWNSTREAM_TEST)
    (project / "test_sharing.py").write_text(USER_DAY_TEST)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHONPATH"))}
    result = subprocess.run(
        [venv / "bin" / "python", "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider",
         f"--basetemp={tmp_path_factory.mktemp('downstream-basetemp')}"],  # as test_readme's
        capture_output=True, text=True, cwd=project, timeout=300, env=env,
    )  # fmt: skip
    return project, result.stdout + result.stderr


def outcomes(report: str, module: str) -> dict[str, set[str]]:
    """What pytest's ``-rA`` report says of each test of ``module`` (``PASSED``, ``ERROR``...)."""
    found: dict[str, set[str]] = {}
    for line in report.splitlines():
        outcome, _, test = line.partition(f" {module}::")
        if test and outcome.isupper() and outcome.isalpha():
            found.setdefault(test.split(" ", 1)[0], set()).add(outcome)
    return found


def test_installed_wheel_serves_shipped_scenarios_by_name_outside_the_checkout(
    venv: Path, downstream: tuple[Path, str]
):
    python = venv / "bin" / "python"
    project, report = downstream
    where = run(python, "-c", "import mockdrive; print(mockdrive.__file__)", cwd=project)
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout
    assert not Path(where.stdout.strip()).is_relative_to(ROOT)

    validated = run(python, "-m", "mockdrive", "validate", "team", cwd=project)
    assert validated.stdout.startswith("team: ok (5 users"), validated.stdout
    exported = run(venv / "bin" / "mockdrive", "export", "--scenario", "quickstart", cwd=project)
    assert "email: ada@contoso.example" in exported.stdout

    assert outcomes(report, "test_downstream.py") == {
        "test_shipped_team": {"PASSED"},
        "test_load_by_name": {"PASSED"},
    }, report[-3000:]


def test_a_users_suite_runs_on_the_installed_wheel_with_the_user_extras(
    downstream: tuple[Path, str],
):
    """Ready clients, graph_client(), the oracle on a guest, clock.set, strict uploads."""
    _, report = downstream
    assert outcomes(report, "test_sharing.py") == {
        "test_session_and_the_httpx_clients": {"PASSED"},
        "test_graph_client_invites_a_guest_and_the_oracle_reasons_about_it": {"PASSED"},
        "test_clock_set_expires_what_falls_due": {"PASSED"},
        "test_upload_sessions_refuse_what_the_service_refuses": {"PASSED"},
    }, report[-3000:]
