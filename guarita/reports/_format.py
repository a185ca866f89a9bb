"""How reports write times, numbers and order numbers.

Covers: DT-15, DT-17, DT-18.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

__all__ = ["event_unit", "iso_local", "local_text", "number_text", "order_key", "text_table"]

_DIGITS = re.compile(r"(\d+)")
_UNITS = {"harsh_braking": "m/s²", "harsh_acceleration": "m/s²", "sharp_turn": "m/s²", "overspeed": "km/h"}


def event_unit(kind: str) -> str:
    """Unit of a sensor event's ``value`` and ``threshold`` (empty when it has none)."""
    return _UNITS.get(kind, "")


def local_text(epoch: float, zone: dt.tzinfo) -> str:
    """``2025-07-01 08:30:05``: what an operator reads (local time, no offset)."""
    return dt.datetime.fromtimestamp(epoch, zone).strftime("%Y-%m-%d %H:%M:%S")


def iso_local(epoch: float, zone: dt.tzinfo) -> str:
    """``2025-07-01T08:30:05-03:00``: unambiguous local time for machines."""
    return dt.datetime.fromtimestamp(epoch, zone).isoformat(timespec="seconds")


def number_text(value: float | None, digits: int = 1) -> str:
    """A rounded number, or an empty string when unknown."""
    return "" if value is None else f"{value:.{digits}f}"


def order_key(order_number: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key putting bus ``9`` before ``10`` and ``A2`` before ``A10``."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in _DIGITS.split(order_number) if part)


def text_table(headers: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    """Rows as left-aligned columns under their headers, two spaces apart."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
             for line in (headers, *rows)]
    return "\n".join(lines)
