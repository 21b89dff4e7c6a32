"""Content hashes as the service reports them in ``file.hashes``.

``quickXorHash`` is OneDrive's own: each byte is XORed into a 160-bit register at bit offset
``11 * index mod 160`` (wrapping round), then the length (64-bit little endian) is XORed into the
last eight bytes; the 20 bytes are base64-encoded. Every drive type reports it; personal drives
also report ``sha1Hash`` and ``sha256Hash`` (upper-case hex, as the service spells them).

Hashes are computed once per content and kept on the item next to the bytes they describe, so a
listing never rehashes: ``Item.content_hashes`` holds ``(content, hashes)`` and is recomputed only
when ``item.content`` is a different object.
"""

from __future__ import annotations

import base64
import hashlib

from .tree import Item, content_of

WIDTH_BITS = 160
WIDTH_BYTES = WIDTH_BITS // 8
SHIFT = 11
_MASK = (1 << WIDTH_BITS) - 1
# A byte at index i lands at bit 11*i mod 160; the pattern repeats every 160 bytes, so the bytes
# at the same index mod 160 can be XORed together first ("columns") and placed once each.
_COLUMN_SHIFTS = [(SHIFT * column) % WIDTH_BITS for column in range(WIDTH_BITS)]


_COLUMN_BITS = WIDTH_BITS * 8  # 160 columns of one byte
_COLUMN_MASK = (1 << _COLUMN_BITS) - 1


def _columns(data: bytes) -> int:
    """XOR of all 160-byte blocks of ``data`` (zero-padded), as a little-endian integer: byte
    ``c`` is the XOR of every byte whose index is ``c`` mod 160. Folding halves of one big
    integer keeps this linear and fast (no Python loop over the bytes)."""
    blocks = -(-len(data) // WIDTH_BITS) or 1
    value = int.from_bytes(data, "little")  # zero padding is implicit above the top byte
    while blocks > 1:
        half = blocks // 2
        low_bits = half * _COLUMN_BITS
        low = value & ((1 << low_bits) - 1)
        high = value >> low_bits  # blocks - half blocks: one more than ``low`` when odd
        if blocks % 2:
            low ^= high >> low_bits
            high &= (1 << low_bits) - 1
        value = low ^ high
        blocks = half
    return value


class QuickXorHash:
    """Incremental QuickXorHash: ``update`` with consecutive pieces, then ``digest``."""

    def __init__(self) -> None:
        self.columns = 0
        self.length = 0

    def update(self, data: bytes) -> None:
        columns = _columns(data)
        turn = (self.length % WIDTH_BITS) * 8  # the piece starts at this column
        if turn:
            columns = ((columns << turn) | (columns >> (_COLUMN_BITS - turn))) & _COLUMN_MASK
        self.columns ^= columns
        self.length += len(data)

    def digest(self) -> str:
        register = 0
        for column, byte in enumerate(self.columns.to_bytes(WIDTH_BITS, "little")):
            if byte:
                shift = _COLUMN_SHIFTS[column]
                rotated = (byte << shift) | (byte >> (WIDTH_BITS - shift)) if shift else byte
                register ^= rotated & _MASK
        digest = bytearray(register.to_bytes(WIDTH_BYTES, "little"))
        for index, byte in enumerate(self.length.to_bytes(8, "little")):
            digest[WIDTH_BYTES - 8 + index] ^= byte
        return base64.b64encode(bytes(digest)).decode("ascii")


def quick_xor_hash(data: bytes) -> str:
    """OneDrive's QuickXorHash of ``data``, base64-encoded as in ``file.hashes.quickXorHash``."""
    hasher = QuickXorHash()
    hasher.update(data)
    return hasher.digest()


class ContentHasher:
    """Every hash a drive type reports, fed piece by piece (upload sessions hash as they go)."""

    def __init__(self, drive_type: str) -> None:
        self.quick_xor = QuickXorHash()
        personal = drive_type == "personal"
        self.sha1 = hashlib.sha1() if personal else None
        self.sha256 = hashlib.sha256() if personal else None

    def update(self, data: bytes) -> None:
        self.quick_xor.update(data)
        if self.sha1 is not None and self.sha256 is not None:
            self.sha1.update(data)
            self.sha256.update(data)

    def hashes(self) -> dict[str, str]:
        hashes = {"quickXorHash": self.quick_xor.digest()}
        if self.sha1 is not None and self.sha256 is not None:
            hashes["sha1Hash"] = self.sha1.hexdigest().upper()
            hashes["sha256Hash"] = self.sha256.hexdigest().upper()
        return hashes


def compute_hashes(data: bytes, drive_type: str) -> dict[str, str]:
    """``file.hashes`` for ``data`` on a drive of ``drive_type``."""
    hasher = ContentHasher(drive_type)
    hasher.update(data)
    return hasher.hashes()


def file_hashes(item: Item, drive_type: str) -> dict[str, str]:
    """The hashes of the item's stored bytes, computed once per content (O(1) after that)."""
    key = (item.content or b"") if item.filler is None else item.filler  # what the bytes are
    cached = item.content_hashes
    if cached is None or cached[0] is not key:
        cached = item.content_hashes = (key, compute_hashes(content_of(item), drive_type))
    return cached[1]
