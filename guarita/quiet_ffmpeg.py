"""Running one ffmpeg command quietly: no output kept but its last error words, stopped with its caller.

The one runner of the ffmpeg commands that write masked clips and cut evidence or playback files.

Covers: BH-04, BH-07, PB-04.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

__all__ = ["run_quietly"]


async def run_quietly(command: Sequence[str], failed: Callable[[str], Exception]) -> None:
    """Run ``command`` (its first item is the program) and wait for it.

    Cancelling the caller (a stopped playback build) kills the process.

    Raises:
        Exception: ``failed(words)`` when the command exits non-zero; ``words`` are the last 300
            characters of what it wrote to stderr.
    """
    process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.DEVNULL,
                                                   stderr=asyncio.subprocess.PIPE)
    try:
        _, stderr = await process.communicate()
    except asyncio.CancelledError:
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    if process.returncode != 0:
        raise failed(stderr.decode(errors="replace").strip()[-300:])
