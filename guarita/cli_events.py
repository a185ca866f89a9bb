"""placeholder: filled in by the events work."""

from __future__ import annotations

import argparse

__all__ = ["add_events_commands"]


def add_events_commands(sub: "argparse._SubParsersAction[argparse.ArgumentParser]", common: argparse.ArgumentParser) -> None:
    """Register the `events` commands."""
