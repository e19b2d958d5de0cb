"""The Artifacts tab of ``tracelet report``: what each run stored, compared across runs.

Two parts, built from the snapshots' artifacts (:mod:`tracelet.viewer.snapshot`):

* **Typed artifacts** (``run.log_artifact(run.create_artifact(...))``) are grouped by name, a
  typed artifact's identity: under each name, a row per run and version (in the report's run
  order, then by version) with its type, description, number of files, total size, metadata
  as ``key=value`` and its folder. So "which run has which version of the model, with which
  accuracy" reads down one table.
* **Other artifacts** (``run.log_artifact(path)``: files and folders, such as the environment
  collector's ``environment/requirements.txt``) are a row per name and a column per run, as
  the Params tab lays out params.

Folders and files are shown relative to their run's folder and link to it (``file://``). The
tab exists only when a run has an artifact: :func:`artifacts_panel` returns ``None`` otherwise.
Every text is escaped here: names, descriptions and metadata are the user's.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracelet.viewer.page_tables import escape, run_headers, run_label

if TYPE_CHECKING:
    from tracelet.artifacts import ArtifactInfo
    from tracelet.viewer.page import RunView
    from tracelet.viewer.snapshot import PlainArtifact

#: A metadata value longer than this is cut in its cell (its tooltip holds all of it).
VALUE_CHARS = 60
#: At most this many files and references are listed in the tooltip of a version's file count.
FILES_LISTED = 20


def artifact_count(runs: list[RunView]) -> int:
    """The typed artifact versions and other artifacts of the runs (the rows of the tab)."""
    return sum(len(r.snap.typed_artifacts) + len(r.snap.artifacts) for r in runs)


def artifacts_panel(runs: list[RunView]) -> str | None:
    """The Artifacts tab, or ``None`` when no run has an artifact (then there is no tab)."""
    versions = sum(len(r.snap.typed_artifacts) for r in runs)
    others = sum(len(r.snap.artifacts) for r in runs)
    if not versions and not others:
        return None
    names = sorted({a.name for r in runs for a in r.snap.typed_artifacts})
    holders = sum(bool(r.snap.typed_artifacts or r.snap.artifacts) for r in runs)
    note = (
        f"{versions} version(s) of {len(names)} typed artifact(s) and {others} other artifact(s), "
        f"in {holders} of {len(runs)} run(s). Folders and files are shown relative to their "
        "run's folder (Runs tab) and link to it on this machine."
    )
    parts = [f'<p class="note">{escape(note)}</p>']
    if versions:
        parts.append("<h2>Typed artifacts</h2>")
        parts.extend(_typed_group(runs, name) for name in names)
    if others:
        parts.append(f"<h2>Other artifacts</h2>{_plain_table(runs)}")
    return "".join(parts)


# -- typed artifacts ---------------------------------------------------------------------------


def _typed_group(runs: list[RunView], name: str) -> str:
    """One artifact name: a row per run and version."""
    rows: list[str] = []
    holders = 0
    for r in runs:
        versions = sorted(
            (a for a in r.snap.typed_artifacts if a.name == name), key=lambda a: a.version
        )
        holders += bool(versions)
        rows.extend(_typed_row(r, a) for a in versions)
    summary = f"{len(rows)} version(s) in {holders} of {len(runs)} run(s)"
    return (
        f'<div class="artifact-name" data-name="{escape(name)}">'
        f'<h3>{escape(name)} <span class="note">{escape(summary)}</span></h3>'
        '<div class="scroll"><table class="artifacts typed"><thead><tr><th>run</th>'
        "<th>version</th><th>type</th><th>description</th><th>files</th><th>size</th>"
        "<th>metadata</th><th>folder</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div></div>"
    )


def _typed_row(run: RunView, a: ArtifactInfo) -> str:
    size = sum(f.size for f in a.files)
    files = f"{len(a.files):,}"
    if a.references:
        files += f" + {len(a.references)} reference(s)"
    description = (
        f'<td class="text">{escape(a.description)}</td>'
        if a.description
        else '<td class="missing">—</td>'
    )
    folder = _path_link(run.snap.path, a.path) if a.path is not None else "—"
    return (
        f"<tr><td>{run_label(run)}</td>"
        f'<td class="num">v{a.version}</td>'
        f"<td>{escape(a.type.value)}</td>"
        f"{description}"
        f'<td class="num" title="{escape(_contents(a))}">{escape(files)}</td>'
        f'<td class="num" title="{size:,} bytes">{escape(size_text(size))}</td>'
        f"{_metadata_cell(a.metadata)}"
        f"<td>{folder}</td></tr>"
    )


def _contents(a: ArtifactInfo) -> str:
    """The tooltip of a version's file count: its files with their sizes, its references."""
    lines = [f"{f.path} ({size_text(f.size)})" for f in a.files]
    lines += [f"{r.name} → {r.uri}" for r in a.references]
    shown = lines[:FILES_LISTED]
    if len(lines) > FILES_LISTED:
        shown.append(f"… and {len(lines) - FILES_LISTED} more")
    return "\n".join(shown) or "no files"


def _metadata_cell(metadata: dict[str, Any]) -> str:
    """The metadata as ``key=value`` chips, by key; a long value is cut (whole in its tooltip)."""
    from tracelet.viewer.selection import param_text

    if not metadata:
        return '<td class="missing">—</td>'
    chips = []
    for key in sorted(metadata):
        text = f"{key}={param_text(metadata[key])}"
        shown = text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"
        tip = f' title="{escape(text)}"' if shown != text else ""
        chips.append(f'<span class="tag"{tip}>{escape(shown)}</span>')
    return f'<td class="metadata">{" ".join(chips)}</td>'


# -- other artifacts ---------------------------------------------------------------------------


def _plain_table(runs: list[RunView]) -> str:
    """A row per artifact name, a column per run: where each run's copy is."""
    names = sorted({a.name for r in runs for a in r.snap.artifacts})
    rows = []
    for name in names:
        cells = "".join(
            _plain_cell(r, next((a for a in r.snap.artifacts if a.name == name), None))
            for r in runs
        )
        rows.append(f"<tr><th>{escape(name)}</th>{cells}</tr>")
    return (
        '<div class="scroll"><table class="artifacts plain">'
        f"<thead><tr><th>artifact</th>{run_headers(runs)}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _plain_cell(run: RunView, artifact: PlainArtifact | None) -> str:
    if artifact is None:
        return '<td class="missing">—</td>'
    if artifact.path is None:
        return '<td class="missing">not copied: its source was gone</td>'
    return f"<td>{_path_link(run.snap.path, artifact.path, folder=artifact.is_dir)}</td>"


# -- cell formats ------------------------------------------------------------------------------


def _path_link(run_dir: Path, path: Path, *, folder: bool = True) -> str:
    """``path`` relative to the run folder, linking to it; a folder's text ends with ``/``."""
    absolute = path.absolute()
    try:
        shown = path.relative_to(run_dir).as_posix()
    except ValueError:  # not inside the run folder: shown whole
        shown = str(absolute)
    if folder:
        shown += "/"
    return (
        f'<a href="{escape(absolute.as_uri())}" title="{escape(str(absolute))}">'
        f"<code>{escape(shown)}</code></a>"
    )


def size_text(size: int) -> str:
    """A size in bytes for the reader, in decimal units: ``18 B``, ``1.5 kB``, ``2.3 GB``."""
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in ("kB", "MB", "GB", "TB"):  # noqa: B007 - the last unit is used after the loop
        value /= 1000
        if value < 999.95:
            break
    return f"{value:.1f} {unit}"
