"""The time span a report covers, from the dates an operator types, and the reports' error.

An operator writes ``2025-07-01`` or ``2025-07-01T08:30``; both are local time in the
fleet's zone unless they carry an offset. A bare date as the end of a period means the
whole of that day, so ``--from 2025-07-01 --to 2025-07-31`` covers all of July. Periods
are half-open: ``start <= t < end``.

Covers: DT-18, DT-19.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from guarita.errors import GuaritaError

__all__ = ["Moment", "Period", "ReportError", "parse_moment", "period_between"]

Moment = dt.date | dt.datetime


class ReportError(GuaritaError):
    """A report cannot be made: no fleet configured, an unknown vehicle, an empty or reversed period."""


@dataclass(frozen=True)
class Period:
    """A half-open span ``[start, end)`` of aware datetimes, shown in ``zone``."""

    start: dt.datetime
    end: dt.datetime
    zone: dt.tzinfo

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a report period needs aware datetimes")
        if self.end <= self.start:
            fmt = "%Y-%m-%d %H:%M"
            raise ReportError(
                f"the period is empty: it starts {self.start.astimezone(self.zone).strftime(fmt)} and ends "
                f"{self.end.astimezone(self.zone).strftime(fmt)} ({self.zone}); a bare date as the end includes "
                "that whole day"
            )

    @property
    def start_epoch(self) -> float:
        """Start as UTC epoch seconds (how the store keeps time)."""
        return self.start.timestamp()

    @property
    def end_epoch(self) -> float:
        """End (excluded) as UTC epoch seconds."""
        return self.end.timestamp()

    def days(self) -> list[dt.date]:
        """Every local calendar day the period touches, in order."""
        first = self.start.astimezone(self.zone).date()
        last = (self.end - dt.timedelta(microseconds=1)).astimezone(self.zone).date()
        return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]

    def label(self) -> str:
        """``2025-07-01 00:00 – 2025-07-02 00:00 (America/Sao_Paulo)`` for page headers."""
        fmt = "%Y-%m-%d %H:%M"
        return (
            f"{self.start.astimezone(self.zone).strftime(fmt)} – {self.end.astimezone(self.zone).strftime(fmt)}"
            f" ({self.zone})"
        )


def parse_moment(text: str) -> Moment:
    """An ISO date (``2025-07-01``) or datetime (``2025-07-01T08:30``, optionally with an offset).

    Raises:
        ValueError: ``text`` is neither.
    """
    text = text.strip()
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO date (2025-07-01) or datetime (2025-07-01T08:30)") from None


def _instant(moment: Moment, zone: dt.tzinfo, *, end: bool) -> dt.datetime:
    if isinstance(moment, dt.datetime):
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)
    day = moment + dt.timedelta(days=1) if end else moment
    return dt.datetime.combine(day, dt.time(), tzinfo=zone)


def period_between(start: Moment, end: Moment, zone: dt.tzinfo) -> Period:
    """The period from ``start`` to ``end``; a bare date as ``end`` includes that whole day.

    Naive values are local time in ``zone``.

    Raises:
        ReportError: the period is empty or reversed.
    """
    return Period(_instant(start, zone, end=False), _instant(end, zone, end=True), zone)
