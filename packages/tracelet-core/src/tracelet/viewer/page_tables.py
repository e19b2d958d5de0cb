"""The tables of ``tracelet report``'s Params and Runs tabs, as HTML, and the cell helpers
the other tables share (:mod:`tracelet.viewer.page_artifacts`).

Pure functions of the runs shown (:class:`~tracelet.viewer.page.RunView`): they add nothing to
the page's chart data, so :class:`~tracelet.viewer.page.Page` only places what they return. A
value missing for a run shows as ``—``; every text is HTML-escaped here.
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracelet.viewer.page import RunView
    from tracelet.viewer.snapshot import RunSnapshot


def params_panel(runs: list[RunView]) -> str:
    """The Params tab: a row per param, a column per run; rows that differ are highlighted."""
    names = sorted({n for r in runs for n in r.snap.params})
    if not names:
        return '<p class="empty">These runs logged no params.</p>'
    differing = 0
    rows = []
    for name in names:
        cells = [_param_cell(r.snap.params, name) for r in runs]
        differs = len(runs) > 1 and len(set(cells)) > 1
        differing += differs
        row_class = ' class="differs"' if differs else ""
        tds = "".join(
            f"<td>{escape(c)}</td>" if c is not None else '<td class="missing">—</td>'
            for c in cells
        )
        rows.append(f"<tr{row_class}><th>{escape(name)}</th>{tds}</tr>")
    note = (
        f"{differing} of {len(names)} params differ between the runs (highlighted)."
        if len(runs) > 1
        else f"{len(names)} params."
    )
    return (
        f'<p class="note">{escape(note)} <label><input type="checkbox" id="only-differing"> '
        f"only those that differ</label></p>"
        f'<div class="scroll"><table class="params" id="params-table">'
        f"<thead><tr><th>param</th>{run_headers(runs)}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def runs_panel(runs: list[RunView]) -> str:
    """The Runs tab: status, times, tags and ids; the last value of each metric; where each
    run is in the other backends."""
    rows = []
    for r in runs:
        s = r.snap
        meta = s.meta
        tags = " ".join(
            f'<span class="tag">{escape(k)}={escape(v)}</span>' for k, v in sorted(s.tags.items())
        )
        rows.append(
            "<tr>"
            f"<td>{run_label(r)}</td>"
            f"<td>{_status(meta)}</td>"
            f"<td>{escape(str(meta.get('group') or '—'))}</td>"
            f"<td>{escape(str(meta.get('project', '')))}</td>"
            f"<td>{escape(when(meta.get('start_time')))}</td>"
            f"<td>{escape(_duration(s))}</td>"
            f'<td class="num">{s.points:,}</td>'
            f"<td>{tags or '—'}</td>"
            f"<td><code>{escape(str(meta.get('id', '')))}</code></td>"
            f"<td><code>{escape(str(s.path))}</code></td>"
            "</tr>"
        )
    runs_table = (
        '<div class="scroll"><table class="runs"><thead><tr><th>run</th><th>status</th>'
        "<th>group</th><th>project</th><th>started</th><th>duration</th><th>points</th>"
        "<th>tags</th><th>id</th><th>folder</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )
    return (
        f"<h2>Runs</h2>{runs_table}<h2>Last values</h2>{_last_values(runs)}"
        f"<h2>In other backends</h2>{_backends_table(runs)}"
    )


def _last_values(runs: list[RunView]) -> str:
    """The last value of each metric per run; the cell's tooltip gives min, max, points."""
    names = sorted({n for r in runs for n in r.snap.curves})
    if not names:
        return '<p class="empty">No metrics.</p>'
    rows = []
    for name in names:
        cells = []
        for r in runs:
            c = r.snap.curves.get(name)
            if c is None:
                cells.append('<td class="missing">—</td>')
                continue
            tip = f"step {c.last_step}; min {_num(c.low)}, max {_num(c.high)}; "
            tip += f"{c.points:,} points"
            cells.append(f'<td class="num" title="{escape(tip)}">{escape(_num(c.last))}</td>')
        rows.append(f"<tr><th>{escape(name)}</th>{''.join(cells)}</tr>")
    return (
        '<div class="scroll"><table class="values"><thead><tr><th>metric (last value; '
        f"hover for min, max)</th>{run_headers(runs)}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _backends_table(runs: list[RunView]) -> str:
    """Per run and backend: how far delivery got and where to look at the run there."""
    rows = []
    for r in runs:
        for b in r.links:
            link = b.link
            parts = []
            if link is not None and link.id:
                parts.append(f"id <code>{escape(link.id)}</code>")
            if link is not None and link.url:
                parts.append(f'<a href="{escape(link.url)}">{escape(link.url)}</a>')
            if link is not None and link.path:
                parts.append(f"<code>{escape(link.path)}</code>")
            if link is not None and link.command:
                parts.append(f'<code class="command">{escape(link.command)}</code>')
            rows.append(
                f"<tr><td>{escape(r.label)}</td><td>{escape(b.backend)}</td>"
                f"<td>{escape(b.delivery or '—')}</td><td>{'<br>'.join(parts) or '—'}</td>"
                f"<td>{escape(b.note)}</td></tr>"
            )
    if not rows:
        return '<p class="empty">These runs were logged to the local backend only.</p>'
    return (
        '<div class="scroll"><table class="backends"><thead><tr><th>run</th>'
        "<th>backend</th><th>delivery</th><th>where</th><th>note</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def run_label(run: RunView) -> str:
    """The run's name after a swatch of its colour (as in the run buttons and charts)."""
    return f'<span class="swatch" style="background:{run.color}"></span>{escape(run.label)}'


def run_headers(runs: list[RunView]) -> str:
    """The table header cells naming each run in its colour."""
    return "".join(f"<th>{run_label(r)}</th>" for r in runs)


# -- cell formats -----------------------------------------------------------------------------


def escape(text: str) -> str:
    """``text`` escaped for HTML text and attribute values."""
    return html.escape(text, quote=True)


def _param_cell(params: Mapping[str, Any], name: str) -> str | None:
    from tracelet.viewer.selection import param_text

    return param_text(params[name]) if name in params else None


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    if math.isnan(value):
        return "NaN"
    return f"{value:.6g}"


def when(timestamp: Any) -> str:
    """A local date and time to the second, ``—`` for none."""
    if not isinstance(timestamp, (int, float)):
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


def _duration(snap: RunSnapshot) -> str:
    meta = snap.meta
    start, end = meta.get("start_time"), meta.get("end_time")
    if not isinstance(start, (int, float)):
        return "—"
    if isinstance(end, (int, float)):
        return _seconds(end - start)
    if snap.last_time is not None:
        return f"{_seconds(snap.last_time - start)} so far (last record)"
    return "—"


def _seconds(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _status(meta: Mapping[str, Any]) -> str:
    status = str(meta.get("status", "?"))
    text = status
    if status == "running":
        from tracelet.syncing import process_alive

        alive = process_alive(dict(meta))
        if alive is False:
            text = "running? (its process is gone: killed)"
        elif alive is None:
            text = f"running (on {meta.get('host', 'another host')})"
    return f'<span class="status status-{escape(status)}">{escape(text)}</span>'
