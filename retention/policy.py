"""The retention policy: may this piece of footage be deleted now, and if not, why not?

Three kinds of footage, one rule each:

* an **archive segment** (a bus DVR's file in the DETRO archive) lives ``fleet.archive_days``
  (never below 2: DT-12);
* a **Frigate recording** of a camera shared with cop_bh lives ``retention.cop_bh_days``
  (never below 7: PB-04, BH-06); Frigate deletes it itself, ``guarita retention check``
  makes sure it keeps it that long;
* a **cloud object** (the cloud copy, ``retention.cloud``) lives ``retention.cloud.days``,
  never below 7; the cloud sweeper (``retention/cloud_sweep.py``) deletes it after that.

Footage may go once it *ended* more than its days ago, and only when no active legal hold
overlaps it. ``decide`` gives the answer with its reasons (policy days, hold ids); the
sweeps ask it, or ask ``archive_hold_check`` for the hold part.

Covers: PB-04, BH-06, DT-06, DT-12.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from guarita.config import GuaritaConfig
from guarita.retention.archive_sweep import HeldCheck
from guarita.retention.footage import FootageSource, RetentionError, iso
from guarita.retention.holds import HoldBook

__all__ = ["COP_BH_MIN_DAYS", "CLOUD_MIN_DAYS", "Decision", "Footage", "FootageKind", "RetentionPolicy",
           "archive_hold_check"]

DAY_S = 86400.0
COP_BH_MIN_DAYS = 7
CLOUD_MIN_DAYS = 7


class FootageKind(StrEnum):
    """Where a piece of footage lives."""

    ARCHIVE_SEGMENT = "archive_segment"
    FRIGATE_RECORDING = "frigate_recording"
    CLOUD_OBJECT = "cloud_object"


@dataclass(frozen=True)
class Footage:
    """One segment or object: what kind, whose, and the instants it covers (epoch seconds)."""

    kind: FootageKind
    source: FootageSource
    start: float
    end: float


@dataclass(frozen=True)
class Decision:
    """Whether footage may be deleted at ``now``, and why not."""

    may_delete: bool
    policy_days: int
    keep_until: float
    holds: tuple[int, ...] = ()

    @property
    def reason(self) -> str:
        """One line: why it stays, or that it may go."""
        if self.holds:
            return f"held by legal hold {', '.join(str(h) for h in self.holds)}"
        if not self.may_delete:
            return f"within the {self.policy_days}-day policy until {iso(self.keep_until)}"
        return f"past the {self.policy_days}-day policy since {iso(self.keep_until)}"


@dataclass(frozen=True)
class RetentionPolicy:
    """Days per footage kind, from the config."""

    cop_bh_days: int = COP_BH_MIN_DAYS
    archive_days: int | None = None
    cloud_days: int | None = None

    def __post_init__(self) -> None:
        if self.cop_bh_days < COP_BH_MIN_DAYS:
            raise RetentionError(f"cop_bh footage must be kept at least {COP_BH_MIN_DAYS} days (PB-04, BH-06)")
        if self.archive_days is not None and self.archive_days < 2:
            raise RetentionError("the DVR archive must keep at least 2 days (DT-12)")
        if self.cloud_days is not None and self.cloud_days < CLOUD_MIN_DAYS:
            raise RetentionError(f"the cloud copy must keep at least {CLOUD_MIN_DAYS} days (BH-06)")

    @classmethod
    def for_config(cls, config: GuaritaConfig) -> RetentionPolicy:
        """The policy a config sets (no archive days without a fleet; no cloud days without ``retention.cloud``)."""
        archive = config.fleet.archive_days if config.fleet is not None else None
        cloud = config.retention.cloud.days if config.retention.cloud is not None else None
        return cls(cop_bh_days=config.retention.cop_bh_days, archive_days=archive, cloud_days=cloud)

    def days(self, kind: FootageKind) -> int:
        """Days footage of ``kind`` is kept at least.

        Raises:
            RetentionError: this config keeps no footage of that kind.
        """
        days = {
            FootageKind.ARCHIVE_SEGMENT: self.archive_days,
            FootageKind.FRIGATE_RECORDING: self.cop_bh_days,
            FootageKind.CLOUD_OBJECT: self.cloud_days,
        }[kind]
        if days is None:
            raise RetentionError(f"this config keeps no {kind.value.replace('_', ' ')}s")
        return days

    def decide(self, footage: Footage, now: dt.datetime, holds: HoldBook | None = None) -> Decision:
        """May ``footage`` be deleted at ``now``? Held footage never may."""
        days = self.days(footage.kind)
        keep_until = footage.end + days * DAY_S
        held = holds.holding(footage.source, footage.start, footage.end) if holds is not None else ()
        return Decision(may_delete=now.timestamp() > keep_until and not held, policy_days=days,
                        keep_until=keep_until, holds=held)


def archive_hold_check(holds: HoldBook) -> HeldCheck:
    """The ``is_held`` callback ``sweep_archive`` takes: True when a hold covers the segment."""

    def is_held(vehicle: str, camera: int, start: float, end: float) -> bool:
        return bool(holds.holding(FootageSource(vehicle=vehicle, camera_number=camera), start, end))

    return is_held
