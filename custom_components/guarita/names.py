"""How programs are called on screen.

Covers: PB-08.
"""

from __future__ import annotations

_LABELS = {"cop_bh": "COP-BH", "detro": "DETRO"}


def program_label(program: str) -> str:
    """``cop_bh`` → ``COP-BH``; an unknown program keeps its id."""
    return _LABELS.get(program, program)
