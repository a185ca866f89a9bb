"""``guarita views list``: the live views and playbacks of shared cameras, read from the audit log.

Every view is a ``video.view.start`` entry and, once over, a ``video.view.end`` entry
(``guarita.video.views``), so the list needs no running process: a view is open while it has
a start, no end, and an expiry still ahead (a view of a process that stopped without writing
its end drops out at its expiry). ``--ended`` adds the views that ended in the last
``--hours`` (default 24) with why, how long and the bytes sent. Playbacks
(``video.playback.start``/``ready``/``end``, ``guarita.video.playback``) are listed the same way,
after the views, with the window they play, their ``state`` (``building`` until the ``ready``
entry, which brings the served periods, the gaps and the new expiry; ``ended`` or ``failed``
once over). A playback asked over MQTT (``guarita.video.mqtt_requests``) is one entry,
``video.playback.urls``: the cloud copy's presigned addresses were handed out; it is listed
with ``state: urls`` and its number of segments, open while the addresses are valid (5 minutes)
and ended at their expiry (no bytes sent: the bucket serves them). Times are UTC.

Covers: BH-07, BH-09, BH-11.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

from guarita.cli.common import SubParsers, cli_config, emit, guarded, json_option, open_store
from guarita.store import Store
from guarita.video.cloud_playback import PLAYBACK_URLS_ACTION

__all__ = ["URLS", "add_views_commands", "playbacks_from_audit", "views_from_audit"]

URLS = "urls"
"""``video.playback.urls``: a playback over MQTT, whose one event is handing out the cloud copy's addresses."""


def _iso(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment, dt.UTC).isoformat(timespec="seconds")


def views_from_audit(store: Store, now: float, *, ended_since: float | None = None) -> list[dict[str, Any]]:
    """Open views (and, with ``ended_since``, those ended after it), oldest first."""
    return _from_audit(store, now, "view", ended_since)


def playbacks_from_audit(store: Store, now: float, *, ended_since: float | None = None) -> list[dict[str, Any]]:
    """Open playbacks (and, with ``ended_since``, those ended after it), oldest first, with their windows."""
    return _from_audit(store, now, "playback", ended_since)


def _from_audit(store: Store, now: float, kind: str, ended_since: float | None) -> list[dict[str, Any]]:
    views: dict[str, dict[str, Any]] = {}
    rows = store.db.execute(
        "SELECT at, actor, action, subject, details FROM audit_log WHERE action IN (?, ?, ?, ?) ORDER BY seq",
        (f"video.{kind}.start", f"video.{kind}.end", f"video.{kind}.ready", PLAYBACK_URLS_ACTION),
    )
    for at, actor, action, subject, details_text in rows:
        details = json.loads(details_text)
        view_id = str(details.get(kind, ""))
        if action == PLAYBACK_URLS_ACTION:
            views[view_id] = _urls_playback(view_id, float(at), actor, subject, details, now)
        elif action.endswith(".start"):
            views[view_id] = {
                kind: view_id, "camera": subject, "holder": actor, "role": details.get("role"),
                "agency": details.get("agency"), "reason": details.get("reason"), "opened_at": _iso(float(at)),
                "expires_at": _iso(float(details.get("expires", at))), "_expires": float(details.get("expires", at)),
                "ended_at": None, "why": None, "duration_s": None, "bytes_sent": None,
                **({"window": details.get("window"), "state": details.get("state", "ready"),
                    "periods": details.get("periods", []), "gaps": details.get("gaps")}
                   if kind == "playback" else {}),
            }
        elif action.endswith(".ready") and view_id in views:  # a playback built: what it serves, its new expiry
            views[view_id] |= {"state": "ready", "periods": details.get("periods"), "gaps": details.get("gaps"),
                               "expires_at": _iso(float(details["expires"])), "_expires": float(details["expires"])}
        elif view_id in views:
            if "state" in details and kind == "playback":
                views[view_id]["state"] = details["state"] if details["state"] == "failed" else "ended"
            views[view_id] |= {"ended_at": _iso(float(at)), "_ended": float(at), "why": details.get("why"),
                               "duration_s": details.get("duration_s"), "bytes_sent": details.get("bytes_sent")}
    chosen = []
    for view in views.values():
        ended = view.pop("_ended", None)
        expires = view.pop("_expires")
        if ended is None and expires > now:
            chosen.append(view)
        elif ended is not None and ended_since is not None and ended >= ended_since:
            chosen.append(view)
    return chosen


def _urls_playback(ident: str, at: float, actor: str, camera: str, details: dict[str, Any],
                   now: float) -> dict[str, Any]:
    """A playback answered over MQTT with the cloud copy's addresses: open while they are valid, then over."""
    expires = float(details.get("expires", at))
    over = expires <= now
    return {
        "playback": ident, "camera": camera, "holder": actor, "role": details.get("role"),
        "agency": details.get("agency"), "reason": details.get("reason"), "opened_at": _iso(at),
        "expires_at": _iso(expires), "_expires": expires, "window": details.get("window"), "state": URLS,
        "periods": [], "gaps": None, "segments": details.get("segments"),
        "ended_at": _iso(expires) if over else None, "why": "its addresses expired" if over else None,
        "duration_s": expires - at if over else None, "bytes_sent": None,  # the bucket sends the bytes, not Guarita
        **({"_ended": expires} if over else {}),
    }


def _text(views: list[dict[str, Any]], playbacks: list[dict[str, Any]]) -> str:
    lines = [] if views or playbacks else ["no live views or playbacks"]
    for v in views:
        lines.append(_line(v, v["view"], ""))
    for p in playbacks:
        window = p.get("window") or {}
        building = {"building": "(building)  ", URLS: f"({p.get('segments')} cloud segment addresses)  "}.get(
            p.get("state") or "", "")
        lines.append(_line(p, p["playback"], f"playback of {window.get('from')} → {window.get('to')}  {building}"))
    return "\n".join(lines)


def _line(v: dict[str, Any], ident: str, what: str) -> str:
    who = v["holder"] + (f" (agency {v['agency']})" if v["agency"] else "") + f", {v['role']}"
    sent = "" if v["bytes_sent"] is None else f", {v['bytes_sent']} bytes"
    state = (f"ended {v['ended_at']} ({v['why']}; {v['duration_s']:.0f} s{sent})"
             if v["ended_at"] else f"open until {v['expires_at']}")
    return f"{ident}  {v['camera']}  {what}by {who}  since {v['opened_at']}  {state}\n    reason: {v['reason']}"


def _cmd_list(args: argparse.Namespace) -> int:
    config = cli_config(args)
    now = dt.datetime.now(dt.UTC).timestamp()
    with open_store(config) as store:
        since = now - args.hours * 3600 if args.ended else None
        views = views_from_audit(store, now, ended_since=since)
        playbacks = playbacks_from_audit(store, now, ended_since=since)
    emit(args, _text(views, playbacks), {"views": views, "playbacks": playbacks})
    return 0


def add_views_commands(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    """Register ``views list``."""
    views = sub.add_parser("views", help="live views of shared cameras (docs/video.md)")
    views_sub = views.add_subparsers(dest="views_command", required=True)
    listing = views_sub.add_parser("list", parents=[common, json_option()],
                                   help="open live views and playbacks: camera, who, reason, since, until")
    listing.add_argument("--ended", action="store_true", help="also the views and playbacks that ended in the last --hours")
    listing.add_argument("--hours", type=float, default=24.0, help="how far back --ended looks (default 24)")
    listing.set_defaults(func=guarded(_cmd_list))
