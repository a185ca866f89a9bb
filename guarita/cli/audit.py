"""``guarita audit verify``: check that the hash-chained audit log was not edited.

Exit 0 and ``N entries, chain intact, head <hash>`` when every entry follows the one before
it, then which entries are keyed (see ``guarita.audit``); exit 1 naming the first broken
entry otherwise. A chain cut at its end, or rewritten
from some entry on with recomputed hashes, still verifies: keep the printed head somewhere
else and pass it back with ``--head`` to detect that too.

Covers: BH-07, BH-09, PB-03.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from typing import TypeAlias

from guarita import audit
from guarita.config_loader import load_config, resolve_config_path
from guarita.errors import GuaritaError, StoreError
from guarita.store import DB_FILE, Store

__all__ = ["AuditRefusal", "add_audit_commands"]

SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class AuditRefusal(GuaritaError):
    """``audit verify`` has nothing to check (no database where the config points)."""


def _cmd_verify(args: argparse.Namespace) -> int:
    config = load_config(resolve_config_path(args.config, os.environ))
    data_dir = config.storage.data_dir
    if not (data_dir / DB_FILE).is_file():
        raise AuditRefusal(f"no database at {data_dir / DB_FILE}: nothing to verify (is storage.data_dir right?)")
    store = Store.open(data_dir)
    try:
        result = audit.check(store.db)
        count, broken = result.entries, result.broken
        last = store.db.execute("SELECT hash FROM audit_log ORDER BY rowid DESC LIMIT 1").fetchone()
        known = args.head is None or store.db.execute(
            "SELECT 1 FROM audit_log WHERE hash = ?", (args.head.strip().lower(),)
        ).fetchone() is not None
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read the audit log in {store.path}: {exc}") from exc
    finally:
        store.close()
    head = str(last[0]) if last else audit.GENESIS
    problem = str(broken) if broken else None
    if problem is None and not known:
        problem = f"head {args.head} is no longer in the chain: the log was cut or rewritten after it"
    if args.json:
        print(json.dumps({
            "entries": count,
            "intact": problem is None,
            "head": head,
            "broken": None if broken is None else {"seq": broken.seq, "problem": broken.problem},
            "problem": problem,
            "unkeyed_entries": result.unkeyed,
            "keyed_from": result.keyed_from,
            "keying": result.describe_keying(),
        }, indent=2))
    elif problem is None:
        print(f"{count} entries, chain intact, head {head}")
        print(result.describe_keying())
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    return 0


def add_audit_commands(sub: SubParsers, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``guarita audit verify``; ``parents`` give ``-c`` and ``--json``."""
    group = sub.add_parser("audit", help="the hash-chained audit log").add_subparsers(
        dest="audit_command", required=True
    )
    verify = group.add_parser("verify", parents=parents, help="check the audit log's hash chain")
    verify.add_argument(
        "--head", metavar="HASH", help="a head printed by an earlier verify: also fail if it is no longer in the chain"
    )
    verify.set_defaults(func=_cmd_verify)
