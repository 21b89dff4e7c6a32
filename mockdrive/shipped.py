"""The example scenarios shipped with mockdrive, loadable by name (``team``, ``quickstart``...).

Their source is the repository's top-level ``fixtures/`` folder. Building the wheel copies it into
the package as ``mockdrive/scenarios/`` (see ``setup.py``); an editable install or a checkout reads
``fixtures/`` itself. Wherever a scenario file is accepted, an existing path wins over a name.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
SUFFIXES = (".yaml", ".yml", ".json")


def scenarios_dir() -> Path | None:
    """Where the shipped scenarios are: inside the installed package, else the checkout's
    ``fixtures/`` (editable installs)."""
    for candidate in (PACKAGE_DIR / "scenarios", PACKAGE_DIR.parent / "fixtures"):
        if candidate.is_dir():
            return candidate
    return None


def shipped_names() -> list[str]:
    """The names of the shipped scenarios, sorted (``["partial-failure", "quickstart", ...]``)."""
    folder = scenarios_dir()
    if folder is None:
        return []
    return sorted(p.stem for p in folder.iterdir() if p.suffix in SUFFIXES)


def shipped_scenario(name: str | Path) -> Path | None:
    """The shipped scenario called ``name`` (``team`` or ``team.yaml``), or None.

    Only bare names count: anything with a directory part is a path, never a name."""
    text = str(name)
    folder = scenarios_dir()
    if folder is None or not text or "/" in text or "\\" in text or text.startswith("."):
        return None
    stem = Path(text).stem if Path(text).suffix in SUFFIXES else text
    for suffix in SUFFIXES:
        candidate = folder / (stem + suffix)
        if candidate.is_file() and (text == stem or candidate.name == text):
            return candidate
    return None


def find_scenario(spec: str | Path, bases: Iterable[Path] = ()) -> tuple[Path | None, list[str]]:
    """Resolve a scenario given as a path or a shipped name.

    An existing path comes first (absolute, or relative to each of ``bases`` in turn, or to the
    current directory when no base is given), then a shipped name. Returns the file, or None
    with the places that were tried (for the error message)."""
    path = Path(spec)
    relative = list(dict.fromkeys(base / path for base in bases)) or [path]
    candidates = [path] if path.is_absolute() else relative
    tried: list[str] = []
    for candidate in candidates:
        if candidate.is_file():
            return candidate, tried
        tried.append(str(candidate))
    shipped = shipped_scenario(spec)
    if shipped is not None:
        return shipped, tried
    tried.append(f"a shipped scenario named {str(spec)!r} (one of: {', '.join(shipped_names())})")
    return None, tried
