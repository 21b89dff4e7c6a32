"""The README and the pages under docs/ stay true: CI runs exactly the README's test command, and
every code block that is a complete test, command or scenario runs as written, outside the
repository (a fresh project with no conftest and no pytest configuration), in the order a reader
would try them: the README first, then each page in the order the README links it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from conftest import UNUSED_PLUGINS

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
DOCS = ROOT / "docs"
JS_NODE_MODULES = Path(os.environ.get("MOCKDRIVE_JS_NODE_MODULES", ROOT / "tests/js/node_modules"))
FENCED = re.compile(r"^```.*?^```$", flags=re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\]\(([^)\s]+)\)")


def linked_pages() -> list[Path]:
    """README.md, then every page under docs/ in the order the README first links it."""
    pages = [ROOT / "README.md"]
    for target in LINK.findall(FENCED.sub("", README)):
        path = (ROOT / target.split("#", 1)[0]).resolve()
        if path.suffix == ".md" and path.is_relative_to(DOCS) and path not in pages:
            pages.append(path)
    return pages


PAGES = linked_pages()


def code_blocks(language: str) -> list[tuple[Path, str]]:
    """Every ``language`` block of every page, in reading order, with the page it is on."""
    return [
        (page, block)
        for page in PAGES
        for block in re.findall(
            rf"^```{language}\n(.*?)^```$", page.read_text(), flags=re.MULTILINE | re.DOTALL
        )
    ]


def readme_commands() -> list[str]:
    return re.findall(r"```sh\n(python3 -m venv[^\n]*)\n```", README)


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without what would tie a subprocess to this test run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHONPATH"))}
    return {**env, **extra}


def serve(*args: str) -> Iterator[tuple[str, list[str]]]:
    """``python -m mockdrive ARGS --port 0`` as a subprocess: (url, banner lines)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mockdrive", *args, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    try:
        lines = [process.stdout.readline().rstrip("\n")]
        assert lines[0].startswith("mockdrive listening on "), lines[0] + process.stderr.read()
        while not lines[-1].startswith("  Admin API:"):
            lines.append(process.stdout.readline().rstrip("\n"))
        if "--tls" in args:  # then the CA bundle line
            lines.append(process.stdout.readline().rstrip("\n"))
        yield lines[0].rsplit(" ", 1)[1], lines
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_test_one():
    commands = readme_commands()
    assert len(commands) == 2
    serve_command, test = commands
    assert "python -m mockdrive" in serve_command and "pytest" in test
    assert test in (ROOT / ".ci" / "run").read_text().splitlines()


def test_the_setup_serve_command_starts_the_demo():
    serve_command = readme_commands()[0]
    args = serve_command.split(".venv/bin/python -m mockdrive", 1)[1].split()
    assert args == ["--demo", "--seed", "1"]
    for url, banner in serve(*args):
        assert requests.get(url + "/_mockdrive/health", timeout=10).ok
        assert any(line.startswith("  token for ") for line in banner)


def test_every_shipped_fixture_loads():
    from mockdrive.scenario import load_scenario

    for path in sorted((ROOT / "fixtures").glob("*.yaml")):
        state = load_scenario(path)
        assert state.store.drives, path


def test_every_page_is_linked_from_the_readme():
    """The README is the front door: every page under docs/ is reachable from it (and so is
    read, and its examples run, by the tests below)."""
    assert sorted(DOCS.rglob("*.md")) == sorted(PAGES[1:])


def test_every_relative_link_reaches_a_file_and_heading():
    """Links between the pages (and to files of the repository) lead somewhere: the file
    exists, and a ``#fragment`` names a heading of the page it points at."""
    broken = []
    for page in [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]:
        for target in LINK.findall(FENCED.sub("", page.read_text())):
            if re.match(r"[a-z]+:", target):  # https:, mailto:
                continue
            name, _, fragment = target.partition("#")
            linked = (page.parent / name).resolve() if name else page
            if not linked.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif fragment and fragment not in anchors(linked):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def anchors(page: Path) -> set[str]:
    """The fragments GitHub gives the headings of a Markdown page."""
    if page.suffix != ".md":
        return set()
    found: set[str] = set()
    for heading in re.findall(r"^#+ (.*)$", FENCED.sub("", page.read_text()), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        number, unique = 0, slug
        while unique in found:
            number += 1
            unique = f"{slug}-{number}"
        found.add(unique)
    return found


def test_every_python_test_block_runs_in_a_fresh_project(tmp_path):
    """Each block defining a test is a file of a new project outside the repository; pytest
    runs them there with the plugin installed and nothing else (asyncio in strict mode)."""
    blocks = [
        (page, b) for page, b in code_blocks("python") if re.search(r"^(async )?def test_", b, re.M)
    ]
    assert len(blocks) >= 5
    tests = 0
    for number, (page, block) in enumerate(blocks):
        incomplete = re.search(r"^\s*\.\.\.", block, re.M)
        assert not incomplete, f"incomplete test in {page.name}:\n{block}"
        module = re.sub(r"\W", "_", page.stem.lower())
        (tmp_path / f"test_{module}_{number}.py").write_text(block)
        tests += len(re.findall(r"^(?:async )?def test_", block, re.M))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]
    # its own temporary folder (as pytester gives an inner run): with none, pytest ends by
    # deleting the oldest of the numbered ones the machine keeps, whatever other runs left there
    # (~1 s of CPU in a profile of this run)
    basetemp = tmp_path.parent / f"{tmp_path.name}-basetemp"
    result = subprocess.run(
        [*command, *UNUSED_PLUGINS, f"--basetemp={basetemp}"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=clean_env(),
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert f"{tests} passed" in result.stdout, result.stdout[-3000:]


def test_every_scenario_block_validates(tmp_path):
    """Each YAML block is a scenario that ``mockdrive validate`` accepts, outside the repository."""
    blocks = code_blocks("yaml")
    assert blocks
    files = []
    for number, (_page, block) in enumerate(blocks):
        files.append(f"scenario_{number}.yaml")
        (tmp_path / files[-1]).write_text(block)
    result = subprocess.run(
        [sys.executable, "-m", "mockdrive", "validate", *files],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=clean_env(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": ok (") == len(files), result.stdout


def test_every_server_command_starts_a_server():
    """A shell block that is one ``mockdrive ...`` command starts a server that answers."""
    commands = [
        block.split("#", 1)[0].split()
        for _page, block in code_blocks("sh")
        if block.startswith("mockdrive ") and block.count("\n") == 1
    ]
    assert ["mockdrive", "--scenario", "quickstart"] in commands  # what the curl examples use
    for command in commands:
        for url, _banner in serve(*command[1:]):
            assert requests.get(url + "/_mockdrive/health", timeout=10).ok


def test_the_curl_examples_run_in_order_on_one_server(tmp_path):
    """The shell blocks that talk to the server, run page after page, top to bottom, on one
    ``mockdrive --scenario quickstart``: every answer is a success except the Onehub example's
    deliberate bad address, and no example trips over an earlier one."""
    blocks = [b for _page, b in code_blocks("sh") if "curl" in b]
    # the README's first request, the tour and the clock (guide), delta (graph), OneDrive, Onehub
    assert len(blocks) == 6
    # pinned, as the guide says its shown answer was: the clock would otherwise read the wall
    for url, _banner in serve("--scenario", "quickstart", "--clock", "2024-01-01T00:00:00Z"):
        script = "\n".join(blocks).replace("localhost:8000", url.removeprefix("http://"))
        wrapper = "curl() { command curl -w '%{stderr}%{http_code}\\n' \"$@\"; }\nset -e\n"
        result = subprocess.run(
            ["bash", "-c", wrapper + script],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        statuses = [int(s) for s in result.stderr.split()]
        onehub_invite = statuses.pop()  # the last command of the last block
        assert all(200 <= s < 300 for s in statuses), statuses
        assert onehub_invite == 422
        last = result.stdout.rsplit("}{", 1)[-1] if "}{" in result.stdout else result.stdout
        assert '"join_errors":[]' in last.replace(" ", ""), result.stdout[-2000:]
        assert "not-an-address" in last
        # an answer shown in a comment (``# {"now": ...}``) is what the command before it printed
        shown = re.findall(r"^# (\{.*\})", script, flags=re.M)
        assert shown
        for answer in shown:
            assert answer.replace(" ", "") in result.stdout.replace(" ", ""), answer
        outbox = requests.get(url + "/_mockdrive/outbox", timeout=10).json()["value"]
        # the state PUT back in the first block brings a fresh outbox; then Joe, then Kim
        assert [m["to"] for m in outbox] == ["joe@example.org", "kim@example.org"]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_javascript_sdk_example_runs_against_tls(tmp_path):
    """The JS Graph SDK example, over ``--tls`` with the printed CA bundle."""
    package = JS_NODE_MODULES / "@microsoft" / "microsoft-graph-client"
    if not package.is_dir():
        pytest.skip(f"the JS Graph SDK is not installed in {JS_NODE_MODULES} (npm install)")
    blocks = {
        block.split(":", 1)[0].removeprefix("// "): block for _page, block in code_blocks("js")
    }
    # share.mjs (proxy-and-tls.md), signin.mjs (clients.md: @azure/identity, then the SDK),
    # pnpjs.mjs (clients.md: PnPjs, which takes the https URL as it takes http)
    assert sorted(blocks) == ["pnpjs.mjs", "share.mjs", "signin.mjs"]
    printed = {"pnpjs.mjs": ["Projects, Notes.txt", "read", "big.bin 716800", "404 itemNotFound"]}
    (tmp_path / "node_modules").symlink_to(JS_NODE_MODULES)
    for name, block in blocks.items():
        (tmp_path / name).write_text(block)
        for url, banner in serve("--tls", "--scenario", "quickstart"):
            ca = next(line.split(": ", 1)[1] for line in banner if "CA bundle:" in line)
            result = subprocess.run(
                ["node", name],
                capture_output=True,
                text=True,
                timeout=60,
                cwd=tmp_path,
                env=clean_env(NODE_EXTRA_CA_CERTS=ca, MOCKDRIVE_URL=url),
            )
            assert result.returncode == 0, result.stderr
            shown = [line for line in result.stdout.splitlines() if "devicelogin" not in line]
            assert shown == printed.get(name, ["Projects, Notes.txt", "read"]), result.stdout
