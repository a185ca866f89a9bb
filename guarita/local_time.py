"""Local time in Brazil, for dates people write and read (signs installed, consent expiry).

Covers: BH-04, DT-10.
"""

from __future__ import annotations

import datetime as dt

__all__ = ["DEFAULT_ZONE", "local_zone"]

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
