"""DVR file names: which are safe to use as paths, and the recording start they state.

DT-10: one folder per camera, each file named by its recording start, ``yyyymmddhhmmss``,
in the DVR's local clock. A listing is input from a device on the garage Wi-Fi: a name is
never trusted as a path.

Covers: DT-10, DT-11.
"""

from __future__ import annotations

import datetime as dt
import re

__all__ = ["VIDEO_SUFFIX", "TELEMETRY_SUFFIX", "CHECKSUM_SUFFIX", "parse_start", "unsafe_name_reason"]

VIDEO_SUFFIX = ".mp4"
TELEMETRY_SUFFIX = ".jsonl"
CHECKSUM_SUFFIX = ".sha256"  # a DVR's own checksum, beside the file: "<hex>  <name>" or "<hex>"

_STAMP = re.compile(r"^(\d{14})\.[a-z0-9]+$")
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def unsafe_name_reason(name: str) -> str | None:
    """Why ``name`` may not be used as a file name here, or None when it is safe.

    Refused: empty, ``.``/``..``, anything with a separator, a NUL, a leading dot or dash,
    characters outside ``A-Za-z0-9._-``, more than 128 characters.
    """
    if name in ("", ".", ".."):
        return f"name {name!r} is not a file name"
    if "/" in name or "\\" in name or "\x00" in name:
        return f"name {name!r} contains a path separator"
    if ".." in name:
        return f"name {name!r} contains '..'"
    if not _SAFE.match(name):
        return f"name {name!r} has characters outside A-Z a-z 0-9 . _ - or is too long"
    return None


def parse_start(name: str, zone: dt.tzinfo) -> dt.datetime | None:
    """The recording start a ``yyyymmddhhmmss.<ext>`` name states, aware in ``zone``.

    None when the name is not 14 digits and an extension, or the digits are not a real
    date and time (month 13, 30 February, 25 h...).
    """
    match = _STAMP.match(name)
    if match is None:
        return None
    try:
        naive = dt.datetime.strptime(match.group(1), "%Y%m%d%H%M%S")
    except ValueError:
        return None
    return naive.replace(tzinfo=zone)
