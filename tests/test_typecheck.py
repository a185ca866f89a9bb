"""`mypy --strict` over the whole package, as STYLE asks; run in CI with the suite."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


# covers PB-01
@pytest.mark.slow
def test_mypy_strict_passes() -> None:
    result = subprocess.run(["bash", str(ROOT / "scripts" / "typecheck.sh")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout
