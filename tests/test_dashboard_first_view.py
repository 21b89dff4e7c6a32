"""The dashboard's first view is drawn on the server: a plain headless Chromium (no
``--virtual-time-budget``, so no time for the page's script to fetch anything) shows the tree
and the request journal, in its DOM and in its screenshot; and nothing in the tree is cut off at
1280 px."""

from __future__ import annotations

import os
import re
import struct
import subprocess
import zlib
from itertools import accumulate
from pathlib import Path

import pytest
import requests
from conftest import CHROMIUM_ARGS
from test_dashboard import node, page  # noqa: F401 (fixtures)

from mockdrive.pytest_plugin import MockDriveFixture

FOLDER_ICON = (0xE8, 0xB8, 0x4A)  # .icon.folder in dashboard.css
FILE_ICON = (0xC9, 0xD3, 0xE1)  # .icon.file
WARN_ROW = (0xFF, 0xF6, 0xE0)  # a 4xx row of the journal (--warn-bg)


def chromium() -> str:
    path = os.environ.get("MOCKDRIVE_CHROMIUM", "/usr/bin/chromium")
    if not Path(path).exists():
        reason = f"{path} is missing: sudo apt-get install chromium (.ci/run installs it)"
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(f"{reason}; CI=true requires the browser tests to run", pytrace=False)
        pytest.skip(f"{reason}; CI=true turns this skip into a failure")
    return path


def plain_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """Chromium as a user runs it: headless, a fresh profile, no virtual time budget."""
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    return subprocess.run(
        [chromium(), *CHROMIUM_ARGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


def read_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB bytes) of an 8-bit, non-interlaced RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks = 8, []
    width = height = channels = 0
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            chunks.append(body)
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    rows: list[bytes] = []
    previous = bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], raw[start + 1 : start + 1 + stride]
        if kind == 1:  # sub: each channel is a running sum of its own bytes
            whole = bytearray(stride)
            for c in range(channels):
                whole[c::channels] = bytes(map(BYTE.__and__, accumulate(line[c::channels])))
            line = bytes(whole)
        elif kind == 2:  # up
            line = add_bytes(line, previous)
        elif kind in (3, 4):
            line = unfilter_in_order(kind, bytearray(line), previous, channels)
        previous = line
        if channels == 4:
            rgb = bytearray(width * 3)
            for c in range(3):
                rgb[c::3] = line[c::4]
            line = bytes(rgb)
        rows.append(line)
    return width, height, rows


BYTE = 0xFF


def add_bytes(a: bytes, b: bytes) -> bytes:
    """Each byte of ``a`` plus the byte of ``b`` at its place, modulo 256, all at once: the low
    seven bits of every byte add without reaching the next byte, the top bit is their xor."""
    n = len(a)
    low, high = int.from_bytes(b"\x7f" * n, "big"), int.from_bytes(b"\x80" * n, "big")
    x, z = int.from_bytes(a, "big"), int.from_bytes(b, "big")
    return (((x & low) + (z & low)) ^ ((x ^ z) & high)).to_bytes(n, "big")


def unfilter_in_order(kind: int, line: bytearray, up: bytes, channels: int) -> bytes:
    """Undo the average (3) or Paeth (4) filter of a row, byte by byte, as each byte's
    prediction depends on the byte decoded before it."""
    for i in range(channels):  # no pixel to the left: average is up // 2, Paeth is up
        line[i] = (line[i] + (up[i] // 2 if kind == 3 else up[i])) & BYTE
    for i in range(channels, len(line)):
        left, above, corner = line[i - channels], up[i], up[i - channels]
        if kind == 3:
            line[i] = (line[i] + (left + above) // 2) & BYTE
            continue
        to_left, to_above = abs(above - corner), abs(left - corner)
        to_corner = abs(left + above - corner - corner)
        if to_left <= to_above and to_left <= to_corner:
            line[i] = (line[i] + left) & BYTE
        elif to_above <= to_corner:
            line[i] = (line[i] + above) & BYTE
        else:
            line[i] = (line[i] + corner) & BYTE
    return bytes(line)


def bands(rows: list[bytes], color: tuple[int, int, int], at_least: int) -> int:
    """How many separate bands of pixel rows hold ``at_least`` pixels of exactly ``color``."""
    # per channel, a table mapping the wanted value to 1 and any other to 0: a pixel is a hit
    # where the three channels' marks are all 1
    marks = [bytes(int(value == wanted) for value in range(256)) for wanted in color]
    count, inside = 0, False
    for row in rows:
        hit = -1
        for c, mark in enumerate(marks):
            hit &= int.from_bytes(row[c::3].translate(mark), "big")
        hits = hit.bit_count()
        if hits >= at_least and not inside:
            count += 1
        inside = hits >= at_least
    return count


@pytest.fixture
def busy(mock_drive: MockDriveFixture) -> MockDriveFixture:
    """Two folders and a file at the top, and a few requests in the journal (two of them 4xx)."""
    mock_drive.add_file("/Projects/Plan.docx", "draft")
    mock_drive.add_folder("/Archive")
    mock_drive.add_file("/Notes.txt", "n")
    session = mock_drive.session
    assert session.get("/me/drive/root/children").status_code == 200
    assert session.get("/me/drive/root:/Missing.txt").status_code == 404
    assert session.get("/me/drive/items/nope").status_code == 404
    invited = session.post(
        "/me/drive/root:/Projects:/invite",
        json={"recipients": [{"email": "guest@partner.example"}], "roles": ["read"]},
    )
    assert invited.status_code == 200, invited.text
    return mock_drive


def test_a_plain_headless_dom_dump_holds_the_tree_and_the_journal(busy, tmp_path):
    result = plain_chromium(tmp_path, "--dump-dom", busy.url + "/_mockdrive/ui")
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    for path in ("/Archive", "/Projects", "/Notes.txt"):
        assert f'data-path="{path}"' in dom, path
    assert "guest@partner.example · read" in dom
    for path in (
        "/v1.0/me/drive/root/children",
        "/v1.0/me/drive/root:/Missing.txt",
        "/v1.0/me/drive/items/nope",
        "/v1.0/me/drive/root:/Projects:/invite",
    ):
        assert f'<td class="mono path">{path}</td>' in dom, path
    assert dom.count('<tr class="entry status-4"') == 2
    shown = [int(n) for n in re.findall(r'<tr class="entry status-\d" data-id="(\d+)"', dom)]
    assert len(shown) == 4 and shown == sorted(shown, reverse=True)  # newest first
    assert '<p id="journal-empty" class="empty" hidden="">' in dom
    summary = dom.split('id="summary" class="summary">')[1].split("<")[0]
    assert summary.startswith("1 drive · 5 items · 1 user · 0 groups · 0 e-mails"), summary
    assert "loading…" not in dom


def test_a_plain_headless_screenshot_shows_the_tree_and_the_journal_rows(busy, tmp_path):
    shot = tmp_path / "page.png"
    result = plain_chromium(
        tmp_path, f"--screenshot={shot}", "--window-size=1280,1000", busy.url + "/_mockdrive/ui"
    )
    assert shot.exists(), result.stderr[-2000:]
    width, height, rows = read_png(shot.read_bytes())
    assert (width, height) == (1280, 1000)
    assert bands(rows, FOLDER_ICON, 8) == 2  # /Archive and /Projects
    assert bands(rows, FILE_ICON, 6) == 1  # /Notes.txt
    assert bands(rows, WARN_ROW, 300) == 2  # the two 404 rows of the journal


def test_the_page_holds_no_data_for_anyone_without_the_admin_token(mock_drive):
    mock_drive.add_folder("/Secret Plans")
    mock_drive.server.backend.admin_token = "admin-secret"
    try:
        text = requests.get(mock_drive.url + "/_mockdrive/ui").text
    finally:
        mock_drive.server.backend.admin_token = None
    assert "Secret Plans" not in text and "{{" not in text
    assert '<span id="summary" class="summary">loading…</span>' in text
    opened = requests.get(mock_drive.url + "/_mockdrive/ui").text
    assert 'data-path="/Secret Plans"' in opened and "{{" not in opened


def test_what_the_server_draws_is_escaped(mock_drive, tmp_path):
    eve = mock_drive.add_user("<img src=x onerror=alert(1)>Eve", "eve@contoso.example")
    mock_drive.add_folder("/R&D")
    mock_drive.grant("/R&D", eve, ["read"])
    text = requests.get(mock_drive.url + "/_mockdrive/ui").text
    assert "<img" not in text and 'data-path="/R&amp;D"' in text
    assert "&lt;img src=x onerror=alert(1)&gt;Eve · read" in text


def test_nothing_in_the_tree_is_cut_off_at_1280_pixels(mock_drive, page):  # noqa: F811
    from playwright.sync_api import expect

    owner = mock_drive.add_user(
        "Maximiliana Wolkenstein-Hohenberg", "maximiliana.wolkenstein-hohenberg@contoso.example"
    )
    drive = mock_drive.add_drive(
        owner, drive_type="documentLibrary", name="Quarterly Finance and Accounting Archive"
    )
    mock_drive.add_folder("/Board Minutes and Resolutions 2024", drive=drive)
    team = mock_drive.add_group("Finance Leadership Team Members", [owner])
    mock_drive.grant("/Board Minutes and Resolutions 2024", team, ["write"], drive=drive)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(mock_drive.url + "/_mockdrive/ui")
    page.select_option("#as-user", owner.email)
    expect(page.locator(".drive-row .as").first).to_be_visible()
    overflow = page.evaluate(
        """() => {
          const card = document.getElementById('tree-card').getBoundingClientRect();
          return [...document.querySelectorAll('#tree .badge, #tree .meta, #tree .name')]
            .filter((e) => e.getBoundingClientRect().right > card.right - 1)
            .map((e) => e.textContent);
        }"""
    )
    assert overflow == []


def test_a_click_on_the_server_drawn_tree_works_before_the_script_has_drawn(busy, page):  # noqa: F811
    from playwright.sync_api import expect

    held: list = []
    page.route("**/_mockdrive/dashboard/overview", lambda route: held.append(route))  # wait
    page.goto(busy.url + "/_mockdrive/ui")
    expect(node(page, "/Projects/Plan.docx")).to_have_count(0)
    node(page, "/Projects").locator(":scope > .row .toggle").click()
    assert held, "the script's first poll has not been held"
    for route in held:
        route.continue_()
    page.unroute("**/_mockdrive/dashboard/overview")
    expect(node(page, "/Projects/Plan.docx")).to_be_visible()


def test_the_identity_card_is_drawn_with_the_token_holders(mock_drive):
    empty = requests.get(mock_drive.url + "/_mockdrive/ui").text
    assert '<p id="identity-empty" class="empty">' in empty
    mock_drive.token_for(mock_drive.owner, ["Files.Read"])
    text = requests.get(mock_drive.url + "/_mockdrive/ui").text
    assert '<p id="identity-empty" class="empty" hidden>' in text
    assert f'data-holder="{mock_drive.owner.email} ' in text
    assert "Files.Read · expires " in text
