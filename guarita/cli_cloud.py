"""``guarita cloud status``: how far the cloud copy of each cop_bh camera has got.

Read from the store (what the uploader recorded complete), not the bucket: per camera the
objects and bytes, the oldest and newest object, and the lag (now minus the end of the
newest segment in the bucket).

Covers: BH-06.
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from guarita.cli_common import SubParsers, cli_config, emit, guarded, json_option, open_store
from guarita.retention.cloud import cop_bh_cameras
from guarita.retention.footage import RetentionError, iso
from guarita.store import Store

__all__ = ["add_cloud_commands", "cloud_status"]


def cloud_status(store: Store, cameras: list[str], now: float) -> list[dict[str, Any]]:
    """One entry per camera: objects, bytes, oldest and newest object start, lag in seconds."""
    rows = {row[0]: row[1:] for row in store.db.execute(
        "SELECT camera, COUNT(*), SUM(size), MIN(start_utc), MAX(start_utc), MAX(end_utc) FROM cloud_objects "
        "GROUP BY camera")}
    status = []
    for camera in sorted(set(cameras) | set(rows)):
        count, size, oldest, newest, last_end = rows.get(camera, (0, 0, None, None, None))
        status.append({
            "camera": camera, "objects": int(count), "bytes": int(size or 0),
            "oldest": None if oldest is None else iso(oldest), "newest": None if newest is None else iso(newest),
            "lag_s": None if last_end is None else round(max(0.0, now - last_end), 1),
        })
    return status


def _text(status: list[dict[str, Any]], bucket: str) -> str:
    lines = [f"cloud copy to bucket {bucket}:"]
    for entry in status:
        lag = "nothing uploaded yet" if entry["lag_s"] is None else f"lag {entry['lag_s']:.0f} s"
        lines.append(f"  {entry['camera']}: {entry['objects']} objects, {entry['bytes'] / 1e6:.1f} MB, "
                     f"{entry['oldest'] or '-'} → {entry['newest'] or '-'}, {lag}")
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
        status = cloud_status(store, cop_bh_cameras(config), now)
    emit(args, _text(status, cloud.bucket), {"bucket": cloud.bucket, "days": cloud.days, "cameras": status})
    return 0


def add_cloud_commands(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    """Register ``cloud status``."""
    cloud = sub.add_parser("cloud", help="the cloud copy of cop_bh cameras' recordings")
    cloud_sub = cloud.add_subparsers(dest="cloud_command", required=True)
    status = cloud_sub.add_parser("status", parents=[common, json_option()],
                                  help="per camera: lag, bytes, oldest and newest object")
    status.set_defaults(func=guarded(_cmd_status))
