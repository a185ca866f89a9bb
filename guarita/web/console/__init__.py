"""The web console for operators (docs/console.md): overview, cameras, audit, live view.

Covers: BH-03, BH-07, BH-09.
"""

from guarita.web.console.app import make_console_app
from guarita.web.console.state import CONSOLE_PREFIX

__all__ = ["CONSOLE_PREFIX", "make_console_app"]
