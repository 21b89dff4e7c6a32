"""Pre-authenticated transfers: upload sessions (large uploads in byte ranges) and short-lived
download URLs. Both are reached without a bearer token, so both carry who they act for.

Everything here expires against the state's clock, through ``is_expired`` alone, so switching to
another clock (a virtual one tests can advance) changes one function.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac  # compare_digest
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import TYPE_CHECKING

from .clock import parse_time as read_time
from .copying import deepcopy_attrs
from .errors import DomainError, InvalidRequest, NotFound, PreconditionFailed
from .hashes import ContentHasher
from .identity import User
from .ids import format_time
from .permissions import can_read, require_role
from .scopes import app_caller
from .tree import Drive, Item, split_path, validate_name

if TYPE_CHECKING:  # state.py holds the sessions: import it only for the annotations
    from .state import State

# The service extends a session's expiry with every fragment it accepts; an idle session lapses.
UPLOAD_SESSION_LIFETIME = timedelta(hours=1)
DOWNLOAD_URL_LIFETIME = timedelta(hours=1)  # "valid for an hour", as the service's are
DOWNLOAD_URL_SECONDS = int(DOWNLOAD_URL_LIFETIME.total_seconds())
MAX_FRAGMENT_BYTES = 60 * 1024 * 1024  # "less than 60 MiB" in any one request
FRAGMENT_MULTIPLE = 320 * 1024  # every fragment but the last: a multiple of 320 KiB (327,680)
MAX_FILE_BYTES = 250 * 1024**3  # the service's largest file (250 GB)
MAX_OPEN_SESSIONS = 1000  # per state: each holds its bytes in memory until it completes


class RangeNotSatisfiable(DomainError):
    """A fragment that overlaps bytes already received or leaves a gap (the service: 416)."""


class QuotaExceeded(DomainError):
    """The declared file size does not fit in the drive's remaining quota (the service: 507)."""


# -- time -------------------------------------------------------------------------------------
def clock_now(state: State) -> datetime:
    """The state's current time (the logical clock's reading, without advancing it): what
    ``parse_time(state.clock.peek())`` reads (whole seconds, UTC), without the round trip."""
    return state.clock.moment()


@lru_cache(maxsize=256)  # the same clock reading is parsed by every render until it moves
def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def is_expired(state: State, expires: str) -> bool:
    """The one expiry check of pre-authenticated transfers."""
    return clock_now(state) >= parse_time(expires)


def expiry_from_now(state: State, lifetime: timedelta) -> str:
    return format_time(clock_now(state) + lifetime)


# -- upload sessions --------------------------------------------------------------------------
@dataclass(slots=True, eq=False)
class UploadSession:
    id: str
    owner_id: str
    drive_id: str
    base_id: str  # the item ``path`` is relative to, or the file being replaced
    path: str | None  # None: replace the content of ``base_id`` (a file)
    conflict: str
    expires: str
    size: int | None  # the file's total size, once declared (fileSize or the first fragment)
    hasher: ContentHasher
    fs_created: str | None = None
    fs_modified: str | None = None
    defer_commit: bool = False  # complete only on an explicit POST to the upload URL
    data: bytearray = field(default_factory=bytearray)

    @property
    def complete(self) -> bool:
        return self.size is not None and len(self.data) == self.size

    @property
    def next_expected_ranges(self) -> list[str]:
        """The bytes still missing, as the service reports them: open-ended (``"0-"``) until
        the first fragment, then ``"26-127"`` (to the last byte of the file). Clients read the
        start of the first range; msgraph-core's upload task also reads its end, and cannot
        continue from the open-ended form."""
        if self.complete:
            return []
        if self.size is None or not self.data:
            return [f"{len(self.data)}-"]
        return [f"{len(self.data)}-{self.size - 1}"]


@dataclass(frozen=True, slots=True)
class LastFragment:
    """The fragment that completed a session, kept until the session would have lapsed: a
    client whose answer to it was lost sends it again, and msgraph-core's upload task always
    does (its loop ends with one more send of the last range)."""

    owner_id: str
    item_id: str
    start: int
    end: int
    total: int
    digest: bytes  # of the fragment's bytes
    expires: str


class UploadSessions:
    """The open upload sessions of one state, by id, the last fragments of the sessions that
    completed, and the key its download URLs are signed with."""

    __deepcopy__ = deepcopy_attrs  # a state's copy: see model/copying.py

    def __init__(self) -> None:
        self.sessions: dict[str, UploadSession] = {}
        self.completed: dict[str, LastFragment] = {}  # not exported: a courtesy, not state
        # Random for each state and never exported: a URL cannot be forged from anything public
        # (the seed), and a URL issued before a reset or a load downloads nothing from the new
        # state, not even its file of the same id (as a service restored from a backup would
        # not honour URLs signed before). Plain bytes, so a state can be copied (deepcopy).
        self.download_key = secrets.token_bytes(32)

    def get(self, state: State, session_id: str) -> UploadSession:
        """The open session, or NotFound (unknown, cancelled, completed or expired)."""
        session = self.sessions.get(session_id)
        if session is None or is_expired(state, session.expires):
            if session is not None:
                del self.sessions[session_id]
            raise NotFound(
                "the upload session was not found or has expired", "uploadSessionNotFound"
            )
        return session

    def drop_expired(self, state: State) -> None:
        for session_id in [s.id for s in self.sessions.values() if is_expired(state, s.expires)]:
            del self.sessions[session_id]
        for session_id, last in list(self.completed.items()):
            if is_expired(state, last.expires):
                del self.completed[session_id]

    def last_fragment(self, state: State, session_id: str) -> LastFragment | None:
        """The fragment that completed this session, while the session would still be live."""
        last = self.completed.get(session_id)
        if last is not None and is_expired(state, last.expires):
            del self.completed[session_id]
            return None
        return last


def fragment_digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def repeat_last_fragment(
    state: State, last: LastFragment, start: int, end: int, total: int, data: bytes | None
) -> Item:
    """The file a completed session made, for a repeat of the fragment that completed it: the
    same range with the same bytes (``data``), or with none (``None``: msgraph-core repeats a
    single-fragment file with an empty body). Anything else finds no session, as before; a
    file its uploader can no longer read is gone to them, as it is to a GET by id."""
    if (start, end, total) != (last.start, last.end, last.total) or (
        data is not None and fragment_digest(data) != last.digest
    ):
        raise NotFound("the upload session was not found or has expired", "uploadSessionNotFound")
    item = state.store.items.get(last.item_id)
    caller = caller_by_id(state, last.owner_id)
    if item is None or caller is None or not can_read(state.store, caller, item):
        raise NotFound("the uploaded file no longer exists")
    return item


def create_session(
    state: State,
    caller: User,
    base: Item,
    path: str | None,
    *,
    conflict: str | None = None,
    name: str | None = None,
    file_size: int | None = None,
    if_match: str | None = None,
    fs_created: str | None = None,
    fs_modified: str | None = None,
    defer_commit: bool = False,
) -> UploadSession:
    """Open a session to upload a new file at ``path`` below ``base``, or new content for
    ``base`` itself when it is a file and no path is given. Refuses now whatever would make the
    final fragment fail (rights, names, an existing file under ``fail``) and changes nothing."""
    store = state.store
    drive = store.drives[base.drive_id]
    conflict = conflict or "replace"
    if conflict not in ("fail", "replace", "rename"):
        raise InvalidRequest("conflictBehavior must be one of fail, replace, rename")
    if file_size is not None:
        check_size(file_size)
    if path is None and base.is_folder:
        if not name:
            raise InvalidRequest("a new file needs its name in the path", "invalidPath")
        path = "/" + name
    target: Item | None = base
    if path is not None:
        names = split_path(path)
        if name is not None and names and name != names[-1]:
            raise InvalidRequest("item.name must be the name in the path", "invalidPath")
        # refused as the simple upload of the path would be: what the caller cannot see
        # answers alike whatever it is, and a path too long is refused now, not at the end
        _, target, _, _ = state.upload_target(caller, base, path, conflict)
    else:
        require_role(store, caller, base, "write")
    tag = None if if_match is None else if_match.strip()
    if tag not in (None, "*") and (target is None or tag not in (target.etag, target.ctag)):
        raise PreconditionFailed("the item has changed since that eTag", "entityTagDoesNotMatch")
    if file_size is not None:
        check_quota(state, base, file_size - replaced_bytes(target, path is not None, conflict))
    sessions = state.uploads
    sessions.drop_expired(state)
    if len(sessions.sessions) >= MAX_OPEN_SESSIONS:
        raise InvalidRequest("too many open upload sessions; complete or cancel some first")
    session = UploadSession(
        id=session_id(state),
        owner_id=caller.id,
        drive_id=drive.id,
        base_id=base.id,
        path=path,
        conflict=conflict,
        expires=expiry_from_now(state, UPLOAD_SESSION_LIFETIME),
        size=file_size,
        hasher=ContentHasher(drive.drive_type),
        fs_created=fs_created,
        fs_modified=fs_modified,
        defer_commit=defer_commit,
    )
    sessions.sessions[session.id] = session
    return session


def session_id(state: State) -> str:
    """A new session's id, its upload URL's last segment: half drawn from the state's ids, half
    at random, as download URLs are signed with a key of each state's own. The same calls after
    a reset (the same seed) open a session that a URL handed out before it does not reach; an
    export keeps the whole id. Two ids are drawn, as before the random half, so the ids drawn
    after it are still those that recordings and saved scenarios name."""
    drawn = state.ids.token()
    state.ids.token()
    return drawn + secrets.token_urlsafe(24)


def check_size(size: int) -> None:
    if isinstance(size, bool) or size < 0:
        raise InvalidRequest("fileSize must be a whole number of bytes")
    if size > MAX_FILE_BYTES:
        raise InvalidRequest("the file is larger than the largest file a drive holds (250 GB)",
                             "maxFileSizeExceeded")  # fmt: skip


def check_quota(state: State, item: Item, size: int) -> None:
    """Refuse ``size`` more bytes in ``item``'s drive where they do not fit (the service's
    ``507 quotaLimitReached``): upload sessions, simple uploads and copies alike."""
    drive = state.store.drives[item.drive_id]
    used = state.store.root(drive).size
    if size > 0 and size > drive.quota_total - used:
        raise QuotaExceeded(
            "the file does not fit in the drive's remaining quota", "quotaLimitReached"
        )


def replaced_bytes(target: Item | None, by_path: bool, conflict: str) -> int:
    """What the file an upload replaces holds now (its content goes; the drive gets that room
    back), as the simple upload counts it: 0 when the upload makes a new file. ``target``: the
    item at the upload's address (None: nothing there yet); ``by_path``: addressed by a path
    below a folder, where only ``replace`` replaces, not as the file itself."""
    if target is None or target.is_folder or (by_path and conflict != "replace"):
        return 0
    return target.size


def _at_address(state: State, base: Item, path: str | None) -> Item | None:
    """The item an upload session's address names now: ``base`` itself without a path."""
    if path is None:
        return base
    try:
        return state.store.resolve(base, path)
    except DomainError:  # not there (yet): a new file
        return None


def check_fragment_size(start: int, end: int, total: int) -> None:
    """Refuse a fragment other than the last whose size is not a multiple of 320 KiB, as the
    documentation requires ("the size of each byte range MUST be a multiple of 320 KiB")."""
    length = end - start + 1
    if end + 1 < total and length % FRAGMENT_MULTIPLE:
        raise InvalidRequest(
            f"a fragment of {length} bytes: every fragment but the last must be a multiple of "
            f"320 KiB ({FRAGMENT_MULTIPLE} bytes)",
            "invalidRange",
        )


def check_fragment(session: UploadSession, start: int, end: int, total: int) -> None:
    """Refuse a fragment that does not continue the file exactly where it stands."""
    if session.size is not None and total != session.size:
        raise InvalidRequest(
            f"the fragment declares a file of {total} bytes; the session expects {session.size}",
            "invalidRange",
        )
    received = len(session.data)
    if start < received:
        raise RangeNotSatisfiable(
            f"the fragment starting at byte {start} overlaps bytes already received "
            f"(next expected: {received})",
            "invalidRange",
        )
    if start > received:
        raise RangeNotSatisfiable(
            f"fragments must be uploaded in order: expected byte {received}, got {start}",
            "invalidRange",
        )


def add_fragment(
    state: State, session: UploadSession, start: int, end: int, total: int, data: bytes
) -> tuple[Item, bool] | None:
    """Append one fragment; on the last byte, commit the file: (item, created). Until then None.

    A commit that fails (a name taken meanwhile under ``fail``, rights lost) leaves the session
    as it was before this fragment (its bytes, size and expiry): the refused request changes
    nothing, and the session lapses at its expiry.
    """
    check_fragment(session, start, end, total)
    received, size, expires = len(session.data), session.size, session.expires
    if session.size is None:
        check_size(total)
        base = state.store.items.get(session.base_id)
        if base is None:
            raise NotFound("the upload target no longer exists")
        target = _at_address(state, base, session.path)
        by_path = session.path is not None
        check_quota(state, base, total - replaced_bytes(target, by_path, session.conflict))
        session.size = total
    session.data += data
    session.hasher.update(data)
    session.expires = expiry_from_now(state, UPLOAD_SESSION_LIFETIME)
    if len(session.data) < total or session.defer_commit:
        return None
    try:
        item, created = commit(state, session)
    except DomainError:
        del session.data[received:]
        session.size, session.expires = size, expires
        session.hasher = ContentHasher(state.store.drives[session.drive_id].drive_type)
        session.hasher.update(session.data)
        raise
    last = LastFragment(
        session.owner_id, item.id, start, end, total, fragment_digest(data), session.expires
    )
    completed = state.uploads.completed
    completed[session.id] = last
    if len(completed) > MAX_OPEN_SESSIONS:  # the oldest go first: the memory stays bounded
        del completed[next(iter(completed))]
    return item, created


def commit(state: State, session: UploadSession) -> tuple[Item, bool]:
    """Create or replace the file with the session's bytes (all of them must have arrived)."""
    if not session.complete:
        raise InvalidRequest("the upload session is missing bytes", "uploadSessionIncomplete")
    caller = caller_by_id(state, session.owner_id)
    base = state.store.items.get(session.base_id)
    if caller is None or base is None:
        raise NotFound("the upload target no longer exists")
    content = bytes(session.data)
    if session.path is None:
        item = state.replace_content(caller, base, content)
        created = False
    else:
        item, created = state.upload(caller, base, session.path, content, conflict=session.conflict)
    item.content_hashes = (item.content or b"", session.hasher.hashes())
    if session.fs_created:
        item.fs_created = session.fs_created
    if session.fs_modified:
        item.fs_modified = session.fs_modified
    state.uploads.sessions.pop(session.id, None)
    return item, created


def cancel(state: State, session: UploadSession) -> None:
    state.uploads.sessions.pop(session.id, None)


# -- download URLs ----------------------------------------------------------------------------
# The keyed hash of each download key before any data (copied for each token: keying costs
# more than hashing a token), and the tokens signed lately. Both are pure functions of their
# keys (the secret and the token's text), so a hit is the very value signing would give.
_KEYED: dict[bytes, hashlib.blake2b] = {}
_SIGNED: dict[tuple[bytes, str], str] = {}
SIGNED_KEPT = 16_384  # then forgotten at once (a listing signs a page at a time)


def _keyed(state: State) -> hashlib.blake2b:
    return _keyed_by(state.uploads.download_key)


def _keyed_by(key: bytes) -> hashlib.blake2b:
    keyed = _KEYED.get(key)
    if keyed is None:
        if len(_KEYED) >= 64:  # states come and go (a test's reset makes a new key)
            _KEYED.clear()
        keyed = _KEYED[key] = hashlib.blake2b(key=key, digest_size=12)
    return keyed.copy()


def _sign(key: bytes, payload: str) -> str:
    """``payload.{keyed BLAKE2b of it}``."""
    signed = _SIGNED.get((key, payload))
    if signed is None:
        if len(_SIGNED) >= SIGNED_KEPT:
            _SIGNED.clear()
        mac = _keyed_by(key)
        mac.update(payload.encode())
        signed = _SIGNED[(key, payload)] = payload + "." + mac.hexdigest()
    return signed


class DownloadSigner:
    """Issues download tokens for one user, valid for an hour from now (state time), signed
    with the state's secret key: one per request, so a listing pays for the clock and the key
    once, not once per file.

    A token is ``{item id}.{user id}.{expiry, epoch seconds}.{keyed BLAKE2b of those}``: every
    part is URL-safe as it is (item ids are base32, user ids GUIDs)."""

    __slots__ = ("key", "suffix")

    def __init__(self, state: State, user_id: str, expires: int | None = None) -> None:
        """``expires``: the epoch second the tokens expire at (None: an hour from now)."""
        self.key = state.uploads.download_key
        if expires is None:
            expires = state.clock.epoch_seconds() + DOWNLOAD_URL_SECONDS
        self.suffix = f".{user_id}.{expires}"

    def token(self, item: Item) -> str:
        return _sign(self.key, item.id + self.suffix)


def download_token(state: State, item: Item, user_id: str) -> str:
    """A token naming the item and the user it was issued to, valid for an hour of state time."""
    return DownloadSigner(state, user_id).token(item)


def caller_by_id(state: State, caller_id: str) -> User | None:
    """Who a pre-authenticated URL (an upload session, a download token) acts for: a user of
    the directory, or an app of the tenant with the reach of its roles (never a user)."""
    user = state.directory.by_id(caller_id)
    if user is not None:
        return user
    app = state.entra.app_by_object_id(caller_id)
    return app_caller(app.caller(), app.roles, app.drives) if app is not None else None


def redeem_download_token(state: State, token: str) -> tuple[Item, User]:
    """The item and user a download token stands for, or NotFound (forged, expired, gone)."""
    gone = NotFound("the download URL is not valid or has expired")
    payload, _, given = token.rpartition(".")
    try:
        item_id, user_id, expires_text = payload.split(".")
        expires = datetime.fromtimestamp(int(expires_text), timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise gone from None
    mac = _keyed(state)
    mac.update(payload.encode())
    if not hmac.compare_digest(given, mac.hexdigest()) or is_expired(state, format_time(expires)):
        raise gone
    item = state.store.items.get(item_id)
    user = caller_by_id(state, user_id)
    if item is None or user is None or item.is_folder:
        raise gone
    return item, user


# -- export and load --------------------------------------------------------------------------
_SESSION_KEYS = ("id", "owner", "drive", "base", "path", "conflictBehavior", "expirationDateTime",
                 "fileSize", "contentBase64", "fileSystemCreated", "fileSystemModified",
                 "deferCommit")  # fmt: skip


def sessions_to_data(state: State) -> list[dict]:
    """The open upload sessions as scenario data (a reload continues each where it stands)."""
    found = []
    for session in state.uploads.sessions.values():
        raw: dict = {
            "id": session.id,
            "owner": session.owner_id,
            "drive": session.drive_id,
            "base": session.base_id,
            "path": session.path,
            "conflictBehavior": session.conflict,
            "expirationDateTime": session.expires,
            "fileSize": session.size,
            "contentBase64": base64.b64encode(bytes(session.data)).decode("ascii"),
            "fileSystemCreated": session.fs_created,
            "fileSystemModified": session.fs_modified,
            "deferCommit": session.defer_commit,
        }
        found.append(raw)
    return found


def check_session_target(state: State, drive: Drive, base_id: str, path: str | None) -> None:
    """Refuse a loaded session whose last fragment could only fail whoever sends it: its base
    is not an item of its drive, it gives new content to a folder, its path starts from a
    file, or its path is one createUploadSession refuses (no file name, ``..``, a name the
    drive does not take, too long). What depends on who acts and when (rights, names taken)
    is checked as it commits."""
    base = state.store.items.get(base_id)
    if base is None or base.drive_id != drive.id:
        raise InvalidRequest("an upload session's base is not an item of its drive")
    if path is None:
        if base.is_folder:
            raise InvalidRequest("an upload session without a path replaces a file, not a folder")
        return
    if not base.is_folder:  # a file never becomes a folder: the path could never be made
        raise InvalidRequest("an upload session's path starts from a file, not a folder")
    names = split_path(path)
    if not names:
        raise InvalidRequest("an upload session's path names no file", "invalidPath")
    for index, name in enumerate(names):
        validate_name(name, drive.drive_type, is_folder=index < len(names) - 1)
    state.store.check_path_length(base, sum(len(name) + 1 for name in names))


def session_from_data(state: State, raw: object) -> UploadSession:
    """An upload session as ``sessions_to_data`` wrote it; InvalidRequest says what is wrong."""
    if not isinstance(raw, dict) or set(raw) != set(_SESSION_KEYS):
        raise InvalidRequest(f"an upload session has exactly the keys {', '.join(_SESSION_KEYS)}")
    texts = ("id", "owner", "drive", "base", "conflictBehavior", "expirationDateTime")
    if not all(isinstance(raw[key], str) and raw[key] for key in texts):
        raise InvalidRequest(f"an upload session's {', '.join(texts)} are text")
    optional = ("path", "fileSystemCreated", "fileSystemModified")
    if not all(raw[key] is None or isinstance(raw[key], str) for key in optional):
        raise InvalidRequest(f"an upload session's {', '.join(optional)} are text or null")
    if raw["id"] in state.uploads.sessions:
        raise InvalidRequest(f"two upload sessions have the id {raw['id']!r}")
    drive = state.store.drives.get(raw["drive"])
    if drive is None or caller_by_id(state, raw["owner"]) is None:
        raise InvalidRequest("an upload session names a drive or owner that does not exist")
    if raw["conflictBehavior"] not in ("fail", "replace", "rename"):
        raise InvalidRequest("conflictBehavior must be one of fail, replace, rename")
    check_session_target(state, drive, raw["base"], raw["path"])
    size = raw["fileSize"]
    if size is not None and (type(size) is not int or not 0 <= size <= MAX_FILE_BYTES):
        raise InvalidRequest("fileSize must be a whole number of bytes or null")
    if type(raw["deferCommit"]) is not bool:
        raise InvalidRequest("deferCommit must be true or false")
    try:
        data = base64.b64decode(raw["contentBase64"], validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise InvalidRequest("an upload session's contentBase64 is not valid base64") from None
    if size is not None and len(data) > size:
        raise InvalidRequest("an upload session holds more bytes than its fileSize")
    session = UploadSession(
        id=raw["id"],
        owner_id=raw["owner"],
        drive_id=drive.id,
        base_id=raw["base"],
        path=raw["path"],
        conflict=raw["conflictBehavior"],
        expires=format_time(read_time(raw["expirationDateTime"], "expirationDateTime")),
        size=size,
        hasher=ContentHasher(drive.drive_type),
        fs_created=raw["fileSystemCreated"],
        fs_modified=raw["fileSystemModified"],
        defer_commit=raw["deferCommit"],
        data=bytearray(data),
    )
    session.hasher.update(data)
    state.uploads.sessions[session.id] = session
    return session
