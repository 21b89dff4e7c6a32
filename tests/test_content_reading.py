"""Reading files as the service serves them: ``@microsoft.graph.downloadUrl`` (pre-authenticated,
short-lived), ``GET …/content`` answering 302 to it, ranges (206/416), HEAD, If-None-Match (304)
on items, content and children, ``file.hashes`` and ``fileSystemInfo``."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess

import pytest
import requests
from conftest import as_user, assert_graph_error
from test_msgraph_sdk import SdkClients
from test_uploads import advance_clock

from mockdrive.model.hashes import quick_xor_hash
from mockdrive.model.uploads import DOWNLOAD_URL_LIFETIME

pytestmark = [
    pytest.mark.filterwarnings("ignore:This class is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:GetQueryParameters is deprecated:DeprecationWarning"),
]
DATA = bytes(range(256)) * 4 + b"tail"  # 1028 bytes


@pytest.fixture
def plan(mock_drive):
    mock_drive.add_file("/Docs/plan.bin", DATA)
    return mock_drive.item("/Docs/plan.bin")


def test_files_carry_a_download_url_that_needs_no_token(mock_drive, graph, plan):
    item = graph.get(f"/me/drive/items/{plan.id}").json()
    url = item["@microsoft.graph.downloadUrl"]
    assert url.startswith(mock_drive.url + "/download/")
    answer = requests.get(url, timeout=10)  # no Authorization header
    assert answer.status_code == 200 and answer.content == DATA
    assert answer.headers["ETag"] == item["cTag"]
    listed = graph.get("/me/drive/root:/Docs:/children").json()["value"]
    assert listed[0]["@microsoft.graph.downloadUrl"].startswith(mock_drive.url + "/download/")
    folder = graph.get("/me/drive/root:/Docs").json()
    assert "@microsoft.graph.downloadUrl" not in folder


def test_content_redirects_to_the_download_url(mock_drive, graph, plan):
    item = graph.get(f"/me/drive/items/{plan.id}").json()
    answer = graph.get(f"/me/drive/items/{plan.id}/content", allow_redirects=False)
    assert answer.status_code == 302
    assert answer.headers["Location"] == item["@microsoft.graph.downloadUrl"]
    followed = graph.get(f"/me/drive/items/{plan.id}/content")  # what requests does by default
    assert followed.status_code == 200 and followed.content == DATA
    assert [r.status_code for r in followed.history] == [302]


def test_a_conversion_mockdrive_cannot_make_is_501_not_the_original_bytes(graph, plan):
    """``…/content?format=pdf`` is the file converted (python-o365's ``convert_to_pdf``):
    mockdrive converts nothing, so it says so instead of sending the file's own bytes as if they
    were the PDF."""
    for spelled in (f"/me/drive/items/{plan.id}/content", "/me/drive/root:/Docs/plan.bin:/content"):
        answer = graph.get(spelled, params={"format": "pdf"}, allow_redirects=False)
        assert_graph_error(answer, 501, "notImplemented")
        assert "format=pdf" in answer.json()["error"]["message"]
    assert graph.get(f"/me/drive/items/{plan.id}/content").content == DATA


def test_a_conversion_through_a_sharing_link_is_501_too(graph, plan):
    """``/shares/{id}/driveItem/content?format=pdf`` (and the other contents a link reaches)
    asks for the same conversion: 501, not the file's own bytes as if they were the PDF."""
    link = graph.post(f"/me/drive/items/{plan.id}/createLink", json={"type": "view"}).json()
    web_url = link["link"]["webUrl"].encode()
    share = "/shares/u!" + base64.urlsafe_b64encode(web_url).decode().rstrip("=")
    for tail in ("/driveItem/content", "/root/content", f"/items/{plan.id}/content"):
        answer = graph.get(share + tail, params={"format": "pdf"}, allow_redirects=False)
        assert_graph_error(answer, 501, "notImplemented")
        assert "format=pdf" in answer.json()["error"]["message"]
        assert graph.get(share + tail).content == DATA  # without it, the file's own bytes


def test_download_urls_expire_and_cannot_be_forged(mock_drive, graph, plan):
    url = graph.get(f"/me/drive/items/{plan.id}").json()["@microsoft.graph.downloadUrl"]
    token = url.rsplit("/", 1)[1]
    other = mock_drive.add_file("/Docs/other.txt", "secret").id
    forged = token.replace(plan.id, other)  # same signature, another item
    assert forged != token
    later = token.split(".")
    later[2] = str(int(later[2]) + 86400)  # a later expiry under the same signature
    for bad in (forged, ".".join(later)):
        answer = requests.get(mock_drive.url + "/download/" + bad, timeout=10)
        assert_graph_error(answer, 404, "itemNotFound")
    for junk in ("x", "x.y", "...", "a.b.c.d", "a.b.99999999999999999999.d", token + "x"):
        answer = requests.get(mock_drive.url + "/download/" + junk, timeout=10)
        assert_graph_error(answer, 404, "itemNotFound")
    assert requests.get(url, timeout=10).status_code == 200
    advance_clock(mock_drive, DOWNLOAD_URL_LIFETIME.total_seconds() + 1)
    assert_graph_error(requests.get(url, timeout=10), 404, "itemNotFound")
    fresh = graph.get(f"/me/drive/items/{plan.id}/content")  # a new redirect, a new URL
    assert fresh.status_code == 200 and fresh.content == DATA


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=1000-", 1000, 1027),
        ("bytes=-4", 1024, 1027),
        ("bytes=1020-5000", 1020, 1027),
        ("bytes=-5000", 0, 1027),
    ],
)
def test_ranges_answer_206(graph, plan, header, first, last):
    answer = graph.get(f"/me/drive/items/{plan.id}/content", headers={"Range": header})
    assert answer.status_code == 206, answer.text
    assert answer.headers["Content-Range"] == f"bytes {first}-{last}/{len(DATA)}"
    assert answer.content == DATA[first : last + 1]


@pytest.mark.parametrize("header", ["bytes=1028-", "bytes=5000-6000", "bytes=-0"])
def test_unsatisfiable_ranges_answer_416(graph, plan, header):
    answer = graph.get(f"/me/drive/items/{plan.id}/content", headers={"Range": header})
    assert_graph_error(answer, 416, "invalidRange")
    assert answer.headers["Content-Range"] == f"bytes */{len(DATA)}"


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "items=0-3", "bytes=9-3"])
def test_ranges_this_server_ignores_get_the_whole_file(graph, plan, header):
    answer = graph.get(f"/me/drive/items/{plan.id}/content", headers={"Range": header})
    assert answer.status_code == 200 and answer.content == DATA


def test_head_on_items_and_content(mock_drive, graph, plan):
    item = graph.request("HEAD", f"/me/drive/items/{plan.id}")
    assert item.status_code == 200 and item.content == b""
    assert item.headers["Content-Type"].startswith("application/json")
    content = graph.request("HEAD", f"/me/drive/items/{plan.id}/content", allow_redirects=True)
    assert content.status_code == 200 and content.content == b""
    assert content.headers["Content-Length"] == str(len(DATA))
    assert content.headers["Accept-Ranges"] == "bytes"
    missing = graph.request("HEAD", "/me/drive/root:/nope.txt")
    assert missing.status_code == 404


def test_if_none_match_on_items_content_and_children(mock_drive, graph, plan):
    item = graph.get(f"/me/drive/items/{plan.id}").json()
    for tag in (item["eTag"], item["cTag"]):
        same = graph.get(f"/me/drive/items/{plan.id}/content", headers={"If-None-Match": tag},
                         allow_redirects=False)  # fmt: skip
        assert same.status_code == 304
    url = item["@microsoft.graph.downloadUrl"]
    assert requests.get(url, headers={"If-None-Match": item["cTag"]}, timeout=10).status_code == 304
    folder_tag = {"If-None-Match": graph.get("/me/drive/root:/Docs").json()["eTag"]}
    unchanged = graph.get("/me/drive/root:/Docs:/children", headers=folder_tag)
    assert unchanged.status_code == 304
    graph.put("/me/drive/root:/Docs/new.txt:/content", data=b"new")
    changed = graph.get("/me/drive/root:/Docs:/children", headers=folder_tag)
    assert changed.status_code == 200 and len(changed.json()["value"]) == 2
    stale = graph.get(f"/me/drive/items/{plan.id}/content", headers={"If-None-Match": '"old"'})
    assert stale.status_code == 200 and stale.content == DATA


def test_business_files_carry_quick_xor_hash_only(mock_drive, graph, plan):
    hashes = graph.get(f"/me/drive/items/{plan.id}").json()["file"]["hashes"]
    assert hashes == {"quickXorHash": quick_xor_hash(DATA)}


def test_personal_files_also_carry_sha1_and_sha256(mock_drive, graph):
    owner = mock_drive.add_user("Pat Personal", "pat@outlook.example", token="pat-token")
    drive = mock_drive.add_drive(owner, drive_type="personal")
    mock_drive.add_file("/photo.jpg", DATA, drive=drive)
    item = as_user(graph, "pat-token").get("/me/drive/root:/photo.jpg").json()
    assert item["file"]["hashes"] == {
        "quickXorHash": quick_xor_hash(DATA),
        "sha1Hash": hashlib.sha1(DATA).hexdigest().upper(),
        "sha256Hash": hashlib.sha256(DATA).hexdigest().upper(),
    }


def test_hashes_follow_the_content(mock_drive, graph, plan):
    before = graph.get(f"/me/drive/items/{plan.id}").json()["file"]["hashes"]["quickXorHash"]
    graph.put(f"/me/drive/items/{plan.id}/content", data=b"changed")
    after = graph.get(f"/me/drive/items/{plan.id}").json()["file"]["hashes"]["quickXorHash"]
    assert before != after == quick_xor_hash(b"changed")


# Published QuickXorHash vectors (base64 in, base64 out), as rclone's own tests use them.
VECTORS = [
    ("", "AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
    ("Sg==", "SgAAAAAAAAAAAAAAAQAAAAAAAAA="),
    ("jRRDVA==", "jaDAEKgAAAAAAAAABAAAAAAAAAA="),
    ("2fuxhBJXtpWFe8dOfdGeHw==", "O9tHLAghgSvYohKFyMMxnNCHaHg="),
]


@pytest.mark.parametrize(("data", "expected"), VECTORS)
def test_quick_xor_hash_matches_published_vectors(data, expected):
    assert quick_xor_hash(base64.b64decode(data)) == expected


@pytest.mark.parametrize("size", [0, 1, 159, 160, 161, 321, 4096, 100_003])
def test_quick_xor_hash_matches_rclone(tmp_path, size):
    if shutil.which("rclone") is None:
        if os.environ.get("CI"):
            pytest.fail("rclone is not installed (.ci/run installs it)")
        pytest.skip("rclone is not installed (apt-get install rclone)")
    data = os.urandom(size)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    out = subprocess.run(["rclone", "hashsum", "quickxor", str(path)], capture_output=True,
                         text=True, check=True, timeout=60).stdout  # fmt: skip
    assert base64.b64decode(quick_xor_hash(data)).hex() == out.split()[0]


def test_file_system_info_is_rendered(mock_drive, graph, plan):
    item = graph.get(f"/me/drive/items/{plan.id}").json()
    assert item["fileSystemInfo"] == {
        "createdDateTime": item["createdDateTime"],
        "lastModifiedDateTime": item["lastModifiedDateTime"],
    }


async def test_msgraph_sdk_reads_content_through_the_redirect(mock_drive):
    mock_drive.add_file("/Docs/plan.bin", DATA)
    item = mock_drive.item("/Docs/plan.bin")
    async with SdkClients(mock_drive.graph_url, mock_drive.token) as sdk:
        content = (
            await sdk()
            .drives.by_drive_id(mock_drive.drive.id)
            .items.by_drive_item_id(item.id)
            .content.get()
        )
    assert content == DATA
