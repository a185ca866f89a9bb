"""Deleting cloud objects that may not stay, unless a legal hold covers them.

Two kinds go, both found in the store's index (``cloud_objects``):

* objects **outside every shared period** of their camera (``shared_periods``, from the
  registry's history), whatever their age: footage that should never have been uploaded
  (a camera never shared, or footage from before a consent or after its end). Each one
  deleted gets its own audit entry (``cloud.delete_unshared``, subject the object key);
* objects past ``retention.cloud.days``: ``RetentionPolicy.decide`` judges each one (policy
  days, holds by camera and window); one ``retention.sweep`` entry (subject ``cloud_copy``)
  per sweep that deleted any.

Not every S3-compatible store enforces lifecycle rules, so Guarita deletes its own objects.
The objects go first (a missing key counts as deleted), then their rows with the audit
entries in one transaction, so a crash in between only means the next sweep deletes them again.

Covers: PB-04, BH-03, BH-06, BH-07, BH-10, BH-11.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from guarita import audit
from guarita.consent.registry import Registry
from guarita.consent.share_history import SharedPeriod, shared_periods
from guarita.retention._s3 import CloudError, S3Access, open_bucket
from guarita.retention.footage import FootageSource, iso
from guarita.retention.holds import HoldBook
from guarita.retention.policy import DAY_S, Footage, FootageKind, RetentionPolicy
from guarita.store import Store

__all__ = ["CloudSweep", "objects_outside", "sweep_cloud"]

log = logging.getLogger(__name__)


@dataclass
class CloudSweep:
    """What a cloud sweep deleted (or, in a dry run, would delete)."""

    now: float
    cutoff: float
    days: int
    dry_run: bool
    objects: int = 0  # every object deleted, the unshared ones included
    bytes: int = 0
    held: int = 0  # past the policy, kept by a hold
    unshared: int = 0  # deleted because outside every shared period of their camera
    unshared_bytes: int = 0
    unshared_held: int = 0  # outside every shared period, kept by a hold
    errors: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The ``cloud`` part of ``guarita retention sweep --json``."""
        return {"now": iso(self.now), "cutoff": iso(self.cutoff), "days": self.days, "dry_run": self.dry_run,
                "deleted_objects": self.objects, "deleted_bytes": self.bytes, "held_objects": self.held,
                "deleted_unshared_objects": self.unshared, "deleted_unshared_bytes": self.unshared_bytes,
                "held_unshared_objects": self.unshared_held, "errors": self.errors}

    def text(self) -> str:
        """One line for the sweep report."""
        verb = "would delete" if self.dry_run else "deleted"
        return (f"cloud copy (keep {self.days} days, cutoff {iso(self.cutoff)}): {verb} {self.objects} objects "
                f"({self.bytes / 1e6:.1f} MB); {self.held} held; outside shared periods: {self.unshared} "
                f"{'to delete' if self.dry_run else 'deleted'}, {self.unshared_held} held")


@dataclass(frozen=True)
class _Doomed:
    key: str
    camera: str
    start: float
    end: float
    size: int
    periods: tuple[SharedPeriod, ...] | None = None  # set when it goes for being outside them


def objects_outside(store: Store, camera: str, periods: tuple[SharedPeriod, ...]) -> list[tuple[Any, ...]]:
    """``camera``'s objects not wholly inside one of ``periods``: (key, start, end, size) rows, oldest first."""
    inside = " OR ".join("(start_utc >= ? AND end_utc <= ?)" if p.end is not None else "(start_utc >= ?)"
                         for p in periods)
    args = [x for p in periods for x in ((p.start,) if p.end is None else (p.start, p.end))]
    condition = f" AND NOT ({inside})" if periods else ""
    return store.db.execute(f"SELECT key, start_utc, end_utc, size FROM cloud_objects WHERE camera = ?{condition} "
                            "ORDER BY start_utc", (camera, *args)).fetchall()


def _unshared(
    store: Store, registry: Registry, holds: HoldBook, report: CloudSweep
) -> tuple[dict[str, _Doomed], set[str]]:
    """The objects outside every shared period of their camera: those not held, and the keys of those held."""
    doomed: dict[str, _Doomed] = {}
    held: set[str] = set()
    cameras = [row[0] for row in store.db.execute("SELECT DISTINCT camera FROM cloud_objects ORDER BY camera")]
    for camera in cameras:
        periods = shared_periods(registry, camera)
        for key, start, end, size in objects_outside(store, camera, periods):
            if holds.holding(FootageSource(camera=camera), start, end):
                report.unshared_held += 1
                held.add(key)
            else:
                doomed[key] = _Doomed(key, camera, start, end, size, periods)
    return doomed, held


async def sweep_cloud(
    store: Store,
    policy: RetentionPolicy,
    access: S3Access,
    *,
    now: dt.datetime,
    holds: HoldBook,
    registry: Registry,
    dry_run: bool = False,
    actor: str = "guarita",
) -> CloudSweep:
    """Delete the cloud objects outside shared periods, and those ``policy`` lets go at ``now``; held ones stay."""
    days = policy.days(FootageKind.CLOUD_OBJECT)
    stamp = now.timestamp()
    report = CloudSweep(now=stamp, cutoff=stamp - days * DAY_S, days=days, dry_run=dry_run)
    doomed, held = _unshared(store, registry, holds, report)
    rows = store.db.execute(
        "SELECT key, camera, start_utc, end_utc, size FROM cloud_objects WHERE end_utc < ? ORDER BY end_utc",
        (report.cutoff,),
    ).fetchall()
    for key, camera, start, end, size in rows:
        if key in doomed or key in held:  # judged above already
            continue
        decision = policy.decide(Footage(FootageKind.CLOUD_OBJECT, FootageSource(camera=camera), start, end), now, holds)
        if decision.may_delete:
            doomed[key] = _Doomed(key, camera, start, end, size)
        elif decision.holds:
            report.held += 1
    if not dry_run and doomed:
        try:
            async with open_bucket(access) as bucket:
                failed = set(await bucket.delete(list(doomed)))
        except CloudError as exc:
            report.errors.append(str(exc))
            failed = set(doomed)
        report.errors += [f"{key}: not deleted" for key in sorted(failed) if len(report.errors) < 20]
        doomed = {key: item for key, item in doomed.items() if key not in failed}
    unshared = [item for item in doomed.values() if item.periods is not None]
    report.objects = len(doomed)
    report.bytes = sum(item.size for item in doomed.values())
    report.unshared = len(unshared)
    report.unshared_bytes = sum(item.size for item in unshared)
    if not dry_run and doomed:
        with store.transaction() as db:
            db.executemany("DELETE FROM cloud_objects WHERE key = ?", [(key,) for key in doomed])
            for item in unshared:
                audit.append(db, at=stamp, actor=actor, action="cloud.delete_unshared", subject=item.key, details={
                    "camera": item.camera, "start": iso(item.start), "end": iso(item.end), "bytes": item.size,
                    "reason": "outside every period the camera was shared with cop_bh",
                    "shared_periods": [p.as_json() for p in item.periods or ()],
                })
            if report.objects > report.unshared:
                audit.append(db, at=stamp, actor=actor, action="retention.sweep", subject="cloud_copy",
                             details=report.as_json())
    log.info("cloud sweep%s: %d objects (%.1f MB), %d held, cutoff %s; outside shared periods: %d, %d held",
             " (dry run)" if dry_run else "", report.objects, report.bytes / 1e6, report.held, iso(report.cutoff),
             report.unshared, report.unshared_held)
    return report
