"""Frigate payload examples kept with the tests (``tests/fixtures/frigate/``).

The example files and the real 0.17.2 capture live inside the repository, so a clone on its
own runs every test. A missing file is an error, never a skip: see tests/fixtures/README.md.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

FRIGATE_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "frigate"
REAL_CAPTURE = FRIGATE_FIXTURES / "real" / "frigate-0.17.2-events.jsonl.gz"


def frigate_example(name: str) -> Any:
    """One of Frigate's example payloads, parsed (e.g. ``mqtt-events-new.json``)."""
    return json.loads((FRIGATE_FIXTURES / name).read_text(encoding="utf-8"))


def real_event_stream() -> list[tuple[str, dict[str, Any]]]:
    """The real Frigate 0.17.2 capture: (topic, payload) in publication order."""
    with gzip.open(REAL_CAPTURE, "rt", encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines if line.strip()]
    return [(record["topic"], record["payload"]) for record in records]
