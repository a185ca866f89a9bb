"""placeholder: filled in by the reports work."""

from __future__ import annotations

import argparse

__all__ = ["add_reports_commands"]


def add_reports_commands(sub: "argparse._SubParsersAction[argparse.ArgumentParser]", common: argparse.ArgumentParser) -> None:
    """Register the `reports` commands."""
