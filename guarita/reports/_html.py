"""The shell of every HTML report: one self-contained page, inline CSS, nothing fetched.

An auditor may open the file years later on a machine without internet, so a page never
links a stylesheet, font, script or map tile. Every text that came from data goes through
``esc`` (``html.escape``, quotes included).

Covers: DT-18, DT-19.
"""

from __future__ import annotations

import html

__all__ = ["EVENT_STYLES", "card", "esc", "event_colour", "event_label", "kind_cell", "page"]

# type → (label, colour); colours stay apart for the common kinds of colour blindness.
EVENT_STYLES: dict[str, tuple[str, str]] = {
    "harsh_braking": ("Harsh braking", "#c0392b"),
    "harsh_acceleration": ("Harsh acceleration", "#e67e22"),
    "sharp_turn": ("Sharp turn", "#8e44ad"),
    "overspeed": ("Overspeed", "#2471a3"),
    "power_loss": ("Power loss", "#5d6d7e"),
}
_OTHER_COLOUR = "#7d6608"

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#1c2833;margin:24px;
  background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.meta{color:#566573;margin:0 0 16px}.summary{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}
.card{border:1px solid #d5d8dc;border-radius:6px;padding:8px 14px;min-width:110px}
.card b{display:block;font-size:22px}.empty{padding:24px;border:1px dashed #aab7b8;border-radius:6px;
  background:#f8f9f9;font-size:16px}
table{border-collapse:collapse;width:100%;margin-top:8px}
th,td{border-bottom:1px solid #e5e8e8;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f2f4f4;position:sticky;top:0}tr:nth-child(even) td{background:#fbfcfc}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:6px;vertical-align:-1px}
.legend{display:flex;gap:16px;flex-wrap:wrap;margin:6px 0 0}.open{color:#a93226;font-weight:600}
ol.trail{margin:0;padding-left:18px}.note{color:#566573;font-style:italic}.muted{color:#808b96}svg{max-width:100%;height:auto}
td.fig{text-align:right;font-variant-numeric:tabular-nums}.limit{color:#808b96;white-space:nowrap}td.kind{white-space:nowrap}
td.handling{min-width:240px}
.footer{margin-top:24px;color:#808b96;font-size:12px}
"""


def esc(text: object) -> str:
    """``text`` safe inside HTML elements and quoted attributes."""
    return html.escape(str(text), quote=True)


def event_label(kind: str) -> str:
    """``Harsh braking`` for ``harsh_braking``; unknown kinds are spelled out from their id."""
    return EVENT_STYLES.get(kind, (kind.replace("_", " ").capitalize(), ""))[0]


def event_colour(kind: str) -> str:
    """The colour a kind of event is drawn in."""
    return EVENT_STYLES.get(kind, ("", _OTHER_COLOUR))[1]


def kind_cell(kind: str) -> str:
    """A table cell naming the event type beside a swatch of its chart colour."""
    return f'<td class="kind"><span class="swatch" style="background:{event_colour(kind)}"></span>{esc(event_label(kind))}</td>'


def card(label: str, value: object) -> str:
    """A summary figure: the value large, its label below."""
    return f'<div class="card"><b>{esc(value)}</b>{esc(label)}</div>'


def page(title: str, body: str, *, footer: str = "", css: str = "") -> str:
    """A complete HTML document around ``body`` (already escaped); ``title`` and ``footer`` are escaped here.

    ``css`` adds page-specific rules after the shared ones.
    """
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{_CSS}{css}</style>\n</head>\n<body>\n{body}\n"
        f'<p class="footer">{esc(footer)}</p>\n</body>\n</html>\n'
    )
