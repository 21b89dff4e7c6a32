"""``python -m mockdrive`` as a real subprocess: banner, health, a request, signals, exit codes."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

FIXTURES = Path(__file__).parent.parent / "fixtures"
PINNED = "2024-01-01T00:00:00Z"  # where a fresh clock starts: runs compare as `export` writes


def start(*args: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "mockdrive", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = process.stdout.readline().strip()
    assert first.startswith("mockdrive listening on http://127.0.0.1:"), (
        first + process.stderr.read()
    )
    return process, first.rsplit(" ", 1)[1]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_default_drive_token_and_clean_shutdown(sig):
    process, url = start("--token", "tok-123")
    banner = [process.stdout.readline(), process.stdout.readline()]
    try:
        assert requests.get(url + "/_mockdrive/health", timeout=5).status_code == 200
        drive = requests.get(
            url + "/v1.0/me/drive", headers={"Authorization": "Bearer tok-123"}, timeout=5
        )
        assert drive.status_code == 200 and drive.json()["driveType"] == "business"
    finally:
        process.send_signal(sig)
        process.communicate(timeout=10)
    assert process.returncode == 0
    assert banner == [
        f"  Graph API: {url}/v1.0\n",
        "  token for ada@contoso.example: tok-123\n",
    ]


def test_scenario_is_served():
    process, url = start("--scenario", str(FIXTURES / "quickstart.yaml"))
    try:
        bob = {"Authorization": "Bearer bob-token"}
        plan = requests.get(
            url + "/v1.0/users/ada@contoso.example/drive/root:/Projects/Plan.docx", headers=bob
        )
        assert plan.status_code == 200 and plan.json()["size"] == 12800
        notes = requests.get(
            url + "/v1.0/me/drive/root:/Notes.txt:/content",
            headers={"Authorization": "Bearer ada-token"},
        )
        assert notes.text == "Remember the milk."
    finally:
        process.terminate()
        process.communicate(timeout=10)
    assert process.returncode == 0


def test_bad_scenario_exits_2_naming_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("drives:\n  - owner: nobody@x.example\n")
    result = subprocess.run(
        [sys.executable, "-m", "mockdrive", "--scenario", str(bad), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert str(bad) in result.stderr and "drives[0].owner" in result.stderr
    assert "Traceback" not in result.stderr


# -- every flag and subcommand -------------------------------------------------------------------
MOCKDRIVE = [sys.executable, "-m", "mockdrive"]


class Served:
    """A ``mockdrive`` subprocess and its banner, read up to the Admin API (and CA) line."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [*MOCKDRIVE, "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.banner = [self.process.stdout.readline().rstrip("\n")]
        assert self.banner[0].startswith("mockdrive listening on "), (
            self.banner[0] + self.process.stderr.read()
        )
        self.url = self.banner[0].rsplit(" ", 1)[1]
        while not self.banner[-1].startswith("  Admin API: "):
            self.banner.append(self.process.stdout.readline().rstrip("\n"))
        if "--tls" in args:
            self.banner.append(self.process.stdout.readline().rstrip("\n"))

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        self.process.send_signal(sig)
        _, stderr = self.process.communicate(timeout=10)
        return self.process.returncode, stderr

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.stop()


# Tests that only read from a server of the same options share one (a start costs ~0.3 s of CPU);
# it must still stop cleanly when they are done.
@pytest.fixture(scope="module")
def plain() -> Iterator[Served]:
    with Served() as served:
        yield served
        code, stderr = served.stop()
    assert code == 0 and stderr == ""


@pytest.fixture(scope="module")
def admin_guarded() -> Iterator[Served]:
    with Served("--admin-token", "s3cret") as served:
        yield served
        code, stderr = served.stop()
    assert code == 0 and stderr == ""


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*MOCKDRIVE, *args], input=stdin, capture_output=True, text=True, timeout=60
    )


def test_a_star_import_of_the_cli_names_default_state_as_an_attribute_import_does():
    """``default_state`` loads on first use; a star import asks for it too, in a fresh process."""
    code = (
        "from mockdrive.cli import *\n"
        "from mockdrive.scenario.defaults import default_state as loaded\n"
        "assert default_state is loaded and callable(main) and callable(serve)\n"
        "print(DEFAULT_TOKEN)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=FIXTURES
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "mockdrive-token\n"


def test_version_flag_and_console_script():
    from mockdrive import __version__

    assert run("--version").stdout.strip() == f"mockdrive {__version__}"
    script = Path(sys.executable).parent / "mockdrive"
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and result.stdout.strip() == f"mockdrive {__version__}"


def test_banner_lists_graph_tokens_and_admin_url():
    with Served("--scenario", str(FIXTURES / "team.yaml")) as served:
        url = served.url
        assert served.banner[0] == f"mockdrive listening on {url}"
        assert served.banner[1] == f"  Graph API: {url}/v1.0"
        assert "  token for erin@auditors.example: erin-token" in served.banner
        assert served.banner[-1] == f"  Admin API: {url}/_mockdrive"
        code, stderr = served.stop()
    assert code == 0 and stderr == ""


def test_validate_reports_ok_and_errors_with_file_and_line(tmp_path):
    ok = run("validate", *(str(p) for p in sorted(FIXTURES.glob("*.yaml"))))
    assert ok.returncode == 0, ok.stderr
    assert f"{FIXTURES / 'team.yaml'}: ok (5 users, 1 groups, 2 drives, " in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("users:\n  - displayName: Ada\n    email: ada@x.example\n    tokn: t\n")
    result = run("validate", str(bad))
    assert result.returncode == 2
    assert result.stderr.startswith(f"{bad}:4: users[0].tokn: unknown key"), result.stderr
    assert "Traceback" not in result.stderr


def test_export_of_a_scenario_loads_and_exports_byte_identically(tmp_path):
    first = run("export", "--scenario", str(FIXTURES / "team.yaml"))
    assert first.returncode == 0, first.stderr
    again = tmp_path / "again.yaml"
    again.write_text(first.stdout)
    second = run("export", "--scenario", str(again))
    assert second.stdout == first.stdout
    assert "group: finance-team" in first.stdout and "email: frank@auditors.example" in first.stdout


def test_demo_export_is_reproducible_per_seed():
    one = run("export", "--demo", "--seed", "3", "--users", "12", "--items", "200")
    same = run("export", "--demo", "--seed", "3", "--users", "12", "--items", "200")
    other = run("export", "--demo", "--seed", "4", "--users", "12", "--items", "200")
    assert one.returncode == 0, one.stderr
    assert one.stdout == same.stdout
    assert one.stdout != other.stdout


def test_demo_is_served_and_its_tokens_work():
    with Served("--demo", "--seed", "5", "--users", "8", "--items", "120") as served:
        tokens = [line.rsplit(": ", 1)[1] for line in served.banner if "token for" in line]
        assert len(tokens) == 8
        drive = requests.get(
            served.url + "/v1.0/me/drive/root/children",
            headers={"Authorization": f"Bearer {tokens[0]}"},
            timeout=5,
        )
        assert drive.status_code == 200 and drive.json()["value"]


def test_binding_beyond_loopback_warns_on_stderr():
    with Served("--host", "0.0.0.0") as served:
        port = served.url.rsplit(":", 1)[1]
        assert served.banner[0] == f"mockdrive listening on http://0.0.0.0:{port}"
        health = requests.get(f"http://127.0.0.1:{port}/_mockdrive/health", timeout=5)
        assert health.status_code == 200
        code, stderr = served.stop()
    assert code == 0
    assert "warning: binding 0.0.0.0 exposes the mock beyond this machine" in stderr


def test_log_level_info_logs_each_request():
    with Served("--log-level", "info") as served:
        requests.get(served.url + "/_mockdrive/health", timeout=5)
        code, stderr = served.stop()
    assert code == 0 and "/_mockdrive/health" in stderr


def test_tls_serves_https_verified_against_the_printed_ca():
    with Served("--tls") as served:
        assert served.url.startswith("https://127.0.0.1:")
        assert served.banner[-1].startswith("  CA bundle: ")
        ca_path = served.banner[-1].split(": ", 1)[1]
        assert Path(ca_path).read_text().startswith("-----BEGIN CERTIFICATE-----")
        drive = requests.get(
            served.url + "/v1.0/me/drive",
            headers={"Authorization": "Bearer mockdrive-token"},
            verify=ca_path,
            timeout=5,
        )
        assert drive.status_code == 200
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(served.url + "/_mockdrive/health", timeout=5)  # system CAs only
        code, _ = served.stop()
    assert code == 0
    assert not Path(ca_path).exists()


def test_admin_state_put_get_reset_over_http(tmp_path):
    team = (FIXTURES / "team.yaml").read_text()
    exported = run("export", "--scenario", str(FIXTURES / "team.yaml")).stdout
    with Served("--clock", PINNED) as served:  # compares bytes: the clock is pinned
        admin = served.url + "/_mockdrive"
        put = requests.put(admin + "/state", data=team, timeout=5)
        assert put.status_code == 200, put.text
        as_yaml = requests.get(admin + "/state?format=yaml", timeout=5)
        assert as_yaml.headers["Content-Type"].startswith("application/yaml")
        assert as_yaml.text == exported
        by_accept = requests.get(admin + "/state", headers={"Accept": "application/yaml"})
        assert by_accept.text == exported
        as_json = requests.get(admin + "/state", timeout=5).json()
        assert [u["email"] for u in as_json["users"]][:2] == [
            "ada@contoso.example",
            "bob@contoso.example",
        ]
        # A JSON body loads too, and gives the same state back.
        assert requests.put(admin + "/state", json=as_json, timeout=5).status_code == 200
        assert requests.get(admin + "/state?format=yaml", timeout=5).text == exported

        bad = requests.put(admin + "/state", data="users:\n  - email: nobody\n", timeout=5)
        assert bad.status_code == 400
        message = bad.json()["error"]["message"]
        assert "<request body>:2: users[0]: a user needs 'displayName'" in message
        assert requests.get(admin + "/state?format=yaml", timeout=5).text == exported
        broken = requests.put(admin + "/state", data=b"\xff\xfe", timeout=5)
        assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalidRequest"

        assert requests.post(admin + "/reset", timeout=5).status_code == 204
        after = requests.get(admin + "/state", timeout=5).json()
        assert [u["email"] for u in after["users"]] == ["ada@contoso.example"]


def test_admin_token_guards_the_admin_api_and_is_printed_for_the_dashboard(admin_guarded):
    served = admin_guarded
    assert f"  Dashboard: {served.url}/_mockdrive/ui#token=s3cret" in served.banner
    state = served.url + "/_mockdrive/state"
    assert requests.get(state, timeout=5).status_code == 401
    ok = requests.get(state, headers={"X-Mockdrive-Admin-Token": "s3cret"}, timeout=5)
    assert ok.status_code == 200


def test_port_in_use_is_a_clear_error(plain):
    port = plain.url.rsplit(":", 1)[1]
    result = subprocess.run(
        [sys.executable, "-m", "mockdrive", "--port", port],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1 and "cannot listen" in result.stderr


# -- what a newcomer tries first ----------------------------------------------------------------
def test_seed_with_a_scenario_seeds_its_generated_ids(tmp_path):
    plain = run("export", "--scenario", "team")
    seeded = run("export", "--scenario", "team", "--seed", "5")
    assert plain.returncode == seeded.returncode == 0, plain.stderr + seeded.stderr
    assert plain.stdout != seeded.stdout  # the ids the file leaves out now come from seed 5
    in_file = tmp_path / "team-seed-5.yaml"
    in_file.write_text("seed: 5\n" + (FIXTURES / "team.yaml").read_text())
    assert run("export", "--scenario", str(in_file)).stdout == seeded.stdout
    with Served("--scenario", "team", "--seed", "5", "--clock", PINNED) as served:
        state = requests.get(served.url + "/_mockdrive/state?format=yaml", timeout=5)
        assert state.text == seeded.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenario", "team", "--users", "3"], "--users only applies to --demo"),
        (["--scenario", "team", "--items", "9", "--users", "3"], "--users and --items only apply"),
        (["--items", "9"], "--items only applies to --demo"),
        (["--scenario", "team", "--token", "t"], "--token only applies to the default drive"),
        (["--scenario", "team", "--demo"], "give --scenario or --demo, not both"),
        (["--proxy", "--tls"], "give --proxy or --tls, not both"),
        (["export", "--scenario", "team", "--users", "3"], "--users only applies to --demo"),
        (["--demo", "--users", "-1"], "argument --users: -1 is too few: at least 2"),
        (["export", "--demo", "--items", "-5"], "argument --items: -5 is too few: at least 0"),
        (["--demo", "--users", "many"], "argument --users: not a whole number: 'many'"),
        (["--demo", "--users", "1_000"], "argument --users: not a whole number: '1_000'"),
        (["--demo", "--users", "+5"], "argument --users: not a whole number: '+5'"),
        (["--demo", "--users", " 5"], "argument --users: not a whole number: ' 5'"),
        (["export", "--demo", "--items", "\u0663"], "--items: not a whole number: '\u0663'"),
        (["--demo", "--users", "10001"], "argument --users: 10001 is too many: at most 10,000"),
        (
            ["export", "--demo", "--items", "1" + "0" * 9],
            "argument --items: 1000000000 is too many: at most 1,000,000",
        ),
    ],
)
def test_options_a_scenario_would_ignore_are_refused(args, message):
    result = run(*args, "--port", "0") if args[0] != "export" else run(*args)
    assert result.returncode == 2
    assert message in result.stderr and "usage: mockdrive" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_shows_the_defaults_and_help_is_a_subcommand():
    shown = run("--help")
    assert shown.returncode == 0
    text = " ".join(shown.stdout.split())  # argparse wraps lines
    for default in ("(default 127.0.0.1)", "(default 8000;", "(default 0;",
                    "2 to 10,000 (default 25)", "0 to 1,000,000 (default 500)",
                    "(default mockdrive-token)", "(default warning)"):  # fmt: skip
        assert default in text, default
    assert "partial-failure, quickstart, team, throttling" in text
    again = run("help")
    assert again.stdout == shown.stdout and again.returncode == 0
    assert run("help", "validate").stdout.startswith("usage: mockdrive validate")
    assert run("help", "export").stdout.startswith("usage: mockdrive export")
    wrong = run("help", "serve")
    assert wrong.returncode == 2 and "mockdrive help validate" in wrong.stderr


def test_shipped_scenarios_by_name_and_a_path_first(tmp_path):
    assert run("validate", "team", "quickstart.yaml").stdout.splitlines() == [
        "team: ok (5 users, 1 groups, 2 drives, 10 items)",
        "quickstart.yaml: ok (2 users, 0 groups, 1 drives, 4 items)",
    ]
    local = tmp_path / "team"
    local.write_text("users: [{displayName: L, email: l@x.example}]\n")
    here = subprocess.run(
        [*MOCKDRIVE, "validate", "team"], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert here.stdout == "team: ok (1 users, 0 groups, 0 drives, 0 items)\n"  # the file wins
    missing = run("validate", "nope")
    assert missing.returncode == 2
    assert missing.stderr == (
        "nope: (document): no such file or shipped scenario; tried nope, a shipped scenario "
        "named 'nope' (one of: partial-failure, quickstart, team, throttling)\n"
    )
    with Served("--scenario", "team") as served:
        assert "  token for bob@contoso.example: bob-token" in served.banner


def test_the_banners_admin_url_answers_with_an_index_of_the_admin_routes(admin_guarded):
    from mockdrive.api.openapi import admin_paths

    served = admin_guarded
    admin_url = next(line.split(": ", 1)[1] for line in served.banner if "Admin API" in line)
    assert requests.get(admin_url, timeout=5).status_code == 401  # guarded like the rest
    token = {"X-Mockdrive-Admin-Token": "s3cret"}
    index = requests.get(admin_url, headers=token, timeout=5)
    assert index.status_code == 200, index.text
    assert index.headers["Content-Type"].startswith("application/json")
    listed = {route["path"]: route["methods"] for route in index.json()["routes"]}
    for path, operations in admin_paths().items():
        if path.startswith("/_mockdrive") and path != "/_mockdrive/":
            assert listed[path] == sorted(m.upper() for m in operations), path
    assert index.json()["graph"] == served.url + "/v1.0"
    page = requests.get(admin_url + "/", headers={**token, "Accept": "text/html"}, timeout=5)
    assert page.headers["Content-Type"].startswith("text/html")
    assert '<a href="/_mockdrive/outbox">/_mockdrive/outbox</a>' in page.text


def test_a_user_without_a_drive_is_named_by_e_mail():
    with Served("--scenario", "quickstart") as served:
        response = requests.get(
            served.url + "/v1.0/me/drive", headers={"Authorization": "Bearer bob-token"}, timeout=5
        )
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "itemNotFound"
    assert error["message"] == "bob@contoso.example has no drive"


def test_the_clock_follows_the_wall_unless_the_clock_flag_pins_it(plain):
    state = requests.get(plain.url + "/_mockdrive/clock", timeout=5).json()
    now = datetime.now(timezone.utc)
    read = datetime.fromisoformat(state["now"].replace("Z", "+00:00"))
    assert abs(read - now) < timedelta(minutes=1), state
    with Served("--clock", "2030-05-06T07:08:09Z") as served:
        state = requests.get(served.url + "/_mockdrive/clock", timeout=5).json()
    assert state["now"].startswith("2030-05-06T07:08:"), state
    refused = run("--clock", "yesterday")
    assert refused.returncode == 2 and "--clock" in refused.stderr, refused.stderr


@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_a_port_out_of_range_is_a_usage_error(port):
    result = run("--port", port)
    assert result.returncode == 2, result.stderr
    assert "argument --port" in result.stderr and "Traceback" not in result.stderr


def test_a_scenario_served_at_an_earlier_clock_flag_lists_its_shares():
    """--clock is the moment a scenario without clock: loads at (at start, at a reset and at a
    PUT of the state): its shares are not in the clock's future, which sharedWithMe leaves
    out."""
    team = (FIXTURES / "team.yaml").read_text()
    with Served("--scenario", "team", "--clock", "2023-06-01T00:00:00Z") as served:
        admin, url = served.url + "/_mockdrive", served.url + "/v1.0/me/drive/sharedWithMe"
        dan = {"Authorization": "Bearer dan-token"}
        for load in (
            lambda: None,
            lambda: requests.post(admin + "/reset", timeout=5),
            lambda: requests.put(admin + "/state", data=team, timeout=5),
        ):
            load()
            listed = requests.get(url, headers=dan, timeout=5)
            assert [e["name"] for e in listed.json()["value"]] == ["Q3.xlsx"], listed.text
            state = requests.get(admin + "/state", timeout=5).json()
            assert state["clock"] == "2023-06-01T00:00:00Z"
            finance = state["drives"][0]["root"]["children"][0]
            assert finance["permissions"][0]["sharedDateTime"] == "2023-06-01T00:00:00Z"
