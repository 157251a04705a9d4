"""One small generic registry used for datasets, models and tasks.

Entries may be registered as objects or lazily as ``"package.module:attribute"`` strings, so that listing
names never imports heavy dependencies; a typo gets a did-you-mean suggestion instead of a KeyError.
"""
from __future__ import annotations

import difflib
import fnmatch
import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from asgbench.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names (and aliases) to objects, resolving lazy ``module:attr`` entries on first use."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T | str] = {}
        self._aliases: dict[str, str] = {}
        self._families: dict[str, str] = {}

    def register_family(self, prefix: str, name: str) -> None:
        """Any unregistered name starting with ``prefix`` is its own canonical name, resolving to ``name``'s entry.

        Own pre-trained checkpoints get names of their own this way (``asg-ira``, ``asg-full``), so their runs
        and table rows stay apart while every one of them loads through the same entry.
        """
        if name not in self._entries:
            raise ValueError(f"{self.kind} family {prefix!r} points at unknown entry {name!r}")
        self._families[prefix] = name

    def _family_of(self, name: str) -> str | None:
        for prefix, target in self._families.items():
            if name.startswith(prefix) and len(name) > len(prefix):
                return target
        return None

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

    def decorator(self, name: str, *, aliases: tuple[str, ...] = ()) -> Callable[[T], T]:
        """``@registry.decorator("name")`` registers the decorated object and returns it unchanged."""

        def wrap(obj: T) -> T:
            self.register(name, obj, aliases=aliases)
            return obj

        return wrap

    def canonical(self, name: str) -> str:
        """The registered name for ``name`` or one of its aliases; raises with suggestions otherwise."""
        if name in self._entries:
            return name
        if name in self._aliases:
            return self._aliases[name]
        if self._family_of(name) is not None:
            return name
        candidates = list(self._entries) + list(self._aliases)
        close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        known = ", ".join(sorted(self._entries))
        raise UnknownNameError(f"unknown {self.kind} {name!r}{hint} (known: {known})")

    def get(self, name: str) -> T:
        """Return the object for ``name``, importing it first if it was registered lazily."""
        key = self.canonical(name)
        key = key if key in self._entries else self._family_of(key)
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
        return isinstance(name, str) and (name in self._entries or name in self._aliases or self._family_of(name) is not None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
