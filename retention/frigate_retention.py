"""Does Frigate keep every cop_bh camera's footage at least ``retention.cop_bh_days``? Fix it if not.

Frigate deletes its recordings on its own schedule (contract §5), so the seven days COP-BH
is promised (PB-04, BH-06) hold only if Frigate's config says so. Per camera shared with
cop_bh, from ``/api/version`` and ``/api/config``:

* recording is enabled (``record.enabled``);
* every kind of footage lives long enough, as Frigate's cleanup (contract §5) deletes it:
  footage without motion (0.17 ``record.continuous.days``; 0.14–0.16 ``record.retain.days``
  with ``mode: all``, since ``motion`` and ``active_objects`` drop it), footage with motion
  (0.17 ``max(record.motion.days, record.continuous.days)``; older ``record.retain.days``), and
  footage around review items (0.15+ ``record.alerts.retain.days`` and
  ``record.detections.retain.days``; 0.14 ``record.events.retain.default`` and each
  ``record.events.retain.objects.<label>``).

``fix_retention`` writes every failing key, in the version's own schema (0.17 never gets
``record.retain``, older ones never ``continuous``/``motion``; on 0.17 both ``continuous`` and a
short ``motion`` are written, raising only ``motion`` would leave footage without motion at the
``continuous`` days), per camera, with
``PUT /api/config/set`` (JSON body, Frigate 0.16+). Frigate 0.14/0.15 take API config changes
only as a query string; there the fix is refused and the keys to set are printed instead.
``guarita run`` checks daily and keeps a warning in ``/healthz`` while a camera falls short.

Covers: PB-04, BH-06.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from guarita.frigate_check import frigate_client
from guarita.config import GuaritaConfig, ProgramName
from guarita.frigate import FrigateClient, FrigateConfig, FrigateVersion, RecordSettings, RetainMode
from guarita.frigate_check import keep_checking
from guarita.retention.footage import RetentionError

__all__ = ["CameraRetention", "RetentionReport", "assess_retention", "check_retention", "fix_retention",
           "run_retention_checks", "shared_cameras"]

log = logging.getLogger(__name__)

JSON_SET_SINCE = (0, 16)


@dataclass(frozen=True)
class CameraRetention:
    """One shared camera's footage lifetime in Frigate, and the keys that would fix it."""

    camera: str
    in_frigate: bool
    recording: bool = False
    motion_days: float = 0
    review_days: dict[str, float] = field(default_factory=dict)
    problems: tuple[str, ...] = ()
    fix: dict[str, Any] = field(default_factory=dict)
    continuous_days: float = 0

    @property
    def compliant(self) -> bool:
        """True when Frigate keeps this camera's footage long enough."""
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        """The camera's part of ``guarita retention check --json``."""
        return {"camera": self.camera, "in_frigate": self.in_frigate, "recording": self.recording,
                "continuous_days": self.continuous_days, "motion_days": self.motion_days, "review_days": self.review_days, "compliant": self.compliant,
                "problems": list(self.problems), "fix": {"record": self.fix} if self.fix else None}


@dataclass(frozen=True)
class RetentionReport:
    """Every shared camera's verdict against the policy, for one Frigate version."""

    version: str
    required_days: int
    cameras: tuple[CameraRetention, ...]

    @property
    def compliant(self) -> bool:
        """True when every shared camera's footage lives long enough."""
        return all(camera.compliant for camera in self.cameras)

    def warnings(self) -> list[str]:
        """One line per camera that falls short (``/healthz`` and the log)."""
        return [f"retention: Frigate camera {c.camera}: {'; '.join(c.problems)}" for c in self.cameras if c.problems]

    def as_json(self) -> dict[str, Any]:
        """``guarita retention check --json``."""
        return {"frigate_version": self.version, "required_days": self.required_days, "compliant": self.compliant,
                "cameras": [camera.as_json() for camera in self.cameras]}


def shared_cameras(config: GuaritaConfig) -> list[str]:
    """Cameras in the cop_bh program, whose footage the city is promised for seven days."""
    return [name for name, camera in config.cameras.items() if ProgramName.COP_BH in camera.programs]


def _whole(days: float) -> int | float:
    return int(days) if float(days).is_integer() else days


def _review_days(record: RecordSettings, days: int, problems: list[str], fix: dict[str, Any]) -> dict[str, float]:
    """Footage kept around review items: 0.15+ alerts/detections, 0.14 ``record.events``."""
    reviews: dict[str, float] = {}
    for severity in ("alerts", "detections"):
        review = getattr(record, severity)
        if review is not None:
            reviews[severity] = review.retain.days
            if review.retain.days < days:
                problems.append(f"record.{severity}.retain.days is {_whole(review.retain.days)}, below {days}")
                fix[severity] = {"retain": {"days": days}}
    if record.events is not None:
        retain = record.events.retain
        reviews["events"] = min([retain.default, *retain.objects.values()])
        events_fix: dict[str, Any] = {}
        if retain.default < days:
            problems.append(f"record.events.retain.default is {_whole(retain.default)}, below {days}")
            events_fix["default"] = days
        short = {label: kept for label, kept in retain.objects.items() if kept < days}
        for label, kept in short.items():
            problems.append(f"record.events.retain.objects.{label} is {_whole(kept)}, below {days}")
        if short:
            events_fix["objects"] = {label: days for label in short}
        if events_fix:
            fix["events"] = {"retain": events_fix}
    return reviews


def _assess_record(
    record: RecordSettings, minor: int, days: int
) -> tuple[float, float, dict[str, float], list[str], dict[str, Any]]:
    """Continuous and motion footage lifetimes, review lifetimes, problems and the fix, in ``0.<minor>`` keys."""
    problems: list[str] = []
    fix: dict[str, Any] = {}
    if not record.enabled:
        problems.append("recording is disabled (record.enabled: false)")
        fix["enabled"] = True
    if minor >= 17:
        continuous, motion_key = record.continuous_days, record.motion_days
        motion = max(motion_key, continuous)  # Frigate's cleanup: motion footage goes after max(motion, continuous)
        if continuous < days:
            problems.append(f"record.continuous.days is {_whole(continuous)}, below {days}: footage without "
                            f"motion is deleted after {_whole(continuous)} days")
            fix["continuous"] = {"days": days}
        if motion < days:
            problems.append(f"record.motion.days is {_whole(motion_key)}, below {days}")
        if problems and motion_key < days:
            fix["motion"] = {"days": days}
    else:
        retain = record.retain
        kept = retain.days if retain is not None else 0
        mode = retain.mode if retain is not None else None
        motion = kept
        continuous = kept if mode is RetainMode.ALL else 0
        if kept < days:
            problems.append(f"record.retain.days is {_whole(kept)}, below {days}")
        if mode is not RetainMode.ALL:
            dropped = ("footage without a tracked object" if mode is RetainMode.ACTIVE_OBJECTS
                       else "footage without motion")
            problems.append(f"record.retain.mode is {mode.value if mode else 'unset'}, not all: {dropped} is "
                            "not kept")
        if kept < days or mode is not RetainMode.ALL:
            fix["retain"] = {"days": max(_whole(kept), days), "mode": RetainMode.ALL.value}
    reviews = _review_days(record, days, problems, fix)
    return continuous, motion, reviews, problems, fix


def assess_retention(config: GuaritaConfig, version: FrigateVersion, frigate: FrigateConfig) -> RetentionReport:
    """Judge each shared camera's ``record`` section (no I/O)."""
    days = config.retention.cop_bh_days
    cameras = []
    for name in shared_cameras(config):
        settings = frigate.cameras.get(name)
        if settings is None:
            cameras.append(CameraRetention(name, False, problems=("Frigate has no camera by this name",)))
            continue
        continuous, motion, reviews, problems, fix = _assess_record(settings.record, version.minor, days)
        cameras.append(CameraRetention(name, True, settings.record.enabled, motion, reviews, tuple(problems), fix,
                                       continuous_days=continuous))
    return RetentionReport(str(version.raw), days, tuple(cameras))


async def check_retention(client: FrigateClient, config: GuaritaConfig) -> tuple[FrigateVersion, RetentionReport]:
    """Ask Frigate for its version and config and judge them.

    Raises:
        FrigateError: Frigate could not be asked.
    """
    version = await client.version()
    return version, assess_retention(config, version, await client.config())


def _dotted(prefix: str, value: Any) -> list[str]:
    if isinstance(value, dict):
        return [line for key, inner in value.items() for line in _dotted(f"{prefix}.{key}", inner)]
    return [f"{prefix}: {str(value).lower() if isinstance(value, bool) else value}"]


async def fix_retention(client: FrigateClient, version: FrigateVersion, report: RetentionReport) -> str | None:
    """Write the failing keys to Frigate; return its message (None when nothing needed fixing).

    Raises:
        RetentionError: Frigate older than 0.16 (no JSON form), a camera Frigate lacks, or
            Frigate answered ``success: false``.
        FrigateError: Frigate could not be reached or refused the change (400).
    """
    fixes = {c.camera: {"record": c.fix} for c in report.cameras if c.fix}
    missing = [c.camera for c in report.cameras if not c.in_frigate]
    if not fixes and not missing:
        return None
    if version.release[:2] < JSON_SET_SINCE:
        keys = [line for camera, body in fixes.items() for line in _dotted(f"cameras.{camera}", body)]
        raise RetentionError(
            f"Frigate {version.raw} takes config changes over its API only as a query string, which Guarita does "
            "not send; set these keys in Frigate's config editor and restart it: " + "; ".join(keys)
        )
    answer = await client.set_config({"requires_restart": 1, "update_topic": None,
                                      "config_data": {"cameras": fixes}}) if fixes else {"success": True}
    if answer.get("success") is not True:
        raise RetentionError(f"Frigate did not take the retention change: {answer.get('message') or answer}")
    message = str(answer.get("message", "")) or "no change sent"
    if missing:
        message += f"; cameras Frigate does not have (add them first): {', '.join(missing)}"
    return message


async def run_retention_checks(config: GuaritaConfig, warnings: list[str], stop: asyncio.Event) -> None:
    """``guarita run``'s daily check; ``warnings`` holds one line per camera that falls short."""
    if not shared_cameras(config):
        return
    async with aiohttp.ClientSession() as session:
        client = frigate_client(config, session)

        async def shortfalls() -> list[str]:
            _, report = await check_retention(client, config)
            return report.warnings()

        await keep_checking("retention", shortfalls, warnings, stop)
