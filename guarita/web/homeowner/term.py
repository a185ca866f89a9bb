"""The consent term a homeowner accepts: one text per version, shipped in this package.

The text is the binding Portuguese term (``terms/term-<version>.pt.txt``); its SHA-256 is
shown on the page and recorded in each acceptance, so what was agreed can be proven later.
A new wording is a new file with the next version; old files stay for the record.

Covers: PB-07, BH-03.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["CURRENT_VERSION", "Term", "current_term"]

CURRENT_VERSION = "1"


@dataclass(frozen=True)
class Term:
    """A version of the term: its text and the SHA-256 of the file's bytes."""

    version: str
    text: str
    sha256: str


@cache
def current_term() -> Term:
    """The term homeowners accept today."""
    data = resources.files(__package__).joinpath("terms", f"term-{CURRENT_VERSION}.pt.txt").read_bytes()
    return Term(CURRENT_VERSION, data.decode("utf-8"), hashlib.sha256(data).hexdigest())
