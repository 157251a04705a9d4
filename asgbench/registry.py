"""One small generic registry used for datasets, models and tasks.

Entries may be registered as objects or lazily as ``"package.module:attribute"`` strings, so that listing
names never imports heavy dependencies; a typo gets a did-you-mean suggestion instead of a KeyError.
"""
from __future__ import annotations

import difflib
import fnmatch
import importlib
from collections.abc import Iterator
from typing import Generic, TypeVar

from asgbench.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names (and aliases) to objects, resolving lazy ``module:attr`` entries on first use."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T | str] = {}
        self._aliases: dict[str, str] = {}

    def register(self, name: str, entry: T | str, *, aliases: tuple[str, ...] = ()) -> None:
        """Add ``entry`` under ``name``; a string entry is imported lazily as ``module:attribute``."""
        if name in self._entries or name in self._aliases:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        if isinstance(entry, str) and ":" not in entry:
            raise ValueError(f"lazy {self.kind} entry {entry!r} must look like 'package.module:attribute'")
        self._entries[name] = entry
        for alias in aliases:
            if alias in self._entries or alias in self._aliases:
                raise ValueError(f"{self.kind} alias {alias!r} is registered twice")
            self._aliases[alias] = name

    def canonical(self, name: str) -> str:
        """The registered name for ``name`` or one of its aliases; raises with suggestions otherwise."""
        if name in self._entries:
            return name
        if name in self._aliases:
            return self._aliases[name]
        candidates = list(self._entries) + list(self._aliases)
        close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        known = ", ".join(sorted(self._entries))
        raise UnknownNameError(f"unknown {self.kind} {name!r}{hint} (known: {known})")

    def get(self, name: str) -> T:
        """Return the object for ``name``, importing it first if it was registered lazily."""
        key = self.canonical(name)
        entry = self._entries[key]
        if isinstance(entry, str):
            module_name, _, attribute = entry.partition(":")
            obj = getattr(importlib.import_module(module_name), attribute)
            self._entries[key] = obj
            return obj
        return entry

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names in registration order, filtered by a shell-style wildcard pattern."""
        return [n for n in self._entries if fnmatch.fnmatchcase(n, pattern)]

    def aliases_of(self, name: str) -> list[str]:
        return [alias for alias, target in self._aliases.items() if target == name]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self._entries or name in self._aliases)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
