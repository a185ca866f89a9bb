"""How ``guarita demo`` tells its story: compact lines per centre, and log lines kept in a file.

A centre receives dozens of events a minute; printing each one buries the story (the
registry's steps, the catalogue, the garage, the evidence request). ``CentreStory`` prints
the first event of each camera in full, so the payload's shape is seen once, then one line
per camera per period with how many events arrived (``flush``). It also counts the events
that arrived while their camera was not in the centre's catalogue, which a centre would
call a leak: the demo prints that count at the end, and it must be zero for COP-BH.

``log_to_file`` sends the process's log records to a file for the demo's duration, so the
terminal shows the story and the log is still there to read.

Covers: PB-01, PB-05, BH-04.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from guarita.local_time import ZonedLogFormatter
from guarita.standin.centre import Received

__all__ = ["CentreStory", "log_to_file"]


def _describe_event(event: dict[str, Any]) -> str:
    where = event.get("vehicle") or event.get("location")
    return f"{event['camera']} {event['type']} #{event['seq']} {event['label']} score {event['score']:.2f} {where}"


class CentreStory:
    """Prints what one centre receives, compactly; call it with each message."""

    def __init__(self, name: str, out: TextIO, started: float, *, catalogued: bool) -> None:
        """``catalogued``: the centre has a camera catalogue (COP-BH), so events outside it are counted."""
        self.name = name
        self._out, self._started, self._catalogued = out, started, catalogued
        self._window_start = 0.0
        self._seen: set[str] = set()
        self._window: dict[str, Counter[str]] = {}
        self._in_catalogue: set[str] = set()
        self.outside_catalogue = 0
        self.received: Counter[str] = Counter()

    def _say(self, text: str) -> None:
        print(f"  [{self.name}] {text}", file=self._out, flush=True)

    def __call__(self, message: Received) -> None:
        if "/cameras/" in message.topic:
            camera = message.topic.rsplit("/", 1)[-1]
            if message.payload:
                self._in_catalogue.add(camera)
                self._say(f"catalogue: {camera} published (sign {message.json['sign_plate']})")
            else:
                self._in_catalogue.discard(camera)
                self._say(f"catalogue: {camera} withdrawn")
            return
        if message.topic.endswith("/dvr"):
            self._say(_dvr_report(message.json))
            return
        if "/events" not in message.topic:
            self._say(f"{message.topic} = {message.payload.decode()}")
            return
        event = message.json
        camera = event["camera"]
        self.received[camera] += 1
        if self._catalogued and camera not in self._in_catalogue:
            self.outside_catalogue += 1
        if camera not in self._seen:
            self._seen.add(camera)
            self._say(f"first event of {_describe_event(event)}")
            return
        self._window.setdefault(camera, Counter())[event["type"]] += 1

    def flush(self) -> None:
        """One line per camera with the events counted since the last flush (the first ones excluded)."""
        now = time.monotonic() - self._started
        for camera, kinds in self._window.items():
            detail = ", ".join(f"{kinds[k]} {k}" for k in ("new", "update", "end") if kinds[k])
            count = kinds.total()
            self._say(f"{camera}: {count} more event{'s' * (count != 1)} in {self._window_start:.0f}–{now:.0f} s "
                      f"({detail})")
        self._window.clear()
        self._window_start = now


def _dvr_report(report: dict[str, Any]) -> str:
    gaps = [f"camera {c['camera']} {g[0][11:16]}–{g[1][11:16]} UTC" for c in report["cameras"] for g in c["gaps"]]
    bad = [f"{q['folder']}/{q['name']} ({q['reason']})" for q in report["quarantined"]]
    return (
        f"DVR report, bus {report['vehicle']} (DVR {report['dvr_serial']}): {report['status']}, "
        f"{report['files']} files, {report['bytes'] / 1e6:.1f} MB; gaps: {', '.join(gaps) or 'none'}; "
        f"quarantined: {', '.join(bad) or 'none'}"
    )


@contextlib.contextmanager
def log_to_file(path: Path) -> Iterator[None]:
    """Send log records at INFO and above to ``path``; the handlers already there keep only errors.

    Everything is restored on exit, so a caller's logging (the CLI's, pytest's) is as it was.
    """
    root = logging.getLogger()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(ZonedLogFormatter())
    saved_level = root.level
    saved = [(h, h.level) for h in root.handlers]
    for existing, level in saved:
        existing.setLevel(max(level, logging.ERROR))
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()
        root.setLevel(saved_level)
        for existing, level in saved:
            existing.setLevel(level)
