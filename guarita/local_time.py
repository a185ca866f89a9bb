"""Local time in Brazil, for dates people write and read (signs installed, consent expiry),
and the log line format, whose times carry their UTC offset.

Covers: BH-04, DT-10.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

__all__ = ["DEFAULT_ZONE", "LOG_FORMAT", "ZonedLogFormatter", "local_zone", "shown"]

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

DEFAULT_ZONE = "America/Sao_Paulo"


def local_zone(name: str = DEFAULT_ZONE) -> dt.tzinfo:
    """The named zone; America/Sao_Paulo falls back to UTC-3 on a system without tz data."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:
        if name == DEFAULT_ZONE:  # Brazil has kept UTC-3 all year since 2019
            return dt.timezone(dt.timedelta(hours=-3), "-03")
        raise


def shown(moment: dt.datetime, zone: dt.tzinfo) -> str:
    """``moment`` as a person reads it, in ``zone`` with its UTC offset: ``2026-11-20 08:00:00 -03:00``."""
    local = moment.astimezone(zone)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M:%S} {offset[:3]}:{offset[3:]}"


class ZonedLogFormatter(logging.Formatter):
    """Log lines as ``2026-11-20 11:00:00,123 +0000 INFO name: message``: the machine's time with its offset."""

    def __init__(self) -> None:
        super().__init__(LOG_FORMAT)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 (logging's name)
        return f"{super().formatTime(record, datefmt)} {time.strftime('%z', self.converter(record.created))}"
