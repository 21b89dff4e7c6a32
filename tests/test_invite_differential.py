"""Invite's quick paths against the plain computation they replaced.

Parsing an invite body, validating it and running it take short cuts in the common case (each
value checked inline, the dispatch's roles reused, no clock reading without an expiration, no
fault-rule or policy call where none can refuse, one scan per recipient). The reference below
is the code as it stood before those short cuts, kept verbatim; over generated bodies, callers,
items, policies and fault rules, both run on copies of one state and must agree on everything:
the error (type, message, code) or the outcomes, and the whole state after (export, outbox,
change log, fault counters, the id generator's position).
"""

from __future__ import annotations

import copy
import json
import socket
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_permission_indexes import plain_direct_for

from mockdrive.api.invites import check_datetime, parse_invite_body, parse_recipients
from mockdrive.api.jsonio import optional, parse_json_object
from mockdrive.model import sharing
from mockdrive.model.errors import InjectedFault, InvalidRequest
from mockdrive.model.grants import Permission
from mockdrive.model.identity import Group
from mockdrive.model.journal import parse_arrived
from mockdrive.model.permissions import ROLE_RANK, highest_role, roles_of
from mockdrive.model.state import State
from mockdrive.scenario import export_scenario

# -- the reference: the code before the quick paths ------------------------------------------


def reference_parse(body: dict[str, Any]) -> sharing.InviteRequest:
    recipients = parse_recipients(body.get("recipients"))
    roles = body.get("roles")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise InvalidRequest("roles must be an array of strings")
    expiration = optional(body, "expirationDateTime", str, "a date-time string")
    if expiration is not None:
        check_datetime(expiration)
    retain = optional(body, "retainInheritedPermissions", bool, "true or false")
    return sharing.InviteRequest(
        recipients=recipients,
        roles=roles,
        message=optional(body, "message", str, "a string"),
        require_sign_in=bool(optional(body, "requireSignIn", bool, "true or false")),
        send_invitation=bool(optional(body, "sendInvitation", bool, "true or false")),
        retain_inherited_permissions=True if retain is None else retain,
        expiration=expiration,
        password=optional(body, "password", str, "a string"),
    )


def reference_validate(request: sharing.InviteRequest) -> None:
    if not request.recipients:
        raise InvalidRequest("recipients must contain at least one recipient")
    seen: dict[str, int] = {}
    for index, recipient in enumerate(request.recipients):
        given = [
            v for v in (recipient.email, recipient.alias, recipient.object_id) if v is not None
        ]
        if len(given) != 1:
            raise InvalidRequest(
                f"recipients[{index}] must have exactly one of email, alias or objectId"
            )
        key = given[0].casefold()
        if key in seen:
            raise InvalidRequest(f"recipients[{index}] repeats recipients[{seen[key]}]")
        seen[key] = index
    request.roles = sharing.check_roles(request.roles)
    sharing.check_message(request.message)


def reference_direct_for(item: Any, grantee_id: str | None, address: str) -> Permission | None:
    """``grants.direct_for`` as it was: a scan of every permission, a call each."""
    return plain_direct_for(item.permissions, grantee_id, address)


def reference_resolve(state: State, recipient: sharing.Recipient, index: int) -> tuple:
    email = recipient.email
    groups = state.directory.groups.values()
    if recipient.object_id is None and recipient.alias is not None:  # groups scanned
        key = recipient.alias
        user = state.directory.by_alias(key)
        folded = key.casefold()
        local = (g for g in groups if g.email and g.email.split("@")[0].casefold() == folded)
        group = next(local, None)
        if user is not None:
            return user.id, user.email
        if group is not None:
            return group.id, group.email or group.display_name
        raise InvalidRequest(
            f"recipients[{index}]: no directory object has alias {key!r}", "invalidRecipients"
        )
    if recipient.object_id is not None or email is None:
        return sharing._resolve(state, recipient, index)  # (not changed)
    if not sharing.EMAIL_PATTERN.match(email):
        raise InvalidRequest(
            f"recipients[{index}]: {email!r} is not a valid e-mail address", "invalidRecipients"
        )
    user = state.directory.by_email(email)
    if user is not None:
        return user.id, user.email
    folded = email.casefold()
    group = next((g for g in groups if g.email and g.email.casefold() == folded), None)
    return (group.id if group else None), email


def reference_invite(state, caller, item, request, context) -> sharing.InviteResult:
    context = context or sharing.RequestContext()
    sharing._check_shareable(state, caller, item)
    reference_validate(request)
    state.clock.moment()  # (it read the clock whatever the expiration)
    expiration = sharing.check_expiration(state, request.expiration)
    state.policy.check_count(len(request.recipients))
    resolved = [reference_resolve(state, r, i) for i, r in enumerate(request.recipients)]
    for grantee_id, address in resolved:
        if grantee_id is None:
            state.policy.check_external(address)
    for _, address in resolved:
        rule = state.faults.for_recipient(
            context.method, context.path, caller.email, address, "error"
        )
        if rule is not None:
            raise InjectedFault(rule.status or 400, rule.code or "", rule.message or "", rule.id)
    if not item.permissions and item.inherits and not request.retain_inherited_permissions:
        sharing._break_inheritance(state, item)
    result = sharing.InviteResult()
    granted: list[str] = []
    for grantee_id, address in resolved:
        permission = reference_direct_for(item, grantee_id, address)
        created = permission is None
        if permission is None:
            permission = Permission(
                id=state.ids.guid().upper(),
                item_id=item.id,
                roles=list(request.roles),
                grantee_id=grantee_id,
                invitation_email=address,
                sign_in_required=request.require_sign_in,
                invited_by=caller.id,
                expiration=expiration,
                has_password=request.password is not None,
            )
            item.permissions.append(permission)
            granted.append(permission.id)
            state.track(permission)
        else:
            best = max(
                highest_role(permission.roles), highest_role(request.roles), key=ROLE_RANK.get
            )
            sharing.set_roles(permission, [best])
        outcome = sharing.InviteOutcome(address=address, permission=permission, created=created)
        if request.send_invitation:
            outcome.notification = sharing.notify(
                state, caller, item, address, list(permission.roles), request.message,
                request.require_sign_in, context,
            )  # fmt: skip
            if outcome.notification.rule_id is not None:
                outcome.notification_error = outcome.notification.error_code
                result.fired_rules.append(outcome.notification.rule_id)
        result.outcomes.append(outcome)
    state.store.drives[item.drive_id].shared_item_ids.add(item.id)
    state.changed(item, "sharing", granted=tuple(granted))
    return result


# -- the world the invites run in --------------------------------------------------------------

NAMES = ("ada", "bob", "carol", "dave", "erin")  # ada owns the drive


def world(policy: int, rules: int) -> tuple[State, dict[str, Any]]:
    state = State(seed=3)
    users = {n: state.add_user(n.title(), f"{n}@contoso.example", alias=n) for n in NAMES}
    drive = state.add_drive(users["ada"], drive_type="personal")  # its root: refused
    deep = state.make_path(drive, "/Team/Plans/Q1.docx", is_folder=False, content=b"q")
    team = state.store.resolve(state.store.root(drive), "/Team")
    state.grant(team, users["bob"], ["write"])
    state.grant(team, users["carol"], ["read"])
    state.grant(deep, users["dave"], ["read"])
    state.directory.add_group(Group("g-1", "Crew", [users["erin"].id], "crew@contoso.example"))
    # the same address again (the first group has it), an outside one, none at all
    state.directory.add_group(Group("g-2", "Crew too", [users["bob"].id], "CREW@Contoso.example"))
    state.directory.add_group(Group("g-3", "Guests", [], "guests@fabrikam.example"))
    state.directory.add_group(Group("g-4", "Unaddressed", [users["dave"].id]))
    if policy == 1:
        state.policy.external_sharing = False
    elif policy == 2:
        state.policy.allowed_domains = ["fabrikam.example"]
    elif policy == 3:
        state.policy.blocked_domains = ["fabrikam.example"]
    elif policy == 4:
        state.policy.max_recipients = 2
    if rules & 1:
        state.faults.add({"effect": "error", "recipient": "x@fabrikam.example", "status": 409})
    if rules & 2:
        state.faults.add({"effect": "notificationFailure", "domain": "contoso.example", "nth": 2})
    items = {"root": state.store.root(drive), "team": team, "deep": deep}
    state.clock.pin()
    return state, {"users": users, "items": items}


ADDRESSES = ["bob@contoso.example", "not-an-address", "dave@contoso.example",
             "crew@contoso.example", "x@fabrikam.example", "y@fabrikam.example",
             "X@Fabrikam.Example", "Dave@Contoso.Example", "Crew@contoso.EXAMPLE",
             "guests@fabrikam.example", "GUESTS@fabrikam.example"]  # fmt: skip
ANY_VALUE = st.one_of(st.none(), st.booleans(), st.integers(-1, 1), st.text(max_size=3))
RECIPIENT = st.one_of(
    st.fixed_dictionaries({"email": st.sampled_from(ADDRESSES)}),
    st.fixed_dictionaries(
        {"alias": st.sampled_from(["bob", "Carol", "crew", "nobody", "CREW", "guests", "g-4"])}
    ),
    st.fixed_dictionaries({"objectId": st.sampled_from(["g-1", "nope"])}),
    st.dictionaries(st.sampled_from(["email", "alias", "objectId"]), ANY_VALUE, max_size=3),
    ANY_VALUE,
)
ROLES = st.one_of(
    st.lists(st.sampled_from(["read", "write"]), min_size=1, max_size=3),
    st.lists(st.sampled_from(["read", "write", "owner", "Read", 3]), max_size=3),
    ANY_VALUE,
)
OPTIONAL = {
    "message": st.one_of(st.text(max_size=5), st.just("m" * 2001), ANY_VALUE),
    "requireSignIn": ANY_VALUE,
    "sendInvitation": st.one_of(st.booleans(), ANY_VALUE),
    "password": ANY_VALUE,
    "expirationDateTime": st.sampled_from(
        [None, "2030-01-01T00:00:00Z", "2001-01-01T00:00:00Z", "soon", 5]
    ),
    "retainInheritedPermissions": ANY_VALUE,
}
GOOD_RECIPIENT = st.one_of(
    st.fixed_dictionaries({"email": st.sampled_from(ADDRESSES[2:])}),
    st.fixed_dictionaries({"alias": st.sampled_from(["bob", "Carol", "crew", "Guests"])}),
    st.fixed_dictionaries({"objectId": st.just("g-1")}),
)
# mostly bodies a client sends (so that most runs apply), some with anything anywhere
GOOD_BODY = st.fixed_dictionaries(
    {
        "recipients": st.lists(GOOD_RECIPIENT, min_size=1, max_size=4, unique_by=str),
        "roles": st.lists(st.sampled_from(["read", "write"]), min_size=1, max_size=2),
    },
    optional={
        "message": st.text(max_size=5),
        "requireSignIn": st.booleans(),
        "sendInvitation": st.booleans(),
        "password": st.text(max_size=3),
        "expirationDateTime": st.sampled_from([None, "2030-01-01T00:00:00Z"]),
        "retainInheritedPermissions": st.booleans(),
    },
)
ANY_BODY = st.fixed_dictionaries(
    {"recipients": st.one_of(st.lists(RECIPIENT, max_size=4), ANY_VALUE), "roles": ROLES},
    optional=OPTIONAL,
)
BODY = st.integers(0, 4).flatmap(lambda n: ANY_BODY if n == 0 else GOOD_BODY)


def outcome_of(run: Any) -> Any:
    """What a run gave: its error, or its outcomes as plain data."""
    try:
        result = run()
    except Exception as error:  # the type and words are what is compared
        return ("error", type(error).__name__, str(error), getattr(error, "code", None))
    return [
        (o.address, o.created, o.notification_error, repr(o.permission), repr(o.notification))
        for o in result.outcomes
    ] + [result.fired_rules, result.partial]


def everything(state: State) -> str:
    data = export_scenario(state)
    data["outbox"] = state.outbox.to_list()
    data["changes"] = [repr(c) for c in state.changes.changes]
    data["rules"] = [r.to_dict() for r in state.faults.rules]
    data["next id"] = state.ids.guid()
    return json.dumps(data, sort_keys=True, default=repr)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=BODY,
    caller=st.sampled_from(["ada", "ada", "ada", "bob", *NAMES[2:]]),
    target=st.sampled_from(["root", "team", "deep", "deep", "deep"]),
    policy=st.sampled_from([0, 0, 0, 1, 2, 3, 4]),
    rules=st.sampled_from([0, 0, 0, 1, 2, 3]),
    seen=st.booleans(),
    before=st.one_of(st.none(), st.sampled_from(["same", "other case", "other case"]), GOOD_BODY),
)
def test_invite_agrees_with_the_plain_computation(
    body: dict[str, Any], caller: str, target: str, policy: int, rules: int, seen: bool,
    before: dict[str, Any] | str | None,
) -> None:  # fmt: skip
    base, names = world(policy, rules)
    if before is not None:  # an invite before: this one's recipients may hold grants already
        if isinstance(before, str):  # the same recipients, or their addresses in another case
            before = copy.deepcopy(body)
            recipients = before.get("recipients")
            for recipient in recipients if isinstance(recipients, list) else ():
                if isinstance(recipient, dict) and isinstance(recipient.get("email"), str):
                    recipient["email"] = recipient["email"].swapcase()
        item = base.store.items[names["items"][target].id]
        outcome_of(lambda: sharing.invite(base, names["users"]["ada"], item,
                                          parse_invite_body(before)))  # fmt: skip
    states = [copy.deepcopy(base), copy.deepcopy(base)]
    context = sharing.RequestContext("POST", "/v1.0/me/drive/items/x/invite")

    def new() -> sharing.InviteResult:
        state = states[0]
        user, item = (
            state.user(names["users"][caller].id),
            state.store.items[names["items"][target].id],
        )
        request = parse_invite_body(copy.deepcopy(body))
        roles = roles_of(state.store, user, item) if seen else None  # as the dispatch found
        return sharing.invite(state, user, item, request, context, roles or None)

    def old() -> sharing.InviteResult:
        state = states[1]
        user, item = (
            state.user(names["users"][caller].id),
            state.store.items[names["items"][target].id],
        )
        return reference_invite(state, user, item, reference_parse(copy.deepcopy(body)), context)

    assert outcome_of(new) == outcome_of(old)
    assert everything(states[0]) == everything(states[1])


def test_the_change_log_names_the_folders_above_as_the_tree_does() -> None:
    state, names = world(0, 0)
    deep = names["items"]["deep"]
    sharing.invite(state, names["users"]["ada"], deep,
                   parse_invite_body({"recipients": [{"email": "bob@contoso.example"}],
                                      "roles": ["read"]}))  # fmt: skip
    change = state.changes.changes[-1]
    assert change.item_id == deep.id and change.kind == "sharing"
    assert change.above == tuple(a.id for a in state.store.ancestors(deep))
    assert len(change.above) == 3


def test_roles_found_before_a_body_that_trickles_in_are_found_again_after_it(mock_drive) -> None:
    """An invite whose body arrives after its headers waits for it; meanwhile its caller may
    lose access. The roles the dispatch found before the wait are not used after it: the
    invite walks them again and is refused, granting nothing."""
    bob = mock_drive.add_user("Bob", "bob@contoso.example")
    mock_drive.add_folder("/Team")
    held = mock_drive.grant("/Team", bob, ["write"])
    team = mock_drive.item("/Team")
    # first, with the whole body at once, bob may invite (his roles found once)
    invited = mock_drive.session_for(bob).post(
        f"/drives/{team.drive_id}/items/{team.id}/invite",
        json={"recipients": [{"email": "y@contoso.example"}], "roles": ["read"]},
    )
    assert invited.status_code == 200, invited.text
    body = json.dumps({"recipients": [{"email": "x@contoso.example"}], "roles": ["read"]})
    head = (
        f"POST /v1.0/drives/{team.drive_id}/items/{team.id}/invite HTTP/1.1\r\nHost: x\r\n"
        "Authorization: Bearer bob-token\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    server = mock_drive.server
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(head.encode() + body[:12].encode())
        time.sleep(0.3)  # the dispatch has found bob's roles; his invite waits for the rest
        removed = mock_drive.session.delete(f"/me/drive/items/{team.id}/permissions/{held.id}")
        assert removed.status_code == 204, removed.text
        sock.sendall(body[12:].encode())
        answer = sock.makefile("rb").read()
    assert answer.startswith(b"HTTP/1.1 404"), answer[:200]
    emails = [p.get("invitation", {}).get("email") for p in mock_drive.permissions("/Team")]
    assert "x@contoso.example" not in emails


# Invite bodies the handler accepts, in forms whose parsed values are easy to get subtly wrong:
# floats (``-0.0`` and ``1e-05`` compare equal to other spellings, so values are compared by
# ``repr``), big integers, escapes, surrogate pairs, a repeated key, whitespace, nesting.
ARRIVED_BODIES = [
    b'{"recipients":[{"email":"a@contoso.example"}],"roles":["read"]}',
    b' \r\n{"roles":["write"], "recipients" : [ {"email":"\\u00e9@contoso.example"} ]}\n\t',
    b'{"recipients":[{"email":"\\ud83d\\ude00@x.example"}],"roles":["read"],"roles":["write"]}',
    '{"recipients":[{"email":"zoë@x.example","alias":null}],"roles":["read"],"x":"😀"}'.encode(),
    b'{"recipients":[],"roles":["read"],"n":[-0.0,1e-05,0.1,1E300,-1e-300,12345678901234567890]}',
    b'{"recipients":[{"email":"b@x.example"}],"roles":["read"],"deep":[[[{"a":[{}]}]]],"t":true}',
    b'{"recipients":[{"email":"c@x.example"}],"roles":["read"],"s":"\\"\\\\\\/\\b\\f\\n\\r\\t"}',
]


def test_the_journal_reads_an_arrived_body_as_the_handler_parsed_it(mock_drive) -> None:
    """An invite's journal entry keeps the bytes that arrived and parses them when read: to
    the value, and the type of every number, the handler's own parse gave (that parse is the
    journal's value before the bytes were kept instead)."""
    item = mock_drive.add_file("/Shared.txt", b"s")
    path = f"/me/drive/items/{item.id}/invite"
    for raw in ARRIVED_BODIES:
        answer = mock_drive.session.post(
            path, data=raw, headers={"Content-Type": "application/json"}
        )
        assert answer.status_code in (200, 400), answer.text  # (no recipients: refused)
        journaled = mock_drive.state.journal.entries[-1]
        assert journaled.path == "/v1.0" + path and journaled.body_bytes == len(raw)
        expected = parse_json_object(raw)
        assert repr(journaled.body) == repr(expected), (raw, journaled.body)
        assert repr(parse_arrived(raw)) == repr(expected)


def test_a_group_added_after_a_look_up_is_found_by_address_and_alias() -> None:
    """The directory's group index follows groups added after it was first used."""
    state = State(seed=3)
    directory = state.directory
    directory.add_group(Group("g-1", "One", [], "one@contoso.example"))
    assert directory.group_by_email("ONE@contoso.example").id == "g-1"
    assert directory.group_by_email("two@contoso.example") is None
    directory.add_group(Group("g-2", "Two", [], "Two@Contoso.Example"))
    directory.add_group(Group("g-3", "One again", [], "one@CONTOSO.example"))
    assert directory.group_by_email("two@contoso.example").id == "g-2"
    assert directory.group_by_alias("TWO").id == "g-2"
    assert directory.group_by_email("one@contoso.example").id == "g-1"  # the first still
