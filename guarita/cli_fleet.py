"""placeholder: filled in by the fleet work."""

from __future__ import annotations

import argparse

__all__ = ["add_fleet_commands"]


def add_fleet_commands(sub: "argparse._SubParsersAction[argparse.ArgumentParser]", common: argparse.ArgumentParser) -> None:
    """Register the `dvr` and `retention` commands."""
