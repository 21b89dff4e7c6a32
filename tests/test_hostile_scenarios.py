"""A hostile scenario corpus against all three ways in: ``mockdrive
validate`` and ``mockdrive --scenario`` as subprocesses, and ``PUT /_mockdrive/state`` on a
server subprocess. Each runs under a memory limit (RLIMIT_AS) and a timeout; each must answer
with ``FILE:LINE: path: reason`` and exit 2 (or a 400), never a traceback, a crash or a 500,
and a refused load leaves the served state as it was."""

from __future__ import annotations

import resource
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

MEMORY_LIMIT = 1536 * 1024 * 1024  # address space: far below what the old reader needed
TIMEOUT = 120  # seconds; each case takes well under one on an idle machine

USERS = "users:\n  - displayName: Ada\n    email: ada@x.example\n"
LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + n)}: &{chr(98 + n)} [{', '.join([f'*{chr(97 + n)}'] * 9)}]\n" for n in range(8)
)

# name → (scenario text, what the error must say)
CORPUS = {
    "deep-block-sequence": ("- " * 40_000 + "x\n", "nested deeper than"),
    "deep-flow-sequence": ("[" * 40_000 + "]" * 40_000, "nested deeper than"),
    "deep-flow-mapping": ("{a: " * 20_000 + "b" + "}" * 20_000, "nested deeper than"),
    "deep-json-object": ('{"a": ' * 30_000 + "1" + "}" * 30_000, "nested deeper than"),
    "billion-laughs": (LAUGHS, "aliases expand to more than"),
    "mapping-laughs": (
        "k0: &k0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8}\n"
        + "".join(
            f"k{n}: &k{n} {{{', '.join(f'{c}: *k{n - 1}' for c in 'abcdefgh')}}}\n"
            for n in range(1, 12)
        ),
        "aliases expand to more than",
    ),
    "huge-count-yaml": ("seed: [" + "0," * 2_100_000 + "0]\n", "more than 2,000,000 values"),
    "huge-count-json": ('{"seed": [' + "0," * 2_100_000 + "0]}", "more than 2,000,000 values"),
    "bad-date": (USERS + "seed: 2024-13-45\n", "seed: must be a whole number, not text"),
    "long-integer": (USERS + "seed: " + "9" * 5_000 + "\n", "is not a usable number"),
    "long-integer-json": ('{"seed": ' + "9" * 5_000 + "}", "not a usable number"),
    "bad-base64": (
        USERS + "drives:\n  - owner: ada@x.example\n    root:\n      children:\n"
        "        - name: a.bin\n          file: {}\n          contentBase64: '@@not base64@@'\n",
        "contentBase64: not valid base64",
    ),
    "lone-surrogate-json": (
        '{"users": [{"displayName": "a\\ud800b", "email": "a@b.example"}]}',
        "displayName: not valid Unicode text",
    ),
    "python-tag": ("!!python/object/apply:os.system ['true']\n", "is not supported"),
    "many-problems": (
        "users:\n" + "".join(f"  - displayName: U{n}\n    email: bad{n}\n" for n in range(20_000)),
        "is not an e-mail address",
    ),
    "changes-times-true": (
        USERS + "changes: {serial: 1, times: true}\n",
        "changes.times must be a list",
    ),
    "changes-log-true": (USERS + "changes: {serial: 1, log: true}\n", "changes.log must be a list"),
    "changes-times-backwards": (
        USERS + "changes: {serial: 3, times: [[1704067300, 1], [1704067200, 2]]}\n",
        "must increase in both time and position",
    ),
    "changes-folder-flag": (
        USERS + "changes: {serial: 1, log: [[1, i, d, item, n, null, -1, {folder: 1}]]}\n",
        "folder are true or false",
    ),
    "changes-ancestors-huge": (
        USERS + "changes: {generation: 2, serial: 1, ancestors: [[1, 1" + "0" * 400 + "]]}\n",
        "each of changes.ancestors is [generation, serial]",
    ),
    "empty": ("", "the scenario is empty"),
    "null": ("null\n", "the scenario is empty"),
}


def limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def mockdrive(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mockdrive", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        preexec_fn=limited,
    )


def assert_refused(result: subprocess.CompletedProcess, path: Path, expected: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert expected in result.stderr, result.stderr[-2000:]
    first = result.stderr.removeprefix("mockdrive: ").splitlines()[0]
    assert first.startswith(f"{path}"), first
    assert len(result.stderr.splitlines()) <= 20, "validation stops after the reported problems"


SERVED_CASES = ["deep-block-sequence", "billion-laughs", "long-integer", "bad-base64", "null"]
# reading two million values takes seconds: each way in gets one of the two huge cases
SKIP = {"validate": {"huge-count-json"}, "put": {"huge-count-yaml"}}


@pytest.fixture(params=sorted(set(CORPUS) - SKIP["put"]), ids=str)
def hostile(request, tmp_path) -> tuple[Path, str, str]:
    text, expected = CORPUS[request.param]
    path = tmp_path / f"{request.param}.yaml"
    path.write_text(text, encoding="utf-8")
    return path, text, expected


def test_validate_refuses_every_case_in_bounded_time_and_memory(tmp_path):
    """One ``validate`` run over the whole corpus: each file gets its own lines, exit 2."""
    paths = []
    names = sorted(set(CORPUS) - SKIP["validate"])
    for name in names:
        text, _ = CORPUS[name]
        paths.append(tmp_path / f"{name}.yaml")
        paths[-1].write_text(text, encoding="utf-8")
    result = mockdrive("validate", *map(str, paths))
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.stdout == ""  # no file was "ok"
    for path, (_, expected) in zip(paths, (CORPUS[name] for name in names), strict=True):
        lines = [line for line in result.stderr.splitlines() if line.startswith(f"{path}")]
        assert lines and any(expected in line for line in lines), (path.name, lines[:3])
        assert len(lines) <= 20, "validation stops after the problems it reports"


@pytest.mark.parametrize("name", SERVED_CASES)
def test_serving_it_refuses_in_bounded_time_and_memory(tmp_path, name):
    text, expected = CORPUS[name]
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    assert_refused(mockdrive("--scenario", str(path), "--port", "0"), path, expected)


class Server:
    """A ``mockdrive`` subprocess under the memory limit."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            # pinned: the state is compared byte for byte, and a clock following the wall moves
            [sys.executable, "-m", "mockdrive", "--port", "0", "--clock", "2024-01-01T00:00:00Z"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=limited,
        )
        first = self.process.stdout.readline().strip()
        assert first.startswith("mockdrive listening on "), first + self.process.stderr.read()
        self.url = first.rsplit(" ", 1)[1]

    def close(self) -> str:
        self.process.terminate()
        _, stderr = self.process.communicate(timeout=30)
        return stderr


@pytest.fixture(scope="module")
def server():
    served = Server()
    yield served
    stderr = served.close()
    assert "Traceback" not in stderr, stderr[-3000:]


def test_put_state_refuses_each_with_a_400_and_keeps_the_state(server, hostile):
    _, text, expected = hostile
    before = requests.get(server.url + "/_mockdrive/state?format=yaml", timeout=TIMEOUT).text
    answer = requests.put(
        server.url + "/_mockdrive/state", data=text.encode("utf-8"), timeout=TIMEOUT
    )
    assert answer.status_code == 400, answer.text[:2000]
    error = answer.json()["error"]
    assert error["code"] == "invalidRequest"
    if text.strip():  # the empty body is refused before it is read as a scenario
        assert expected in error["message"], error["message"][:2000]
        assert error["message"].startswith("<request body>"), error["message"][:200]
    assert requests.get(server.url + "/_mockdrive/state?format=yaml", timeout=30).text == before
    assert server.process.poll() is None


def test_put_state_explicit_empty_scenario_clears_but_empty_body_and_null_do_not(server):
    url = server.url + "/_mockdrive/state"
    requests.post(server.url + "/_mockdrive/reset", timeout=30)
    assert requests.get(url, timeout=30).json()["users"]
    for body in (b"", b"  \n", b"null", b"~\n", b"# only a comment\n"):
        answer = requests.put(url, data=body, timeout=30)
        assert answer.status_code == 400, (body, answer.text)
        assert requests.get(url, timeout=30).json()["users"], body
    cleared = requests.put(url, data=b"{}", timeout=30)
    assert cleared.status_code == 200 and cleared.json() == {"users": 0, "items": 0}
    assert requests.get(url, timeout=30).json() == {"seed": 0, "users": [], "drives": []}
    requests.post(server.url + "/_mockdrive/reset", timeout=30)


def test_a_large_load_does_not_hold_up_other_requests(server):
    """Health keeps answering while a big scenario is parsed, checked and built."""
    from mockdrive.demo import demo_scenario
    from mockdrive.scenario import dump_yaml

    text = dump_yaml(demo_scenario(seed=3, users=50, items=20_000)).encode("utf-8")
    done = threading.Event()
    result: dict[str, int] = {}

    def load() -> None:
        answer = requests.put(server.url + "/_mockdrive/state", data=text, timeout=TIMEOUT)
        result["status"] = answer.status_code
        done.set()

    thread = threading.Thread(target=load)
    thread.start()
    answered_meanwhile = 0
    health = requests.Session()
    for _ in range(100_000):  # bounded; ends as soon as the load does
        if done.is_set():
            break
        assert health.get(server.url + "/_mockdrive/health", timeout=TIMEOUT).ok
        if not done.is_set():
            answered_meanwhile += 1
    thread.join(TIMEOUT)
    assert result == {"status": 200}
    assert answered_meanwhile >= 3
    requests.post(server.url + "/_mockdrive/reset", timeout=30)
