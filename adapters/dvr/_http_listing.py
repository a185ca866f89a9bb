"""Directory listings a DVR's web server sends: nginx JSON, nginx HTML and Apache HTML.

Which format a body is comes from its Content-Type and first character. HTML is read with
the standard library's ``html.parser``: nginx puts each entry on a ``<pre>`` line
(``<a href="name">name</a>  01-May-2024 10:01  123456``), Apache in a table row whose size
cell is human (``1.2M``, so no exact size) unless below 1 KiB. Names come from the
URL-decoded ``href``, never the link text (nginx shortens long names there). Names are kept
verbatim, ``../../etc/passwd`` included; only the parent link and sort links are dropped.

Covers: PB-06, DT-10.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import unquote

from guarita.adapters.dvr.source import RemoteEntry

__all__ = ["parse_listing"]

_SIZE_CELL = re.compile(r"^(?:\d+(?:\.\d+)?[KMGTP]?|-)$")


def parse_listing(body: bytes, content_type: str, folder_path: str) -> list[RemoteEntry]:
    """Entries of a listing served at ``folder_path`` (the URL path, ending in ``/``).

    Raises:
        ValueError: the body is not a directory listing in a known format.
    """
    text = body.decode("utf-8", errors="replace")
    start = text.lstrip()[:1]
    if content_type == "application/json" or start == "[":
        return _parse_json(text)
    if "html" in content_type or start == "<":
        return _parse_html(text, folder_path)
    raise ValueError(f"the answer is not a directory listing (Content-Type {content_type or 'none'})")


def _parse_json(text: str) -> list[RemoteEntry]:
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the JSON listing does not parse: {exc}") from exc
    if not isinstance(items, list):
        raise ValueError("the JSON listing is not an array")
    entries: list[RemoteEntry] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ValueError(f"the JSON listing has an entry without a name: {str(item)[:80]}")
        kind = item.get("type")
        if kind not in ("file", "directory"):
            continue  # nginx says "other" for sockets and devices
        size = item.get("size")
        exact = size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None
        is_dir = kind == "directory"
        entries.append(RemoteEntry(name=item["name"], is_dir=is_dir, size=None if is_dir else exact))
    return entries


@dataclass
class _Anchor:
    href: str
    text: str = ""
    row: list[str] | None = None  # table cells after the link's cell (Apache)
    cell: int = 0
    trailing: str = ""  # the rest of the <pre> line after the link (nginx)


class _IndexParser(HTMLParser):
    """Collects every link with what follows it on its line or in its table row."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[_Anchor] = []
        self.heading = ""  # text of <title> and <h1>
        self._open: _Anchor | None = None  # inside <a>
        self._after: _Anchor | None = None  # collecting the rest of a <pre> line
        self._row: list[str] | None = None
        self._row_anchors: list[_Anchor] = []
        self._cell: list[str] | None = None
        self._in_heading = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("title", "h1"):
            self._in_heading = True
        elif tag == "tr":
            self._row, self._row_anchors, self._after = [], [], None
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "a":
            href = dict(attrs).get("href")
            self._after = None
            if href is not None:
                self._open = _Anchor(href=href, cell=len(self._row) if self._row is not None else 0)
                self.anchors.append(self._open)
                if self._row is not None:
                    self._row_anchors.append(self._open)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("title", "h1"):
            self._in_heading = False
        elif tag == "a" and self._open is not None:
            self._after = self._open if self._row is None else None
            self._open = None
        elif tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            for anchor in self._row_anchors:
                anchor.row = self._row[anchor.cell + 1 :]
            self._row = None
        elif tag == "pre":
            self._after = None

    def handle_data(self, data: str) -> None:
        if self._in_heading:
            self.heading += data
        if self._open is not None:
            self._open.text += data
        if self._cell is not None:
            self._cell.append(data)
        elif self._after is not None:
            line, newline, _ = data.partition("\n")
            self._after.trailing += line
            if newline:
                self._after = None


def _exact_size(anchor: _Anchor) -> int | None:
    if anchor.row is not None:
        found = next((cell for cell in anchor.row if _SIZE_CELL.match(cell)), "")
    else:
        tokens = anchor.trailing.split()
        found = tokens[-1] if tokens else ""
    return int(found) if found.isdigit() else None


def _parse_html(text: str, folder_path: str) -> list[RemoteEntry]:
    parser = _IndexParser()
    parser.feed(text)
    parser.close()
    if "index of" not in parser.heading.lower():
        raise ValueError("the HTML page is not a directory listing (no 'Index of' heading)")
    found: dict[str, RemoteEntry] = {}
    for anchor in parser.anchors:
        href = anchor.href.partition("#")[0].partition("?")[0]
        if not href or anchor.text.strip() == "Parent Directory" or "://" in href or href.startswith("//"):
            continue  # sort links, the parent link, links off the server
        if href.startswith("/"):
            if not href.startswith(folder_path):
                continue  # an absolute link outside this folder: the parent
            href = href[len(folder_path) :]
        if href in ("", ".", "./", "..", "../"):
            continue
        is_dir = href.endswith("/")
        name = unquote(href[:-1] if is_dir else href)
        found[name] = RemoteEntry(name=name, is_dir=is_dir, size=None if is_dir else _exact_size(anchor))
    return list(found.values())
