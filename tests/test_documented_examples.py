"""The Graph v1.0 reference's own examples, sent to mockdrive: each documented request (adapted
only in ids and paths to a scenario arranged here) and its documented response, stored with the
page it came from in tests/documented_examples/ (see its README). The test compares the status,
the documented headers and every documented property: its name, its JSON type and, unless it
is an id, a date, a URL or a token, its value. Where the sample is known to differ from the
service, or mockdrive differs on purpose, the example records it and the test asserts the
mock's own answer there."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest
import requests
import yaml
from conftest import as_user

from mockdrive.model.identity import User
from mockdrive.model.tree import Drive
from mockdrive.pytest_plugin import MockDriveFixture

EXAMPLES_DIR = Path(__file__).parent / "documented_examples"
ABSENT = "absent"  # a divergence's `mock` value: mockdrive leaves the property out


def encode_sharing_url(url: str) -> str:
    """The docs' algorithm (shares-get.md, "Encoding sharing URLs"): base64 of the URL, made
    unpadded base64url by removing '=' from the end and replacing '/' with '_' and '+' with
    '-', then 'u!' in front."""
    value = base64.b64encode(url.encode()).decode()
    return "u!" + value.rstrip("=").replace("/", "_").replace("+", "-")


def load_examples() -> list[Any]:
    params = []
    for path in sorted(EXAMPLES_DIR.glob("*.yaml")):
        document = yaml.safe_load(path.read_text())
        for example in document["examples"]:
            example["source"] = document["source"]
            marks = []
            if "clock" in example:
                marks.append(pytest.mark.mock_drive(clock=example["clock"]))
            params.append(pytest.param(example, id=example["id"], marks=marks))
    return params


EXAMPLES = load_examples()


# -- arrangements: each returns the client that sends the example and the placeholders' values


@dataclass
class Arranged:
    client: requests.Session
    values: dict[str, str]


ARRANGEMENTS: dict[str, Callable[[MockDriveFixture], Arranged]] = {}


def arrangement(
    function: Callable[[MockDriveFixture], Arranged],
) -> Callable[[MockDriveFixture], Arranged]:
    """Register an arrangement under its name, for the examples' ``arrange:``."""
    ARRANGEMENTS[function.__name__] = function
    return function


def person(drive: MockDriveFixture, name: str, email: str, *, personal: bool = False) -> User:
    """A directory user with a drive of their own (their default drive)."""
    user = drive.add_user(name, email)
    drive.add_drive(user, drive_type="personal" if personal else "business", name="OneDrive")
    return user


def drive_of(drive: MockDriveFixture, user: User) -> Drive:
    return drive.server.call(lambda: drive.state.default_drive(user.id))


def ryan(
    drive: MockDriveFixture, *, personal: bool = False
) -> tuple[User, Drive, requests.Session]:
    """Ryan Gregg, the docs' usual signed-in user, with his own drive and client."""
    user = person(drive, "Ryan Gregg", "rgregg@contoso.com", personal=personal)
    return user, drive_of(drive, user), drive.session_for(user)


def ok(response: requests.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json() if response.content else {}


@arrangement
def personal_file(drive: MockDriveFixture) -> Arranged:
    _, own, client = ryan(drive, personal=True)
    item = drive.add_file("/contoso plan.txt", "plan", drive=own)
    return Arranged(client, {"item-id": item.id})


@arrangement
def business_file(drive: MockDriveFixture) -> Arranged:
    _, own, client = ryan(drive)
    item = drive.add_file("/contoso project.docx", size=109112, drive=own)
    return Arranged(client, {"item-id": item.id, "drive-id": own.id})


@arrangement
def shared_file(drive: MockDriveFixture) -> Arranged:
    user, own, _ = ryan(drive)
    drive.add_file("/contoso project.docx", size=109112, drive=own)
    return shared_as(drive, user, own, "/contoso project.docx")


@arrangement
def shared_folder(drive: MockDriveFixture) -> Arranged:
    user, own, _ = ryan(drive)
    drive.add_file("/Contoso Project/Propsoal.docx", size=19001, drive=own)
    drive.add_file("/Contoso Project/Update to Proposal.docx", size=91001, drive=own)
    return shared_as(drive, user, own, "/Contoso Project")


def shared_as(drive: MockDriveFixture, user: User, own: Drive, path: str) -> Arranged:
    """``user`` shares ``path`` with a view link for the organization; Ellen opens it."""
    client = drive.session_for(user)
    item = drive.item(path, drive=own)
    link = ok(client.post(f"/me/drive/items/{item.id}/createLink",
                          json={"type": "view", "scope": "organization"}), 201)  # fmt: skip
    ellen = drive.add_user("Ellen Adams", "ellen@contoso.com")
    url = link["link"]["webUrl"]
    return Arranged(drive.session_for(ellen), {"encoded-sharing-url": encode_sharing_url(url)})


@arrangement
def users_link(drive: MockDriveFixture) -> Arranged:
    """A view link for chosen people on Ryan's file; John is in the directory, Ryan of
    external.com is not."""
    _, own, client = ryan(drive)
    item = drive.add_file("/Design/Document.docx", "design", drive=own)
    drive.add_user("John Smith", "john@contoso.com")
    link = ok(client.post(f"/me/drive/items/{item.id}/createLink",
                          json={"type": "view", "scope": "users"}), 201)  # fmt: skip
    url = link["link"]["webUrl"]
    return Arranged(client, {"encoded-sharing-url": encode_sharing_url(url)})


@arrangement
def invite_file(drive: MockDriveFixture) -> Arranged:
    arranged = business_file(drive)
    drive.add_user("Ryan Contoso", "ryan@contoso.com")
    return arranged


@arrangement
def delta_tree(drive: MockDriveFixture) -> Arranged:
    """folder2 and file.txt live; file5.txt made and deleted."""
    _, own, client = ryan(drive)
    drive.add_folder("/folder2", drive=own)
    drive.add_file("/file.txt", "text", drive=own)
    gone = drive.add_file("/file5.txt", "five", drive=own)
    ok(client.delete(f"/me/drive/items/{gone.id}"), 204)
    return Arranged(client, {})


@arrangement
def delta_changes(drive: MockDriveFixture) -> Arranged:
    """After a deltaLink was taken (token=latest): folder2 deleted, file.txt modified."""
    _, own, client = ryan(drive)
    folder = drive.add_folder("/folder2", drive=own)
    drive.add_file("/file.txt", "text", drive=own)
    link = ok(client.get("/me/drive/root/delta?token=latest"))["@odata.deltaLink"]
    ok(client.delete(f"/me/drive/items/{folder.id}"), 204)
    ok(client.put("/me/drive/root:/file.txt:/content", data=b"changed"), 200)
    return Arranged(client, {"token": parse_qs(urlsplit(link).query)["token"][0]})


@arrangement
def delta_since_time(drive: MockDriveFixture) -> Arranged:
    """The same changes, asked for since a time instead of a token; early.txt, changed half an
    hour before that time, is not among them (the example's value list is exact)."""
    _, own, client = ryan(drive)
    folder = drive.add_folder("/folder2", drive=own)
    drive.add_file("/file.txt", "text", drive=own)
    drive.clock.advance(minutes=30)
    drive.add_file("/early.txt", "early", drive=own)
    drive.clock.advance(minutes=30)
    since = drive.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    drive.clock.advance(hours=1)
    ok(client.delete(f"/me/drive/items/{folder.id}"), 204)
    ok(client.put("/me/drive/root:/file.txt:/content", data=b"changed"), 200)
    return Arranged(client, {"timestamp": quote(since, safe="")})


@arrangement
def delta_since_time_offset(drive: MockDriveFixture) -> Arranged:
    """The same, the time written with an offset as the page's second form does (+8:00)."""
    arranged = delta_since_time(drive)
    since = datetime.strptime(unquote(arranged.values["timestamp"]), "%Y-%m-%dT%H:%M:%SZ")
    local = (since + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%S") + "+8:00"
    arranged.values["timestamp"] = quote(local, safe="")
    return arranged


FILE_128 = bytes(range(65, 91)) + bytes(97 + i % 26 for i in range(102))  # 26 + 102 bytes


@arrangement
def upload_folder(drive: MockDriveFixture) -> Arranged:
    _, own, client = ryan(drive)
    folder = drive.add_folder("/Uploads", drive=own)
    return Arranged(client, {"item-id": folder.id})


@arrangement
def upload_session(drive: MockDriveFixture) -> Arranged:
    arranged = upload_folder(drive)
    session = ok(arranged.client.post(
        f"/me/drive/items/{arranged.values['item-id']}:/largefile.dat:/createUploadSession",
        json={"item": {"@microsoft.graph.conflictBehavior": "rename", "name": "largefile.dat"}},
    ))  # fmt: skip
    arranged.values["upload-url"] = session["uploadUrl"]
    return arranged


@arrangement
def upload_session_started(drive: MockDriveFixture) -> Arranged:
    arranged = upload_session(drive)
    anonymous = as_user(arranged.client, None)
    url = arranged.values["upload-url"]
    ok(anonymous.put(url, data=FILE_128[:26], headers={"Content-Range": "bytes 0-25/128"}), 202)
    arranged.values["rest-of-file"] = FILE_128[26:].decode()
    return arranged


@arrangement
def upload_deferred_whole(drive: MockDriveFixture) -> Arranged:
    """A session with deferCommit whose 128 bytes are all uploaded, waiting to be completed."""
    arranged = upload_folder(drive)
    session = ok(arranged.client.post(
        f"/me/drive/items/{arranged.values['item-id']}:/largefile.vhd:/createUploadSession",
        json={"item": {"@microsoft.graph.conflictBehavior": "rename"}, "deferCommit": True},
    ))  # fmt: skip
    url = arranged.values["upload-url"] = session["uploadUrl"]
    whole = {"Content-Range": "bytes 0-127/128"}
    ok(as_user(arranged.client, None).put(url, data=FILE_128, headers=whole), 202)
    return arranged


@arrangement
def copy_file(drive: MockDriveFixture) -> Arranged:
    _, own, client = ryan(drive)
    item = drive.add_file("/contoso plan.txt", "plan", drive=own)
    folder = drive.add_folder("/Archive", drive=own)
    return Arranged(client, {"item-id": item.id, "drive-id": own.id, "folder-id": folder.id})


@arrangement
def copy_folder(drive: MockDriveFixture) -> Arranged:
    arranged = copy_file(drive)
    own = drive.server.call(lambda: drive.state.store.drives[arranged.values["drive-id"]])
    drive.add_file("/Source/a.txt", "a", drive=own)
    drive.add_file("/Source/Inner/b.txt", "b", drive=own)
    arranged.values["item-id"] = drive.item("/Source", drive=own).id
    return arranged


@arrangement
def copy_started(drive: MockDriveFixture) -> Arranged:
    arranged = copy_file(drive)
    values = arranged.values
    response = arranged.client.post(f"/me/drive/items/{values['item-id']}/copy", json={
        "parentReference": {"driveId": values["drive-id"], "id": values["folder-id"]},
        "name": "contoso plan (copy).txt"})  # fmt: skip
    assert response.status_code == 202, response.text
    values["monitor-url"] = response.headers["Location"]
    return arranged


@arrangement
def move_file(drive: MockDriveFixture) -> Arranged:
    _, own, client = ryan(drive)
    item = drive.add_file("/old-name.txt", "text", drive=own)
    folder = drive.add_folder("/Documents", drive=own)
    return Arranged(client, {"item-id": item.id, "new-parent-folder-id": folder.id})


@arrangement
def search_tree(drive: MockDriveFixture) -> Arranged:
    _, own, client = ryan(drive)
    drive.add_folder("/Contoso Project", drive=own)
    drive.add_folder("/Contoso Project 2016", drive=own)
    drive.add_file("/Other/notes.txt", "notes", drive=own)
    return Arranged(client, {})


@arrangement
def search_shared(drive: MockDriveFixture) -> Arranged:
    """Ryan's own "Contoso Project 2016"; Ellen's "Contoso Project", shared with him."""
    user, own, client = ryan(drive)
    drive.add_folder("/Contoso Project 2016", drive=own)
    ellen = person(drive, "Ellen Adams", "ellen@contoso.com")
    theirs = drive_of(drive, ellen)
    drive.add_folder("/Contoso Project", drive=theirs)
    drive.grant("/Contoso Project", user, ["read"], drive=theirs)
    return Arranged(client, {})


@arrangement
def shared_with_me(drive: MockDriveFixture) -> Arranged:
    user, _, client = ryan(drive)
    ellen = person(drive, "Ellen Adams", "ellen@contoso.com")
    hers = drive_of(drive, ellen)
    for name, size in (("March Proposal.docx", 19121), ("Team Roster.xlsx", 37619)):
        drive.add_file(f"/Proposals/{name}", size=size, drive=hers)
        drive.grant(f"/Proposals/{name}", user, ["read"], drive=hers)
    dan = person(drive, "Dan Jump", "dan@contoso.com")
    his = drive_of(drive, dan)
    review = drive.add_file("/Reviews/January Service Review.pptx", size=145362, drive=his)
    drive.grant("/Reviews/January Service Review.pptx", user, ["read"], drive=his)
    return Arranged(client, {"remote-drive-id": his.id, "remote-item-id": review.id})


@arrangement
def permissions_item(drive: MockDriveFixture) -> Arranged:
    """Ellen's /Documents/report.docx: John Doe may write /Documents, Robin Danielsen and Ryan
    Gregg the file, and an edit link opens it."""
    ellen = person(drive, "Ellen Adams", "ellen@contoso.com")
    own = drive_of(drive, ellen)
    client = drive.session_for(ellen)
    item = drive.add_file("/Documents/report.docx", "report", drive=own)
    john = drive.add_user("John Doe", "john.doe@contoso.com")
    robin = drive.add_user("Robin Danielsen", "robin@contoso.com")
    rgregg = drive.add_user("Ryan Gregg", "rgregg@contoso.com")
    drive.grant("/Documents", john, ["write"], drive=own)
    robin_permission = drive.grant("/Documents/report.docx", robin, ["write"], drive=own)
    ryan_permission = drive.grant("/Documents/report.docx", rgregg, ["write"], drive=own)
    for scope in ("anonymous", "organization"):  # the sample lists two edit links
        link = {"type": "edit", "scope": scope}
        ok(client.post(f"/me/drive/items/{item.id}/createLink", json=link), 201)
    return Arranged(client, {"item-id": item.id, "perm-id": robin_permission.id,
                             "ryan-perm-id": ryan_permission.id})  # fmt: skip


@arrangement
def drive_root(drive: MockDriveFixture) -> Arranged:
    """Ryan's drive with 120 items at its root, 150 MiB in all."""
    _, own, client = ryan(drive)
    drive.add_file("/big.vhd", size=157286400, drive=own)
    for number in range(119):
        drive.add_file(f"/file {number}.txt", drive=own)
    return Arranged(client, {})


@arrangement
def children_tree(drive: MockDriveFixture) -> Arranged:
    _, own, client = ryan(drive)
    drive.add_file("/myfile.jpg", size=2048, drive=own)
    for number in range(4):
        drive.add_file(f"/Documents/doc {number}.docx", drive=own)
    for number in range(203):
        drive.add_file(f"/Photos/photo {number}.jpg", drive=own)
    drive.add_file("/my sheet(1).xlsx", size=197, drive=own)
    root = drive.item("/", drive=own)
    return Arranged(client, {"drive-id": own.id, "root-id": root.id})


@arrangement
def children_in_folder(drive: MockDriveFixture) -> Arranged:
    _, own, client = ryan(drive)
    drive.add_file("/Workspace/myfile.jpg", size=2048, drive=own)
    for number in range(4):
        drive.add_file(f"/Workspace/Documents/doc {number}.docx", drive=own)
    for number in range(203):
        drive.add_file(f"/Workspace/Photos/photo {number}.jpg", drive=own)
    drive.add_file("/Workspace/my sheet(1).xlsx", size=197, drive=own)
    return Arranged(client, {"drive-id": own.id})


# -- comparison


def fill(template: Any, values: dict[str, str]) -> Any:
    """The example's request with its placeholders (``{item-id}``) replaced."""
    if isinstance(template, str):
        return re.sub(r"\{([a-z0-9-]+)\}", lambda m: values.get(m[1], m[0]), template)
    if isinstance(template, list):
        return [fill(value, values) for value in template]
    if isinstance(template, dict):
        return {key: fill(value, values) for key, value in template.items()}
    return template


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object", type(None): "null"}[type(value)]


@dataclass
class Comparison:
    vary: set[str]
    divergences: dict[str, Any]
    exact: set[str]
    problems: list[str]
    missing: set[str] = field(default_factory=set)  # documented elements mockdrive lacks
    # list path → elements the answer has beyond the documented ones (each matched as a
    # documented element is; an exact list counts them too)
    extra: dict[str, list[Any]] = field(default_factory=dict)

    def compare(self, documented: Any, answered: Any, path: str) -> None:
        if path in self.divergences:
            expected = self.divergences[path]
            if answered != expected:
                self.problems.append(f"{path}: mockdrive's recorded answer is {expected!r}, "
                                     f"it answered {answered!r}")  # fmt: skip
            return
        if answered is ABSENT:
            self.problems.append(f"{path}: documented, missing from the answer")
            return
        if json_type(documented) != json_type(answered):
            self.problems.append(f"{path}: documented as {json_type(documented)}, answered "
                                 f"{json_type(answered)} {answered!r}")  # fmt: skip
            return
        if isinstance(documented, dict):
            for key, value in documented.items():
                child = f"{path}.{key}" if path else key
                self.compare(value, answered.get(key, ABSENT), child)
        elif isinstance(documented, list):
            self.compare_list(documented, answered, path)
        elif path not in self.vary and documented != answered:
            self.problems.append(f"{path}: documented {documented!r}, answered {answered!r}")

    def compare_list(self, documented: list, answered: list, path: str) -> None:
        """Each documented element must match an element of the answer of its own (the docs'
        samples are truncated: more elements may follow); an ``exact`` list must be equal, but
        for the elements recorded in ``extra``, each of which must be in the answer."""
        extras = self.extra.get(path, [])
        if path in self.exact and len(documented) + len(extras) != len(answered):
            self.problems.append(f"{path}: documented {len(documented)} elements and "
                                 f"{len(extras)} recorded extra, answered {len(answered)}: "
                                 f"{answered!r}")  # fmt: skip
            return
        if all(not isinstance(value, dict | list) for value in documented):
            if path not in self.vary and sorted(map(repr, documented)) != sorted(
                map(repr, answered)
            ):
                self.problems.append(f"{path}: documented {documented!r}, answered {answered!r}")
            return
        free = list(answered)
        for extra in extras:
            found = next((c for c in free if self.matches(extra, c, path)), None)
            if found is None:
                self.problems.append(f"{path}: the recorded extra element {extra!r} is not in "
                                     "the answer: drop the record")  # fmt: skip
            else:
                free.remove(found)
        for number, element in enumerate(documented):
            if f"{path}[{number}]" in self.missing:  # recorded: no element may match it
                if any(self.matches(element, candidate, path) for candidate in answered):
                    self.problems.append(f"{path}[{number}] is recorded as missing, but the "
                                         "answer has it: drop the record")  # fmt: skip
                continue
            best: list[str] | None = None
            for candidate in free:
                trial = Comparison(self.vary, self.divergences, self.exact, [])
                trial.compare(element, candidate, f"{path}[]")
                if not trial.problems:
                    free.remove(candidate)
                    best = []
                    break
                if best is None or len(trial.problems) < len(best):
                    best = trial.problems
            if best:
                self.problems.append(f"{path}[{number}] matches no element; nearest: {best}")
            elif best is None:
                self.problems.append(f"{path}[{number}]: no element left in the answer")

    def matches(self, documented: Any, answered: Any, path: str) -> bool:
        trial = Comparison(self.vary, self.divergences, self.exact, [])
        trial.compare(documented, answered, f"{path}[]")
        return not trial.problems


def documented_at(body: Any, path: str) -> list[Any]:
    """The documented values at ``path`` (every element's, through ``[]``); keys may hold
    dots (``@odata.nextLink``)."""
    if not path:
        return [body]
    if path.startswith("["):
        index, _, rest = path[1:].partition("]")
        rest = rest.removeprefix(".")
        if not isinstance(body, list):
            return []
        elements = [body[int(index)]] if index else body
        return [found for element in elements for found in documented_at(element, rest)]
    if not isinstance(body, dict):
        return []
    for key in sorted(body, key=len, reverse=True):  # the longest key that the path starts with
        rest = path[len(key) :]
        if path.startswith(key) and (not rest or rest[0] in ".["):
            return documented_at(body[key], rest.removeprefix("."))
    return []


def answer_of(response: requests.Response) -> dict[str, Any]:
    body: Any = ABSENT
    if response.content:
        body = response.json()
    headers = {key: value for key, value in response.headers.items()}
    return {"headers": headers, "body": body}


@pytest.mark.parametrize("example", EXAMPLES)
def test_documented_example(mock_drive: MockDriveFixture, example: dict[str, Any]) -> None:
    if "policy" in example:
        mock_drive.set_policy(**example["policy"])
    arranged = ARRANGEMENTS[example["arrange"]](mock_drive)
    request = fill(example["request"], arranged.values)
    client = as_user(arranged.client, None) if request.get("anonymous") else arranged.client
    options: dict[str, Any] = {"headers": request.get("headers", {})}
    if "body" in request:
        options["json"] = request["body"]
    elif "content" in request:
        options["data"] = request["content"].encode()
    response = client.request(request["method"], request["url"], **options)

    documented = example["response"]
    divergences = {d["path"]: d["mock"] for d in example.get("divergences", [])}
    missing = {entry["path"] for entry in example.get("missing_from_answer", [])}
    extra: dict[str, list[Any]] = {}
    for entry in example.get("extra_in_answer", []):
        extra.setdefault(entry["path"], []).append(entry["element"])
    comparison = Comparison(set(example.get("vary", [])), divergences,
                            set(example.get("exact", [])), [], missing, extra)  # fmt: skip
    comparison.compare(documented["status"], response.status_code, "status")
    answer = answer_of(response)
    for name, value in documented.get("headers", {}).items():
        comparison.compare(value, answer["headers"].get(name, ABSENT), f"headers.{name}")
    if "body" in documented:
        body = answer["body"]
        comparison.compare(documented["body"], body, "")
    elif documented["status"] == 204 and answer["body"] is not ABSENT:
        comparison.problems.append(f"body: documented as empty, answered {answer['body']!r}")
    assert not comparison.problems, (
        f"{example['id']} ({example['source']['path']}):\n  "
        + "\n  ".join(comparison.problems)
        + f"\nanswer: {json.dumps(answer['body'])[:600]}"
    )


def test_every_example_names_its_source_and_an_arrangement() -> None:
    """The data stay citable: every file names the page it came from, every example exists
    once, and every divergence says why."""
    seen: set[str] = set()
    for param in EXAMPLES:
        example = param.values[0]
        source = example["source"]
        assert source["repo"] == "microsoftgraph/microsoft-graph-docs-contrib"
        assert source["path"].endswith(".md")
        assert example["id"] not in seen
        seen.add(example["id"])
        assert example["arrange"] in ARRANGEMENTS
        response = example["response"]
        for divergence in example.get("divergences", []):
            assert {"path", "docs", "mock", "reason", "kind"} <= set(divergence), divergence
            assert divergence["kind"] in ("docs-sample", "mockdrive"), divergence
            assert len(divergence["reason"]) > 20, divergence
            path = divergence["path"]
            where = response if path == "status" or path.startswith("headers.") else (
                response.get("body"))  # fmt: skip
            assert divergence["docs"] in documented_at(where, path), (example["id"], path)
        for missing in example.get("missing_from_answer", []):
            assert documented_at(response["body"], missing["path"]), (example["id"], missing)
            assert len(missing["reason"]) > 20, missing
        for extra in example.get("extra_in_answer", []):
            assert isinstance(documented_at(response["body"], extra["path"])[0], list), extra
            assert len(extra["reason"]) > 20, extra


def test_a_url_encoded_as_the_docs_encode_it_is_read_as_a_share_id(mock_drive) -> None:
    """shares-get.md's own sample URL, encoded by its algorithm (unpadded base64url behind
    'u!'), is a share id mockdrive decodes: a link it does not know is 404 itemNotFound to a
    signed-in caller, not 400 for a malformed id."""
    document = yaml.safe_load((EXAMPLES_DIR / "shares.yaml").read_text())
    url = document["encoding_sample"]["url"]
    encoded = encode_sharing_url(url)
    assert encoded.startswith("u!") and "=" not in encoded and "/" not in encoded
    answer = mock_drive.session.get(f"/shares/{encoded}/driveItem")
    assert answer.status_code == 404, answer.text
    assert answer.json()["error"]["code"] == "itemNotFound"
