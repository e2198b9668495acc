"""Characters outside the Basic Multilingual Plane, as escapes V8's binding passes unharmed.

STPyV8 converts strings between Python and JavaScript 16 bits at a time, so a
character such as U+1F600 arrives as U+F600, in both directions. Escaping such
characters as UTF-16 surrogate pairs (``\\ud83d\\ude00``) works in JSON text, in
JavaScript strings, templates and regular expressions alike, so every string
convexpy hands to V8 goes through :func:`escape_astral` first.
"""

from __future__ import annotations

import re

ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _surrogates(match: re.Match) -> str:
    code = ord(match.group()) - 0x10000
    return "\\u%04x\\u%04x" % (0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF))


def escape_astral(text: str) -> str:
    """``text`` with every character outside the BMP as a surrogate-pair escape."""
    if text.isascii():
        return text
    return ASTRAL.sub(_surrogates, text)
