"""``mockdrive validate`` and the fixture on bad scenario files: every
problem of a file in one run, in words, on the right line; empty files refused; relative paths
found as the marker finds them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import UNUSED_PLUGINS
from hypothesis import given, settings
from hypothesis import strategies as st

from mockdrive.model.sharing import EMAIL_PATTERN
from mockdrive.scenario import ScenarioError, build_state

BROKEN = """\
users:
  - displayName: Ada
    email: ada@x.example
  - displayName: Ada Again
    email: ada@x.example
  - displayName: Bad
    email: not-an-email
groups:
  - displayName: Team
    members: [ada@x.example, ghost@x.example]
drives:
  - owner: nobody@x.example
  - owner: ada@x.example
    root:
      children:
        - name: Plan.docx
          file: {}
        - name: plan.DOCX
          file: {}
        - name: Shared
          folder: {}
          permissions:
            - user: ada@x.example
          colour:
            red: 1
"""


def validate(*paths: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mockdrive", "validate", *paths],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_validate_reports_every_problem_of_a_file_in_one_run_in_words(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    result = validate(str(path))
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.replace(str(path), "FILE").splitlines()
    expected = [
        "FILE:5: users[1].email: duplicate e-mail 'ada@x.example'",
        "FILE:7: users[2].email: 'not-an-email' is not an e-mail address",
        "FILE:10: groups[0].members[1]: 'ghost@x.example' is not a user declared under 'users'",
        "FILE:12: drives[0].owner: 'nobody@x.example' is not a user declared under 'users'",
        "FILE:18: drives[1].root.children[1].name: 'plan.DOCX' already exists in this folder",
        "FILE:23: drives[1].root.children[2].permissions[0]: a permission needs 'roles' or "
        "'onehubRole'",
        # the unknown key's own line, not the line of the block below it
        "FILE:24: drives[1].root.children[2].colour: unknown key (expected one of: ",
    ]
    for want in expected:
        assert any(line.startswith(want) for line in lines), (want, lines)
    assert len(lines) == len(expected), lines
    text = result.stderr
    assert "is not valid under any of the given schemas" not in text
    assert "^[" not in text and "does not match" not in text


def test_an_empty_file_is_not_ok(tmp_path):
    empty, comment, null = tmp_path / "empty.yaml", tmp_path / "c.yaml", tmp_path / "n.yaml"
    empty.write_text("")
    comment.write_text("# nothing here yet\n")
    null.write_text("null\n")
    explicit = tmp_path / "explicit.yaml"
    explicit.write_text("{}\n")
    result = validate(str(empty), str(comment), str(null), str(explicit))
    assert result.returncode == 2
    for path in (empty, comment, null):
        assert f"{path}" in result.stderr and "the scenario is empty" in result.stderr
    assert result.stdout == f"{explicit}: ok (0 users, 0 groups, 0 drives, 0 items)\n"


def test_fixture_load_and_marker_find_paths_alike_and_refuse_empty_files(pytester):
    pytester.makefile(
        ".yaml",
        **{
            "sub/beside": "users: [{displayName: Ada, email: ada@x.example, token: t}]\n"
            "drives: [{owner: ada@x.example}]\n",
            "sub/empty": "",
        },
    )
    pytester.makepyfile(
        **{
            "sub/test_inner": textwrap.dedent(
                """
                import pytest
                from mockdrive.scenario import ScenarioError

                def test_load_finds_a_file_beside_the_test(mock_drive):
                    mock_drive.load("beside.yaml")
                    assert mock_drive.token == "t"

                def test_load_names_every_path_it_tried(mock_drive):
                    with pytest.raises(ScenarioError) as caught:
                        mock_drive.load("missing.yaml")
                    message = str(caught.value)
                    # the name, the 2 paths tried and the shipped name tried
                    assert message.count("missing.yaml") == 4, message

                def test_load_refuses_an_empty_file(mock_drive):
                    with pytest.raises(ScenarioError, match="the scenario is empty"):
                        mock_drive.load("empty.yaml")

                @pytest.mark.mock_drive(scenario="nowhere.yaml")
                def test_marker_missing(mock_drive):
                    pass

                @pytest.mark.mock_drive(scenario="empty.yaml")
                def test_marker_empty(mock_drive):
                    pass
                """
            )
        }
    )
    # in this process, as test_plugin's inner runs: the same plugin, hooks and fixtures, without
    # a second interpreter's start-up (a pytest process costs ~1 s); pytester isolates sys.path,
    # sys.modules and the working directory of the inner run
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-p", "no:xdist", *UNUSED_PLUGINS,
        "-o", "asyncio_default_fixture_loop_scope=function",
    )  # fmt: skip
    result.assert_outcomes(passed=3, errors=2)
    output = result.stdout.str()
    root, sub = pytester.path, pytester.path / "sub"
    assert f"{root / 'nowhere.yaml'}, {sub / 'nowhere.yaml'}" in output
    assert "the scenario is empty" in output and "StopIteration" not in output


def test_load_parses_a_scenario_file_once_per_process(mock_drive, pytestconfig):
    from mockdrive.testing import scenarios

    path = (pytestconfig.rootpath / "fixtures" / "team.yaml").resolve()
    mock_drive.load("fixtures/team.yaml")
    parsed = scenarios.DOCUMENTS[path]
    mock_drive.add_folder("/Changed")
    mock_drive.load("fixtures/team.yaml")  # built afresh from the same parsed document
    assert scenarios.DOCUMENTS[path] is parsed
    assert mock_drive.token == "ada-token"
    names = [item.name for item in mock_drive.state.store.items.values()]
    assert "Changed" not in names


# Each problem here used to hide the ones below it: an unknown owner or drive type its drive's
# tree, a file with children or a duplicate item what is inside them, a bad entry its siblings.
HIDING = """\
users:
  - displayName: Ada
    email: ada@x.example
    colour: red
groups:
  - displayName: Team
drives:
  - owner: bob@x.example
    root:
      children:
        - name: a
          folder: {}
          permissions:
            - group: Nobody
              roles: [read]
            - user: ada@x.example
              email: x@partner.example
              roles: [read]
        - name: A
          folder: {}
  - owner: ada@x.example
    driveType: shared
    name: Second
    root:
      children:
        - name: Report.txt
          file: {}
          size: 3
          content: abc
          children:
            - name: Inner
              folder: {}
            - name: inner
              folder: {}
        - name: Report.txt
          folder: {}
          children:
            - name: Twice
              folder: {}
            - name: twice
              folder: {}
"""


def test_validate_reports_schema_reference_and_tree_problems_hidden_below_others(tmp_path):
    path = tmp_path / "hiding.yaml"
    path.write_text(HIDING)
    result = validate(str(path))
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.replace(str(path), "FILE").splitlines()
    schema = "FILE:4: users[0].colour: unknown key (expected one of: alias, "
    assert lines[0].startswith(schema) and "displayName, email" in lines[0]
    assert lines[1:] == [
        "FILE:8: drives[0].owner: 'bob@x.example' is not a user declared under 'users'",
        "FILE:14: drives[0].root.children[0].permissions[0].group: 'Nobody' is not a group "
        "declared under 'groups'",
        "FILE:16: drives[0].root.children[0].permissions[1]: a permission needs exactly one of "
        "user, group or email",
        "FILE:19: drives[0].root.children[1].name: 'A' already exists in this folder",
        "FILE:22: drives[1].driveType: 'shared' is not one of: personal, business, documentLibrary",
        "FILE:29: drives[1].root.children[0].content: give only one of size, content",
        "FILE:31: drives[1].root.children[0].children: a file cannot have children",
        "FILE:33: drives[1].root.children[0].children[1].name: 'inner' already exists in this "
        "folder",
        "FILE:35: drives[1].root.children[1].name: 'Report.txt' already exists in this folder",
        "FILE:40: drives[1].root.children[1].children[1].name: 'twice' already exists in this "
        "folder",
    ]


def test_validate_says_when_it_stopped_at_its_limit(tmp_path):
    twins = "".join("        - name: a\n          folder: {}\n" for _ in range(30))
    path = tmp_path / "many.yaml"
    path.write_text(
        "users:\n  - displayName: Ada\n    email: ada@x.example\ndrives:\n"
        "  - owner: ada@x.example\n    root:\n      children:\n" + twins
    )
    lines = validate(str(path)).stderr.replace(str(path), "FILE").splitlines()
    assert len(lines) == 20 and lines[0].endswith("'a' already exists in this folder")
    assert lines[-1] == "FILE: and more problems (the first 19 are shown); fix these and run again"


SCHEMA_EMAIL = json.loads(
    (Path(__file__).parent.parent / "mockdrive" / "scenario.schema.json").read_text()
)["$defs"]["email"]["pattern"]


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.tuples(st.text(max_size=4), st.text(max_size=4), st.text(max_size=4)).map(
            lambda parts: "{}@{}.{}".format(*parts)
        ),
        st.text(max_size=12),
    )
)
def test_a_scenario_takes_exactly_the_addresses_the_api_takes(address):
    """The schema's e-mail pattern (read by jsonschema and by the quick check alike) and the
    API's ``EMAIL_PATTERN`` agree on every address: a scenario took a NUL, a control
    character, a comma or a trailing newline that every invitation refuses."""
    assert bool(re.search(SCHEMA_EMAIL, address)) == bool(EMAIL_PATTERN.match(address))


@pytest.mark.parametrize("address", ["a\x00b@x.example", "a\x1b@x.example", "a@x.example\n"])
def test_a_scenario_user_whose_address_the_api_refuses_is_refused(address):
    with pytest.raises(ScenarioError, match="is not an e-mail address"):
        build_state({"users": [{"displayName": "A", "email": address}]})
