"""What every ``guarita`` subcommand module shares: config loading, ``--json``, error translation.

Covers: PB-01.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeAlias

from guarita.config import GuaritaConfig
from guarita.config_loader import load_config, resolve_config_path
from guarita.errors import StoreError
from guarita.store import Store

__all__ = ["Command", "SubParsers", "cli_config", "emit", "guarded", "json_option", "open_store"]

Command = Callable[[argparse.Namespace], int]
SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def guarded(command: Command) -> Command:
    """Translate the store's foreign errors (sqlite3, OSError) so ``main`` prints them, not a traceback."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"the store could not be used: {exc}") from exc

    return run


def json_option() -> argparse.ArgumentParser:
    """A parent parser adding ``--json``."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    return parent


def cli_config(args: argparse.Namespace) -> GuaritaConfig:
    """The config named by ``-c`` or ``$GUARITA_CONFIG``."""
    return load_config(resolve_config_path(args.config, os.environ))


def emit(args: argparse.Namespace, text: str, document: object) -> None:
    """Print ``text``, or ``document`` as JSON under ``--json``."""
    print(json.dumps(document, ensure_ascii=False, indent=2) if args.json else text)


@contextmanager
def open_store(config: GuaritaConfig) -> Iterator[Store]:
    """The config's store, closed when the command is done."""
    store = Store.open(config.storage.data_dir)
    try:
        yield store
    finally:
        store.close()
