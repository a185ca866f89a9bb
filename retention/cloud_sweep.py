"""Deleting cloud objects past ``retention.cloud.days``, unless a legal hold covers them.

Not every S3-compatible store enforces lifecycle rules, so Guarita deletes its own objects.
Candidates come from the store's index (``cloud_objects`` by ``end_utc``), and
``RetentionPolicy.decide`` judges each one (policy days, holds by camera and window). The
objects go first (a missing key counts as deleted), then their rows, so a crash in between
only means the next sweep deletes them again. A sweep that deleted something is in the
audit log (``retention.sweep``, subject ``cloud_copy``).

Covers: PB-04, BH-06, BH-11.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from guarita import audit
from guarita.retention._s3 import CloudError, S3Access, open_bucket
from guarita.retention.footage import FootageSource, iso
from guarita.retention.holds import HoldBook
from guarita.retention.policy import DAY_S, Footage, FootageKind, RetentionPolicy
from guarita.store import Store

__all__ = ["CloudSweep", "sweep_cloud"]

log = logging.getLogger(__name__)


@dataclass
class CloudSweep:
    """What a cloud sweep deleted (or, in a dry run, would delete)."""

    now: float
    cutoff: float
    days: int
    dry_run: bool
    objects: int = 0
    bytes: int = 0
    held: int = 0
    errors: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The ``cloud`` part of ``guarita retention sweep --json``."""
        return {"now": iso(self.now), "cutoff": iso(self.cutoff), "days": self.days, "dry_run": self.dry_run,
                "deleted_objects": self.objects, "deleted_bytes": self.bytes, "held_objects": self.held,
                "errors": self.errors}

    def text(self) -> str:
        """One line for the sweep report."""
        verb = "would delete" if self.dry_run else "deleted"
        return (f"cloud copy (keep {self.days} days, cutoff {iso(self.cutoff)}): {verb} {self.objects} objects "
                f"({self.bytes / 1e6:.1f} MB); {self.held} held")


async def sweep_cloud(
    store: Store,
    policy: RetentionPolicy,
    access: S3Access,
    *,
    now: dt.datetime,
    holds: HoldBook,
    dry_run: bool = False,
    actor: str = "guarita",
) -> CloudSweep:
    """Delete the cloud objects ``policy`` lets go at ``now``; held ones stay."""
    days = policy.days(FootageKind.CLOUD_OBJECT)
    stamp = now.timestamp()
    report = CloudSweep(now=stamp, cutoff=stamp - days * DAY_S, days=days, dry_run=dry_run)
    rows = store.db.execute(
        "SELECT key, camera, start_utc, end_utc, size FROM cloud_objects WHERE end_utc < ? ORDER BY end_utc",
        (report.cutoff,),
    ).fetchall()
    doomed: dict[str, int] = {}
    for key, camera, start, end, size in rows:
        decision = policy.decide(Footage(FootageKind.CLOUD_OBJECT, FootageSource(camera=camera), start, end), now, holds)
        if decision.may_delete:
            doomed[key] = size
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
        gone = [key for key in doomed if key not in failed]
        doomed = {key: doomed[key] for key in gone}
    report.objects = len(doomed)
    report.bytes = sum(doomed.values())
    if not dry_run and doomed:
        with store.transaction() as db:
            db.executemany("DELETE FROM cloud_objects WHERE key = ?", [(key,) for key in doomed])
            audit.append(db, at=stamp, actor=actor, action="retention.sweep", subject="cloud_copy",
                         details=report.as_json())
    log.info("cloud sweep%s: %d objects (%.1f MB), %d held, cutoff %s", " (dry run)" if dry_run else "",
             report.objects, report.bytes / 1e6, report.held, iso(report.cutoff))
    return report
