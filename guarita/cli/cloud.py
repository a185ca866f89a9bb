"""``guarita cloud status``: per camera, what the cloud copy holds and for which periods.

Read from the store (what the uploader recorded complete, and the consent registry), not the
bucket: per camera the objects and bytes, the oldest and newest object, the lag (now minus the
end of the newest segment in the bucket), whether the config lets it upload now, the periods
the stored footage covers (segments less than ``STORED_GAP_S`` apart joined), the periods in
which the camera was shared with cop_bh (``shared_periods``), and the objects lying outside
them, which the next cloud sweep deletes unless a legal hold covers them. Every time is UTC.

Covers: BH-03, BH-06, BH-07.
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from guarita.cli.common import SubParsers, cli_config, emit, guarded, json_option, open_store
from guarita.consent.registry import Registry
from guarita.consent.share_history import shared_periods
from guarita.retention.cloud import cop_bh_cameras
from guarita.retention.cloud_sweep import objects_outside
from guarita.retention.footage import RetentionError, iso
from guarita.store import Store

__all__ = ["STORED_GAP_S", "add_cloud_commands", "cloud_status"]

STORED_GAP_S = 1.0  # segments closer than this count as one stretch of stored footage
TEXT_SPANS = 5  # stretches printed per camera; --json lists them all


def _stored_periods(store: Store, camera: str) -> list[dict[str, str]]:
    spans: list[list[float]] = []
    for start, end in store.db.execute(
        "SELECT start_utc, end_utc FROM cloud_objects WHERE camera = ? ORDER BY start_utc", (camera,)
    ):
        if spans and start <= spans[-1][1] + STORED_GAP_S:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    return [{"from": iso(start), "to": iso(end)} for start, end in spans]


def cloud_status(store: Store, registry: Registry, cameras: list[str], now: float) -> list[dict[str, Any]]:
    """One entry per camera the config uploads or the bucket holds: objects, periods, lag, objects outside."""
    rows = {row[0]: row[1:] for row in store.db.execute(
        "SELECT camera, COUNT(*), SUM(size), MIN(start_utc), MAX(start_utc), MAX(end_utc), SUM(masked) FROM cloud_objects "
        "GROUP BY camera")}
    status = []
    for camera in sorted(set(cameras) | set(rows)):
        count, size, oldest, newest, last_end, masked = rows.get(camera, (0, 0, None, None, None, 0))
        periods = shared_periods(registry, camera)
        outside = objects_outside(store, camera, periods) if count else []
        status.append({
            "camera": camera, "uploading": camera in cameras, "objects": int(count), "bytes": int(size or 0),
            "masked_objects": int(masked or 0),  # masked before upload (a camera with privacy_masks)
            "oldest": None if oldest is None else iso(oldest), "newest": None if newest is None else iso(newest),
            "lag_s": None if last_end is None else round(max(0.0, now - last_end), 1),
            "stored_periods": _stored_periods(store, camera) if count else [],
            "shared_periods": [period.as_json() for period in periods],
            "outside_shared_periods": {"objects": len(outside), "bytes": sum(int(row[3]) for row in outside)},
        })
    return status


def _spans(periods: list[dict[str, Any]]) -> str:
    spans = [f"{p['from']} → {p['to'] or 'now'}" for p in periods[:TEXT_SPANS]]
    more = f" and {len(periods) - TEXT_SPANS} more (--json lists all)" if len(periods) > TEXT_SPANS else ""
    return ", ".join(spans) + more


def _text(status: list[dict[str, Any]], bucket: str, days: int) -> str:
    lines = [f"cloud copy to bucket {bucket} (keep {days} days; times UTC):"]
    for entry in status:
        lag = "nothing uploaded yet" if entry["lag_s"] is None else f"lag {entry['lag_s']:.0f} s"
        uploading = "" if entry["uploading"] else "; not uploading (the config does not share it with cop_bh now)"
        lines.append(f"  {entry['camera']}: {entry['objects']} objects, {entry['bytes'] / 1e6:.1f} MB, "
                     f"{entry['oldest'] or '-'} → {entry['newest'] or '-'}, {lag}{uploading}")
        if entry["stored_periods"]:
            lines.append(f"    stored: {_spans(entry['stored_periods'])}")
        shared = entry["shared_periods"]
        lines.append(f"    shared with cop_bh {_spans(shared)}" if shared else "    never shared with cop_bh")
        outside = entry["outside_shared_periods"]
        if outside["objects"]:
            lines.append(f"    {outside['objects']} objects ({outside['bytes'] / 1e6:.1f} MB) lie outside those periods: "
                         "the next cloud sweep deletes them unless a legal hold covers them")
    if not status:
        lines.append("  no camera is shared with cop_bh")
    return "\n".join(lines)


def _cmd_status(args: argparse.Namespace) -> int:
    config = cli_config(args)
    cloud = config.retention.cloud
    if cloud is None:
        raise RetentionError("this config has no `retention.cloud` section: there is no cloud copy (docs/retention.md)")
    now = dt.datetime.now(dt.UTC).timestamp()
    with open_store(config) as store:
        status = cloud_status(store, Registry.for_config(config, store), cop_bh_cameras(config), now)
    emit(args, _text(status, cloud.bucket, cloud.days), {"bucket": cloud.bucket, "days": cloud.days, "cameras": status})
    return 0


def add_cloud_commands(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    """Register ``cloud status``."""
    cloud = sub.add_parser("cloud", help="the cloud copy of cop_bh cameras' recordings")
    cloud_sub = cloud.add_subparsers(dest="cloud_command", required=True)
    status = cloud_sub.add_parser("status", parents=[common, json_option()],
                                  help="per camera: objects, bytes, oldest and newest, lag, shared periods")
    status.set_defaults(func=guarded(_cmd_status))
