"""Scenario files: the schema, every error class (file:line, path, reason), export round trips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mockdrive.model import delta
from mockdrive.scenario import (
    ScenarioError,
    export_scenario,
    export_yaml,
    load_scenario,
    load_scenario_text,
    scenario_schema,
)

FIXTURES = Path(__file__).parent.parent / "fixtures"
SHIPPED = sorted(FIXTURES.glob("*.yaml"))


def error_of(tmp_path: Path, text: str) -> str:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert "Traceback" not in message
    return message.replace(str(path), "FILE")


def test_shipped_fixtures_are_the_four_documented_ones():
    names = {p.name for p in SHIPPED}
    assert {"quickstart.yaml", "team.yaml", "partial-failure.yaml", "throttling.yaml"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_fixture_validates_loads_and_round_trips(path):
    state = load_scenario(path)
    assert state.store.drives and state.directory.users
    exported = export_yaml(state)
    assert export_yaml(load_scenario_text(exported)) == exported


def test_the_schema_is_shipped_in_the_package_and_is_draft_2020_12():
    from jsonschema import Draft202012Validator

    schema = scenario_schema()
    Draft202012Validator.check_schema(schema)
    assert {"users", "groups", "drives", "faults", "policy"} <= set(schema["properties"])


def test_yaml_syntax_error_names_the_line(tmp_path):
    message = error_of(tmp_path, "users:\n  - displayName: Ada\n    email: [unclosed\n")
    assert message.startswith("FILE:4: (document): not valid YAML"), message


def test_unknown_key_names_line_path_and_key(tmp_path):
    text = (
        "users:\n"
        "  - displayName: Ada\n"
        "    email: ada@x.example\n"
        "drives:\n"
        "  - owner: ada@x.example\n"
        "    root:\n"
        "      children:\n"
        "        - nmae: Plan.docx\n"
    )
    message = error_of(tmp_path, text)
    assert "FILE:8: drives[0].root.children[0]: an item needs 'name'" in message
    assert "FILE:8: drives[0].root.children[0].nmae: unknown key (expected one of: " in message


def test_wrong_type_and_unknown_role(tmp_path):
    text = (
        "users:\n"
        "  - displayName: Ada\n"
        "    email: ada@x.example\n"
        "drives:\n"
        "  - owner: ada@x.example\n"
        "    root:\n"
        "      children:\n"
        "        - name: Plan.docx\n"
        "          file: {}\n"
        "          size: big\n"
        "          permissions:\n"
        "            - user: ada@x.example\n"
        "              roles: [admin]\n"
    )
    message = error_of(tmp_path, text)
    assert "FILE:10: drives[0].root.children[0].size: must be a whole number, not text" in message
    assert "FILE:13: drives[0].root.children[0].permissions[0].roles[0]: 'admin'" in message


def test_malformed_email_is_a_schema_error(tmp_path):
    message = error_of(tmp_path, "users:\n  - displayName: Ada\n    email: not-an-address\n")
    assert message.startswith("FILE:3: users[0].email: 'not-an-address' is not an e-mail address")


def test_unknown_user_reference(tmp_path):
    message = error_of(
        tmp_path,
        "users:\n  - {displayName: Ada, email: ada@x.example}\ndrives:\n  - owner: bob@x.example\n",
    )
    assert message == (
        "FILE:4: drives[0].owner: 'bob@x.example' is not a user declared under 'users'"
    )


def test_duplicate_email_is_case_insensitive(tmp_path):
    message = error_of(
        tmp_path,
        "users:\n"
        "  - {displayName: Ada, email: ada@x.example}\n"
        "  - displayName: Ada Again\n"
        "    email: ADA@x.example\n",
    )
    assert message == "FILE:4: users[1].email: duplicate e-mail 'ADA@x.example'"


def test_duplicate_token(tmp_path):
    message = error_of(
        tmp_path,
        "users:\n"
        "  - {displayName: Ada, email: ada@x.example, token: t}\n"
        "  - {displayName: Bob, email: bob@x.example, token: t}\n",
    )
    assert message == "FILE:3: users[1].token: two users cannot share one token"


def test_unknown_group_member_and_unknown_group_grant(tmp_path):
    member = error_of(
        tmp_path,
        "users:\n"
        "  - {displayName: Ada, email: ada@x.example}\n"
        "groups:\n"
        "  - displayName: Team\n"
        "    members: [ada@x.example, zed@x.example]\n",
    )
    assert member == (
        "FILE:5: groups[0].members[1]: 'zed@x.example' is not a user declared under 'users'"
    )
    grant = error_of(
        tmp_path,
        "users:\n"
        "  - {displayName: Ada, email: ada@x.example}\n"
        "drives:\n"
        "  - owner: ada@x.example\n"
        "    root:\n"
        "      permissions:\n"
        "        - {group: Nobody, roles: [read]}\n",
    )
    assert grant == (
        "FILE:7: drives[0].root.permissions[0].group: 'Nobody' is not a group declared under "
        "'groups'"
    )


def test_item_shape_errors(tmp_path):
    head = (
        "users:\n  - {displayName: Ada, email: ada@x.example}\n"
        "drives:\n  - owner: ada@x.example\n    root:\n      children:\n"
    )
    assert (
        error_of(tmp_path, head + "        - {name: A, file: {}, children: []}\n")
        == "FILE:7: drives[0].root.children[0].children: a file cannot have children"
    )
    assert (
        error_of(tmp_path, head + "        - {name: A, folder: {}, file: {}}\n")
        == "FILE:7: drives[0].root.children[0]: an item is either a folder or a file, not both"
    )
    assert (
        error_of(tmp_path, head + "        - {name: A.txt, folder: {}}\n        - {name: a.TXT}\n")
        == "FILE:8: drives[0].root.children[1].name: 'a.TXT' already exists in this folder"
    )
    bad_name = error_of(tmp_path, head + "        - {name: 'a:b', file: {}}\n")
    assert bad_name.startswith("FILE:7: drives[0].root.children[0].name: name contains")
    assert (
        error_of(tmp_path, head + "        - {name: A, file: {}, size: 3, content: abc}\n")
        == "FILE:7: drives[0].root.children[0].content: give only one of size, content"
    )


def test_permission_needs_exactly_one_grantee(tmp_path):
    message = error_of(
        tmp_path,
        "users:\n  - {displayName: Ada, email: ada@x.example}\n"
        "drives:\n  - owner: ada@x.example\n    root:\n      permissions:\n"
        "        - roles: [read]\n",
    )
    assert message == (
        "FILE:7: drives[0].root.permissions[0]: a permission needs exactly one of user, group "
        "or email"
    )


def test_not_a_mapping_and_unreadable_file(tmp_path):
    assert error_of(tmp_path, "- just\n- a list\n").startswith(
        "FILE:1: (document): must be a mapping (key: value), not a list"
    )
    with pytest.raises(ScenarioError, match=r"missing\.yaml: \(document\): cannot read"):
        load_scenario(tmp_path / "missing.yaml")


def test_several_problems_are_all_reported_in_line_order(tmp_path):
    message = error_of(
        tmp_path,
        "users:\n  - displayName: 5\n    email: a@x.example\n  - email: b@x.example\nextra: 1\n",
    )
    lines = message.splitlines()
    assert [line.split(":")[1] for line in lines] == ["2", "4", "5"], message
    known = (
        "apps, changes, clock, copyJobs, drives, faults, groups, ids, onehub, policy, seed, "
        "signIns, tenant, uploadSessions, users, workspaces"
    )
    assert lines[2] == f"FILE:5: extra: unknown key (expected one of: {known})"


def test_json_scenarios_load_too():
    text = json.dumps(
        {
            "users": [{"displayName": "Ada", "email": "ada@x.example", "token": "t"}],
            "drives": [{"owner": "ada@x.example", "root": {"children": [{"name": "A"}]}}],
        }
    )
    state = load_scenario_text(text, "inline.json")
    assert [d["root"]["children"][0]["name"] for d in export_scenario(state)["drives"]] == ["A"]


def test_faults_policy_and_workspaces_are_loaded_and_exported(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text(
        "users: [{displayName: Ada, email: ada@x.example},\n"
        "        {displayName: Bo, email: bo@x.example}]\n"
        "workspaces:\n"
        "  - owner: ada@x.example\n"
        "    name: Deals\n"
        "    root: {children: [{name: Q3, folder: {}, permissions: [\n"
        "      {user: bo@x.example, onehubRole: Moderator},\n"
        "      {email: new@y.example, onehubRole: Viewer, pending: true}]}]}\n"
        "policy: {externalSharing: false, maxRecipients: 3}\n"
        "faults: [{id: slow, effect: latency, latencyMs: 5}]\n"
    )
    state = load_scenario(path)
    assert state.policy.external_sharing is False and state.policy.max_recipients == 3
    assert [r.id for r in state.faults.rules] == ["slow"]
    (drive,) = state.store.drives.values()
    assert drive.drive_type == "documentLibrary" and drive.name == "Deals"
    q3 = state.store.resolve(state.store.root(drive), "/Q3")
    moderator, pending = q3.permissions
    assert (moderator.native_role, moderator.roles) == ("Moderator", ["owner"])
    assert pending.pending and pending.roles == ["read"]
    exported = export_scenario(state)
    assert exported["policy"]["maxRecipients"] == 3
    assert exported["faults"] == [
        {"id": "slow", "effect": "latency", "latencyMs": 5, "jitterMs": 0}
    ]
    again = tmp_path / "again.yaml"
    again.write_text(export_yaml(state))
    assert export_yaml(load_scenario(again)) == export_yaml(state)


@pytest.mark.parametrize(
    "tail, where, reason",
    [
        ("faults: [{effect: explode}]", "faults[0].effect", "is not one of"),
        ("faults: [{effect: latency, path: '('}]", "faults[0]", "not a valid regex"),
        ("faults: [{effect: latency, times: -1}]", "faults[0].times", "must be at least 0"),
        ("faults: [{effect: error}]", "faults[0]", "needs a status"),
        ("policy: {maxRecipients: 0}", "policy.maxRecipients", "must be at least 1"),
        ("policy: {shareEverything: true}", "policy.shareEverything", "unknown key"),
    ],
)
def test_bad_faults_and_policy_name_the_place(tmp_path, tail, where, reason):
    message = error_of(
        tmp_path, "users: [{displayName: Ada, email: ada@x.example}]\n" + tail + "\n"
    )
    assert message.startswith(f"FILE:2: {where}: "), message
    assert reason in message, message


def _mutations(data):
    """Each variant breaks (or keeps) one value of ``data``: wrong type, unknown key, removal."""
    stack = [((), data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            for key, child in value.items():
                stack.append(((*path, key), child))
        elif isinstance(value, list):
            for index, child in enumerate(value):
                stack.append(((*path, index), child))
        for replacement in ("text", 7, -1, None, [], {}, {"zz": 1}, True, "a@b"):
            yield _replaced(data, path, replacement)
        if path:
            yield _replaced(data, path, _DROP)


_DROP = object()


def _replaced(data, path, replacement):
    copy = json.loads(json.dumps(data))
    if not path:
        return replacement
    holder = copy
    for part in path[:-1]:
        holder = holder[part]
    if replacement is _DROP:
        del holder[path[-1]]
    else:
        holder[path[-1]] = replacement
    return copy


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_the_schema_check_agrees_with_jsonschema(path):
    """``check_schema`` (our own, in words, stopping early) accepts exactly what jsonschema
    accepts, over every one-value mutation of the shipped fixtures."""
    from jsonschema import Draft202012Validator

    from mockdrive.scenario import export_scenario as export
    from mockdrive.scenario.validate import check_schema

    validator = Draft202012Validator(scenario_schema())
    data = export(load_scenario(path))
    checked = 0
    for variant in _mutations(data):
        ours = not check_schema(variant)
        theirs = validator.is_valid(variant)
        assert ours == theirs, (variant, check_schema(variant))
        checked += 1
    assert checked > 100


def test_an_export_without_the_change_log_is_the_export_less_its_changes():
    state = load_scenario(FIXTURES / "quickstart.yaml")
    owner = next(iter(state.directory.users.values()))
    state.make_path(state.default_drive(owner.id), "/new.txt", is_folder=False, content=b"x")
    delta.make_token(state)  # a token handed out: the export carries the log for it
    whole = export_scenario(state)
    assert whole["changes"]
    assert export_scenario(state, change_log=False) == {
        key: value for key, value in whole.items() if key != "changes"
    }
