"""How long each demo step took the last time it did work.

A second `asgbench demo` reuses every step and finishes in seconds; the summary and the README must still
report the time the results cost, so a step that only reused earlier work reports the time it was last
measured doing that work, kept in a small JSON file next to the work it describes.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from asgbench.results import write_text_atomic


@dataclass
class StepLedger:
    path: Path

    def read(self) -> dict[str, float]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def record(self, step: str, seconds: float, *, did_work: bool) -> float:
        """The seconds to report for ``step``: these when it did work (and remembered), else the remembered ones."""
        known = self.read()
        if did_work or step not in known:
            known[step] = seconds
            write_text_atomic(self.path, json.dumps(known, indent=2, sort_keys=True) + "\n")
        return known[step]
