"""The console's overview: each uplink's link, outbox depth and last delivery, Frigate's link,
and the alarms (outbox quota, quarantine, audit chain), live.

The values come from the same functions as the API's ``GET /summary``
(``guarita.web.api_summary``). The page shows them as rendered; ``GET /console/events`` is
a server-sent event stream sending, once a second when something changed, each value's
words by element id, which ``static/console.js`` writes into the page (no reload, and
nothing but text is written). The audit chain is re-checked every ``AUDIT_RECHECK_S``
seconds, not every second. The stream ends when the server stops or the session has been
idle past ``web.session_idle_minutes``.

Covers: BH-03, BH-09, DT-16, PB-08.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from datetime import datetime

from aiohttp import web

from guarita.local_time import local_zone, shown
from guarita.outbox import QuotaLevel
from guarita.web.api_http import API_STORE
from guarita.web.api_summary import API_LIVE, AuditStateModel, LinkModel, audit_state, link_model, uplink_models
from guarita.web.api_vehicle_events import API_OUTBOX
from guarita.web.console.auth import page
from guarita.web.console.render import SECURITY_HEADERS, render, translator
from guarita.web.console.session import Operator, get_session, operator_of, session_expired
from guarita.web.console.state import CONSOLE_STOP, api_of, config_of, store_of
from guarita.web.i18n import Translator

__all__ = ["AUDIT_RECHECK_S", "TICK_S", "Overview", "add_overview_routes", "overview"]

TICK_S = 1.0
AUDIT_RECHECK_S = 30.0


@dataclass(frozen=True)
class Cell:
    """One value of the page: its element id, its words, and a state for its colour."""

    id: str
    text: str
    state: str = ""


@dataclass(frozen=True)
class UplinkRow:
    program: str
    link: Cell
    detail: Cell
    depth: Cell
    delivered: Cell
    last_delivery: Cell


@dataclass(frozen=True)
class Overview:
    """What the overview shows, as words."""

    frigate: Cell
    frigate_detail: Cell
    uplinks: list[UplinkRow]
    quota: Cell
    quarantined: Cell
    chain: Cell
    alarms: list[str] = field(default_factory=list)

    def cells(self) -> list[Cell]:
        rows = [c for u in self.uplinks for c in (u.link, u.detail, u.depth, u.delivered, u.last_delivery)]
        return [self.frigate, self.frigate_detail, *rows, self.quota, self.quarantined, self.chain]

    def document(self) -> dict[str, object]:
        """The live update: every cell's words and state by id, and the alarms."""
        return {"cells": {c.id: {"text": c.text, "state": c.state} for c in self.cells()}, "alarms": self.alarms}


def _link_cells(t: Translator, link: LinkModel, id_: str) -> tuple[Cell, Cell]:
    if link.up is None:
        state, words = "unknown", t("link.unknown")
    else:
        state, words = ("up", t("link.up")) if link.up else ("down", t("link.down"))
    return Cell(id_, words, state), Cell(f"{id_}-detail", link.detail or "")


def local_text(iso: str | None, t: Translator) -> str:
    """An ISO time in the local zone as ``2026-12-07 09:15:02 -03:00``, or the words for never."""
    if iso is None:
        return t("never")
    return shown(datetime.fromisoformat(iso), local_zone())


def overview(app: web.Application, t: Translator, chain: AuditStateModel) -> Overview:
    """The overview of the API application ``app`` now (``chain``: the audit check to show)."""
    live = app[API_LIVE]() if API_LIVE in app else None
    frigate, frigate_detail = _link_cells(t, link_model(live, "frigate"), "frigate-link")
    rows = []
    alarms = []
    for uplink in uplink_models(app, live):
        key = f"uplink-{uplink.program}"
        link, detail = _link_cells(t, uplink.link, f"{key}-link")
        rows.append(UplinkRow(
            program=uplink.program, link=link, detail=detail,
            depth=Cell(f"{key}-depth", str(uplink.outbox_depth)),
            delivered=Cell(f"{key}-delivered", "—" if uplink.delivered is None else str(uplink.delivered)),
            last_delivery=Cell(f"{key}-last", local_text(uplink.last_delivery, t)),
        ))
    outbox = app[API_OUTBOX]
    ratio = outbox.pending_bytes / outbox.quota_bytes if outbox.quota_bytes else 0.0
    level = outbox.level
    quota = Cell("outbox-quota", t("quota.value", percent=f"{ratio * 100:.1f}", level=t(f"quota.{level.value}")),
                 "ok" if level is QuotaLevel.OK else "down")
    if level is not QuotaLevel.OK:
        alarms.append(t("alarm.quota", percent=f"{ratio * 100:.1f}"))
    db = app[API_STORE].db
    count = int(db.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0])
    quarantined = Cell("quarantined", str(count), "ok" if count == 0 else "warn")
    if count:
        alarms.append(t("alarm.quarantine", count=count))
    if chain.intact:
        chain_cell = Cell("audit-chain", t("chain.intact", entries=chain.entries), "ok")
    else:
        chain_cell = Cell("audit-chain", t("chain.broken", seq=chain.broken_at), "down")
        alarms.append(t("alarm.chain", seq=chain.broken_at))
    if frigate.state == "down":
        alarms.append(t("alarm.frigate"))
    alarms += [t("alarm.uplink", program=r.program) for r in rows if r.link.state == "down"]
    return Overview(frigate, frigate_detail, rows, quota, quarantined, chain_cell, alarms)


@page("readSummary")
async def _get_overview(request: web.Request, operator: Operator) -> web.StreamResponse:
    t = translator(request)
    view = overview(api_of(request), t, audit_state(store_of(request).db))
    return await render(request, "overview.html", {"view": view, "title": t("nav.overview")}, operator=operator)


async def _get_events(request: web.Request) -> web.StreamResponse:
    """The live stream: ``event: overview`` with ``Overview.document()`` as JSON, when it changed."""
    config = config_of(request)
    operator = await operator_of(request, config, touch=False)
    if operator is None:
        raise web.HTTPUnauthorized(text="sign in first")
    session = await get_session(request)
    t = translator(request)
    stop = request.app[CONSOLE_STOP]
    response = web.StreamResponse(headers={**SECURITY_HEADERS, "Content-Type": "text/event-stream",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    db = store_of(request).db
    chain, checked = audit_state(db), time.monotonic()
    sent = ""
    with contextlib.suppress(ConnectionError):
        while not stop.is_set() and not session_expired(session, config):
            if time.monotonic() - checked >= AUDIT_RECHECK_S:
                chain, checked = audit_state(db), time.monotonic()
            text = json.dumps(overview(api_of(request), t, chain).document(), ensure_ascii=False)
            if text != sent:
                await response.write(f"event: overview\ndata: {text}\n\n".encode())
                sent = text
            else:
                await response.write(b": still here\n\n")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), TICK_S)
    return response


def add_overview_routes(app: web.Application) -> None:
    """``GET /overview`` and ``GET /events``."""
    app.router.add_get("/overview", _get_overview)
    app.router.add_get("/events", _get_events)
