"""Load YAML while remembering where every key and list item stands in the file.

The config loader needs each problem reported as ``file:LINE:COL key.path``, where LINE is
the offending key's own line (1-based), so plain ``yaml.safe_load`` is not enough: this module
composes the node tree, records the mark of every mapping key and sequence item under its
path, then constructs plain Python data from the same tree.

Covers: PB-01.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

__all__ = ["Mark", "MarkedDocument", "load_marked"]

# Every path element is kept as a string (sequence indexes too) so that a path from
# pydantic, whose dict keys may have been coerced to int, still finds its mark.
PathKey = tuple[str, ...]


@dataclass(frozen=True)
class Mark:
    """A 1-based line and column in the YAML file."""

    line: int
    column: int


@dataclass(frozen=True)
class MarkedDocument:
    """Plain data from a YAML file plus the mark of every key path in it."""

    data: Any
    marks: dict[PathKey, Mark]

    def mark_for(self, path: tuple[str | int, ...]) -> Mark:
        """Return the mark of ``path``, or of its nearest ancestor that the file contains."""
        keys = tuple(str(part) for part in path)
        for end in range(len(keys), -1, -1):
            found = self.marks.get(keys[:end])
            if found is not None:
                return found
        return Mark(1, 1)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of silently keeping the last one."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            first = seen[key].start_mark.line + 1
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first defined on line {first})", key_node.start_mark
            )
        seen[key] = key_node
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _mark(node: yaml.Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


def _walk(node: yaml.Node, path: PathKey, marks: dict[PathKey, Mark]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*path, key)
            marks[child] = _mark(key_node)
            _walk(value_node, child, marks)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, str(index))
            marks[child] = _mark(item)
            _walk(item, child, marks)


def load_marked(text: str) -> MarkedDocument:
    """Parse YAML text into data and marks.

    Raises:
        yaml.YAMLError: the text is not valid YAML (the error carries its own mark).
    """
    loader = _UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        marks: dict[PathKey, Mark] = {}
        if node is None:
            return MarkedDocument(None, marks)
        marks[()] = _mark(node)
        _walk(node, (), marks)
        data = loader.construct_document(node)
    finally:
        loader.dispose()
    return MarkedDocument(data, marks)
