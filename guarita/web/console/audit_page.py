"""The console's audit page: the log, newest first, filtered by action, actor and date, paged,
with the hash chain's state as ``guarita audit verify`` reports it.

Filters: ``action`` (an action or its start, e.g. ``consent.`` for every consent entry),
``actor`` (exact), ``from`` and ``to`` (dates, in the local zone, both included). Pages of
``PAGE_SIZE`` entries follow ``before`` (the lowest entry number shown). Reading the log is
itself audited as an ``api.read`` (coalesced per minute). Roles: as ``GET
/api/v1/audit/verify``.

Covers: BH-07, BH-09, PB-03.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from aiohttp import web

from guarita import audit
from guarita.local_time import local_zone, shown
from guarita.web.console.auth import page
from guarita.web.console.render import render, translator
from guarita.web.console.session import Operator
from guarita.web.console.state import store_of, audit_read
from guarita.web.i18n import Translator

__all__ = ["PAGE_SIZE", "add_audit_routes"]

PAGE_SIZE = 50


def _day_start(text: str, field: str) -> float:
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(field) from None
    return dt.datetime.combine(day, dt.time(), local_zone()).timestamp()


def _filters(query: Any) -> tuple[str, list[object], dict[str, str], list[str]]:
    """SQL conditions, their values, the filters as given, and the names of fields given wrong."""
    given = {name: str(query.get(name, "")).strip() for name in ("action", "actor", "from", "to")}
    clauses: list[str] = []
    values: list[object] = []
    wrong: list[str] = []
    if given["action"]:
        clauses.append("substr(action, 1, ?) = ?")
        values += [len(given["action"]), given["action"]]
    if given["actor"]:
        clauses.append("actor = ?")
        values.append(given["actor"])
    for name, op, shift in (("from", ">=", 0), ("to", "<", 1)):
        if given[name]:
            try:
                start = _day_start(given[name], name)
            except ValueError:
                wrong.append(name)
                continue
            clauses.append(f"at {op} ?")
            values.append(start + shift * 86400)
    return " AND ".join(clauses) or "1", values, given, wrong


def _keying(checked: audit.AuditCheck, t: Translator) -> str:
    """``AuditCheck.describe_keying`` in the page's language."""
    if checked.entries == 0:
        return t("keying.none")
    if checked.keyed_from is None:
        return t("keying.unkeyed", count=checked.unkeyed)
    if checked.unkeyed == 0:
        return t("keying.keyed")
    return t("keying.mixed", unkeyed=checked.unkeyed, first=checked.keyed_from)


@page("verifyAudit")
async def _get_audit(request: web.Request, operator: Operator) -> web.StreamResponse:
    t = translator(request)
    audit_read(request, operator)
    db = store_of(request).db
    where, values, given, wrong = _filters(request.query)
    before_text = request.query.get("before", "")
    conditions, params = where, list(values)
    if before_text.isdigit():
        conditions += " AND seq < ?"
        params.append(int(before_text))
    rows = db.execute(
        f"SELECT seq, at, actor, action, subject, details FROM audit_log WHERE {conditions} "
        "ORDER BY seq DESC LIMIT ?", (*params, PAGE_SIZE + 1),
    ).fetchall()
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    zone = local_zone()
    entries = [
        {"seq": r[0], "at": shown(dt.datetime.fromtimestamp(float(r[1]), zone), zone),
         "actor": r[2], "action": r[3], "subject": r[4],
         "details": json.dumps(json.loads(r[5]), ensure_ascii=False, sort_keys=True) if r[5] else ""}
        for r in rows
    ]
    checked = audit.check(db)
    head_seq, head_hash = audit.head(db)
    total = int(db.execute(f"SELECT COUNT(*) FROM audit_log WHERE {where}", values).fetchone()[0])
    query = {k: v for k, v in given.items() if v}
    return await render(request, "audit.html", {
        "title": t("nav.audit"),
        "entries": entries,
        "given": given,
        "wrong": wrong,
        "total": total,
        "older": (entries[-1]["seq"] if more and entries else None),
        "query": query,
        "first_page": not before_text.isdigit(),
        "chain": checked,
        "keying": _keying(checked, t),
        "head_seq": head_seq,
        "head_hash": head_hash,
        "zone": str(zone),
    }, operator=operator)


def add_audit_routes(app: web.Application) -> None:
    """``GET /audit``."""
    app.router.add_get("/audit", _get_audit)
