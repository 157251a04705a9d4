"""Tables into a README: ``<!-- asgbench:NAME -->`` ... ``<!-- /asgbench:NAME -->`` marker pairs are
rewritten in place, and every byte outside them stays as it was, so hand-written text survives updates."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from asgbench.errors import AsgbenchError, ConfigError
from asgbench.tables.layout import LINEAR_PROBE_TABLE
from asgbench.tables.outputs import NO_OUTPUTS, RunOutputs
from asgbench.tables.render import render_tables


def markers(name: str) -> tuple[str, str]:
    return f"<!-- asgbench:{name} -->", f"<!-- /asgbench:{name} -->"


def update_readme(readme_text: str, sections: Mapping[str, str]) -> str:
    """Replace what lies between each section's markers; every other byte stays as it was.

    A section passed here needs exactly one ``<!-- asgbench:NAME -->`` ... ``<!-- /asgbench:NAME -->`` pair;
    marker pairs of sections not passed are left alone.
    """
    text = readme_text
    for name, body in sections.items():
        begin, end = markers(name)
        if text.count(begin) != 1 or text.count(end) != 1:
            found = f"{text.count(begin)} opening and {text.count(end)} closing"
            raise AsgbenchError(f"README: section {name!r} needs exactly one marker pair {begin} ... {end} "
                                f"(found {found} marker{'s' if text.count(begin) + text.count(end) != 1 else ''})")
        start = text.index(begin) + len(begin)
        stop = text.index(end)
        if stop < start:
            raise AsgbenchError(f"README: the closing marker {end} comes before {begin}")
        text = text[:start] + "\n\n" + body.strip("\n") + "\n\n" + text[stop:]
    return text


def update_readme_file(path: str | Path, frame: pd.DataFrame, outputs: RunOutputs = NO_OUTPUTS) -> list[str]:
    """Rewrite the markdown tables whose markers ``path`` has; returns their names. A file without any
    table marker is refused (saying which markers to add), rather than silently left as it was."""
    path = Path(path)
    text = path.read_text()
    rendered = render_tables(frame, "md", outputs=outputs)
    wanted = {name: body for name, body in rendered.items() if markers(name)[0] in text}
    if not wanted:
        raise ConfigError(f"{path}: no table markers; add e.g. {' '.join(markers(LINEAR_PROBE_TABLE))} "
                          f"where a table should go (tables: {', '.join(rendered)})")
    from asgbench.results import write_text_atomic

    write_text_atomic(path, update_readme(text, wanted))
    return list(wanted)
