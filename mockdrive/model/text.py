"""What counts as text: a string UTF-8 can hold.

A Python string may hold a lone surrogate (``"\\ud800"``: from a JSON escape, or header bytes
decoded with surrogate escapes); UTF-8 has no form for it, so it can be neither stored,
exported, rendered nor journaled. Every check for that is ``is_unicode``.
"""

from __future__ import annotations


def is_unicode(text: str) -> bool:
    """Can ``text`` be written as UTF-8 (it holds no lone surrogate)?"""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def escape_non_unicode(text: str) -> str:
    """``text`` with anything UTF-8 cannot hold (lone surrogates) written as ``\\udcff``."""
    if is_unicode(text):
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
