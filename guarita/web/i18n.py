"""The web pages' words in Portuguese (the default) and English, by the browser's language.

A ``Catalogue`` holds message keys, each with its Brazilian Portuguese and English text;
each group of pages adds its own (the console in ``guarita.web.console.messages``, the
homeowner pages theirs) with ``CATALOGUE.add``. ``negotiate`` picks the language from an
``Accept-Language`` header: English only when the browser prefers it to Portuguese, so a
browser that says nothing gets Portuguese. ``Translator`` fills ``{name}`` placeholders with
``str.format``; an unknown key is an error (a page must not show a key), as is a key added
twice with different words.

Covers: BH-03, PB-07.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

__all__ = ["CATALOGUE", "DEFAULT_LANGUAGE", "LANGUAGES", "Catalogue", "Translator", "negotiate"]

DEFAULT_LANGUAGE: Final = "pt-BR"
LANGUAGES: Final = ("pt-BR", "en")


class Catalogue:
    """Message keys and their words in each language of ``LANGUAGES``."""

    def __init__(self) -> None:
        self._messages: dict[str, tuple[str, str]] = {}

    def add(self, messages: Mapping[str, tuple[str, str]]) -> None:
        """Add ``key: (portuguese, english)`` pairs.

        Raises:
            ValueError: a key already added with other words.
        """
        for key, words in messages.items():
            known = self._messages.get(key)
            if known is not None and known != words:
                raise ValueError(f"message {key!r} is already in the catalogue with other words")
            self._messages[key] = words

    def text(self, language: str, key: str, **values: object) -> str:
        """``key``'s words in ``language`` with ``{placeholders}`` filled.

        Raises:
            KeyError: no such key.
        """
        portuguese, english = self._messages[key]
        words = english if language == "en" else portuguese
        return words.format(**values) if values else words

    def keys(self) -> frozenset[str]:
        """Every key added."""
        return frozenset(self._messages)


CATALOGUE = Catalogue()


@dataclass(frozen=True)
class Translator:
    """One page's language: call it with a key (and values) for the words."""

    language: str
    catalogue: Catalogue = CATALOGUE

    def __call__(self, key: str, **values: object) -> str:
        return self.catalogue.text(self.language, key, **values)


def _preferences(header: str) -> list[tuple[float, int, str]]:
    ranked = []
    for position, item in enumerate(header.split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag:
            ranked.append((-quality, position, tag.strip().lower()))
    return sorted(ranked)


def negotiate(accept_language: str | None) -> str:
    """``en`` when the header prefers English to Portuguese; ``pt-BR`` otherwise."""
    for quality, _, tag in _preferences(accept_language or ""):
        if quality >= 0:  # q=0 means "not this one"
            continue
        if tag == "pt" or tag.startswith("pt-"):
            return DEFAULT_LANGUAGE
        if tag == "en" or tag.startswith("en-"):
            return "en"
    return DEFAULT_LANGUAGE
