"""placeholder: filled in by the camera onboarding work."""

from __future__ import annotations

import argparse

__all__ = ["add_cameras_commands"]


def add_cameras_commands(
    cameras: "argparse._SubParsersAction[argparse.ArgumentParser]", common: argparse.ArgumentParser
) -> None:
    """Add discover/probe/add/snapshot to the existing ``guarita cameras`` group."""
