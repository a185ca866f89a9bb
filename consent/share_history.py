"""When a camera was shared with COP-BH, from the registry's history.

The registry never updates a row, so its state at any past instant is the replay of the rows
recorded up to then (``Registry.snapshot_as_of``). A camera's state can only change at one of
its rows' ``recorded_at`` or at a consent's expiry (``Registry.change_times``); between two
such instants it is constant. ``shared_periods`` asks the share gate (``decide``) at each of
them, with the registry as it stood then, and returns the half-open UTC intervals
``[start, end)`` in which the gate passed, merged; the last one is open (``end`` is None)
while the camera is still shared.

Only the registry's conditions count here (client, consent and its revocation or expiry,
public-facing attestation, sign): the config has no history, so whether it lists the camera
in ``cop_bh``, enables the program or names an accreditation is judged by the callers at the
moment they act (the cloud uploader sends nothing the config does not allow now).

Covers: BH-02, BH-03, BH-04, BH-06, BH-07, BH-10.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from guarita.config import CameraConfig, ProgramName
from guarita.consent.registry import Registry
from guarita.consent.share_gate import ShareReason, decide

__all__ = ["CONFIG_REASONS", "SharedPeriod", "inside_shared_period", "shared_periods"]

# Reasons that come from the config, which has no history: left to the callers.
CONFIG_REASONS = frozenset({ShareReason.PROGRAM_NOT_ENABLED, ShareReason.PROVIDER_NOT_ACCREDITED})
_LISTED = CameraConfig(programs=[ProgramName.COP_BH])


def _iso(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment, dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class SharedPeriod:
    """``[start, end)`` in epoch seconds; ``end`` None while the camera is still shared."""

    start: float
    end: float | None

    def holds(self, start: float, end: float) -> bool:
        """Whether ``[start, end)`` lies wholly inside this period."""
        return self.start <= start and (self.end is None or end <= self.end)

    def as_json(self) -> dict[str, Any]:
        """``{"from", "to"}`` in ISO 8601 UTC (``to`` null while still shared)."""
        return {"from": _iso(self.start), "to": None if self.end is None else _iso(self.end)}

    def text(self) -> str:
        """``2026-11-20T08:00:00+00:00 → 2026-11-20T10:00:00+00:00`` (or ``→ now``)."""
        return f"{_iso(self.start)} → {'now' if self.end is None else _iso(self.end)}"


def inside_shared_period(periods: Sequence[SharedPeriod], start: float, end: float) -> bool:
    """Whether ``[start, end)`` lies wholly inside one of ``periods`` (a straddling segment does not)."""
    return any(period.holds(start, end) for period in periods)


def shared_periods(registry: Registry, camera: str) -> tuple[SharedPeriod, ...]:
    """The periods in which the registry let ``camera``'s footage go to COP-BH, oldest first."""
    periods: list[SharedPeriod] = []
    opened: float | None = None
    for moment in registry.change_times(camera):
        snapshot = registry.snapshot_as_of(moment, camera)
        instant = dt.datetime.fromtimestamp(moment, dt.UTC)
        decision = decide(_LISTED, camera, ProgramName.COP_BH, True, instant, snapshot)
        shared = not set(decision.reasons) - CONFIG_REASONS
        if shared and opened is None:
            opened = moment
        elif not shared and opened is not None:
            periods.append(SharedPeriod(opened, moment))
            opened = None
    if opened is not None:
        periods.append(SharedPeriod(opened, None))
    return tuple(periods)
