"""What every knowledge loader shares: reading files, sources, codes, value sets, code groups.

Each knowledge domain (antithrombotics, indications, ...) has its own loader module that reads
its YAML file through a `Reader`. A malformed file raises `KnowledgeError`, so a bad knowledge
release stops the service at start-up instead of silently dropping a warning.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml

from cds_service.terminology import Code, CodeKey, CodeSystems

KNOWLEDGE_DIR = Path(__file__).parent
VALUESET_DIR = KNOWLEDGE_DIR / "valuesets"
WORD = re.compile(r"[a-z0-9]+")


K = TypeVar("K")
V = TypeVar("V")


class MatchCache(Generic[K, V]):
    """A bounded memo of matching results. Emptied when full: the medications of real
    patients repeat, and a flood of distinct texts must not grow a worker's memory."""

    def __init__(self, max_entries: int = 20_000) -> None:
        self.max_entries = max_entries
        self._entries: dict[K, V] = {}

    def get(self, key: K) -> V | None:
        return self._entries.get(key)

    def put(self, key: K, value: V) -> V:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = value
        return value


class KnowledgeError(RuntimeError):
    """A knowledge file is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class Source:
    key: str
    citation: str
    url: str | None
    card: str | None = None  # the short form a card shows, saying what was actually read


@dataclass(frozen=True)
class CodeGroup:
    """A named list of codes and names, e.g. opioids or neuropathic pain agents."""

    id: str
    label: str
    codes: frozenset[CodeKey]
    names: re.Pattern[str] | None
    prefixes: tuple[CodeKey, ...] = ()  # hierarchical codes (ATC groups such as N02A)

    def matches(self, keys: Iterable[CodeKey], text: str) -> bool:
        for key in keys:
            if key in self.codes:
                return True
            if any(key[0] == s and key[1].startswith(p) for s, p in self.prefixes):
                return True
        return bool(self.names and text and self.names.search(text))


def read_yaml(name: str) -> dict[str, Any]:
    path = KNOWLEDGE_DIR / f"{name}.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise KnowledgeError(f"cannot read knowledge file {path.name}: {exc}") from exc
    if not isinstance(data, dict):
        raise KnowledgeError(f"knowledge file {path.name} is not a mapping")
    return data


def read_valueset(oid: str) -> dict[str, Any]:
    path = VALUESET_DIR / f"ValueSet-{oid}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise KnowledgeError(f"cannot read value set {oid}: {exc}") from exc


def names_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    words = sorted({n.strip().lower() for n in names if n and n.strip()}, key=len, reverse=True)
    if not words:
        return None
    return re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE)


def cited(sources: Mapping[str, Source], key: Any, where: str) -> Source | None:
    """The source `key` names, None where no key is given. A key that names no source is
    refused: misspelled, it would drop the citation from every card that shows the figure."""
    if key is None or key == "":
        return None
    try:
        return sources[str(key)]
    except KeyError:
        raise KnowledgeError(f"{where}: unknown source {str(key)[:40]!r}") from None


class Reader:
    """Reads knowledge files with one code-system table and one registry of sources."""

    def __init__(self, files: Iterable[str]) -> None:
        self.docs = {name: read_yaml(name) for name in files}
        self.systems = CodeSystems(self.docs["code_systems"])
        self.sources: dict[str, Source] = {}
        for doc in self.docs.values():
            for key, src in (doc.get("sources") or {}).items():
                self.sources[key] = Source(
                    key, src.get("citation", key), src.get("url"), src.get("card")
                )
        self.valuesets_used: set[str] = set()

    def key(self, entry: Mapping[str, Any]) -> CodeKey:
        return self.systems.key(self.systems.uri(str(entry["system"])), str(entry["code"]))

    def code(self, entry: Mapping[str, Any]) -> Code:
        system, code = self.key(entry)
        return Code(system, code, entry.get("display"))

    def keys(self, entries: Iterable[Mapping[str, Any]] | None) -> frozenset[CodeKey]:
        return frozenset(self.key(c) for c in entries or ())

    def valueset_codes(self, oid: str) -> list[dict[str, Any]]:
        self.valuesets_used.add(oid)
        contains = read_valueset(oid).get("expansion", {}).get("contains", [])
        return [c for c in contains if "system" in c and "code" in c]

    def group(self, entry: Mapping[str, Any]) -> CodeGroup:
        keys = {
            self.key(c)
            for field_name in ("ingredient_codes", "atc_codes", "codes", "product_codes")
            for c in entry.get(field_name) or ()
        }
        for oid in entry.get("valuesets") or ():
            keys.update(self.key(c) for c in self.valueset_codes(str(oid)))
        atc = self.systems.uri("atc")
        # An ATC code shorter than a substance code (7 characters) names a group: match below it.
        prefixes = tuple(sorted(k for k in keys if k[0] == atc and len(k[1]) < 7))
        return CodeGroup(
            id=entry["id"],
            label=entry.get("label", entry["id"]),
            codes=frozenset(keys),
            names=names_pattern(entry.get("names") or ()),
            prefixes=prefixes,
        )
