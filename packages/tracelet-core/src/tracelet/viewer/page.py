"""The HTML of ``tracelet report``, built from run snapshots (:mod:`tracelet.viewer.report`).

The page is one file: ``report.css``, plotly.js and ``report.js`` inlined, the curves and
figures as one JSON block (``<script type="application/json" id="report-data">``: each curve
as base64 little-endian float64 arrays of steps, seconds since the run started and values),
and the tables as HTML. Tabs: Metrics, System (names starting ``system/`` or ``gpu/``),
Params, Runs (status, times, tags, last values, other backends), Media, and Artifacts when a
run has one.

This module lays out the document and builds the tabs that carry chart data (Metrics, System,
Media); the tables of the Params and Runs tabs come from :mod:`tracelet.viewer.page_tables`,
the Artifacts tab from :mod:`tracelet.viewer.page_artifacts`.
"""

from __future__ import annotations

import base64
import re
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tracelet._version import __version__
from tracelet.viewer.page_artifacts import artifact_count, artifacts_panel
from tracelet.viewer.page_tables import escape as _e
from tracelet.viewer.page_tables import params_panel, runs_panel, when

if TYPE_CHECKING:
    from tracelet.viewer.links import BackendLink
    from tracelet.viewer.snapshot import MediaItem, RunSnapshot

#: Runs get these colours in order (plotly's default sequence, then its Dark24), then again.
PALETTE = (
    "#636EFA", "#EF553B", "#00CC96", "#AB63FA", "#FFA15A", "#19D3F3", "#FF6692", "#B6E880",
    "#FF97FF", "#FECB52", "#2E91E5", "#E15F99", "#1CA71C", "#FB0D0D", "#DA16FF", "#222A2A",
    "#B68100", "#750D86", "#EB663B", "#511CFB", "#00A08B", "#FB00D1", "#FC0080", "#B2828D",
    "#6C7C32", "#778AAE", "#862A16", "#A777F1", "#620042", "#1616A7", "#DA60CA", "#6C4516",
    "#0D2A63", "#AF0038",
)  # fmt: skip
#: Everything the page may load: its own inline code and styles, and data: images and fonts;
#: no request can leave the page. 'unsafe-eval' is for logged plotly figures drawn with WebGL
#: (regl compiles its shaders' glue with ``Function``); it opens no connection.
CSP = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
    "img-src data:; font-src data:"
)


@dataclass
class RunView:
    """A snapshot with what the page shows of it."""

    snap: RunSnapshot
    label: str
    color: str
    links: list[BackendLink] = field(default_factory=list)


class Page:
    """The HTML of a report: build it with :meth:`html` (which also fills in the counts)."""

    def __init__(self, snapshots: list[RunSnapshot], title: str | None, media_limit: int) -> None:
        from tracelet.viewer.links import backend_links

        labels = _labels(snapshots)
        self.runs = [
            RunView(s, label, PALETTE[i % len(PALETTE)], backend_links(s.path, _backends(s)))
            for i, (s, label) in enumerate(zip(snapshots, labels, strict=True))
        ]
        self.title = title or _default_title(labels)
        self.media_limit = media_limit
        self.charts: list[dict[str, Any]] = []
        self.metric_charts = self.system_charts = self.media_items = self.plotted = 0
        self.artifacts = 0

    # -- assembling ------------------------------------------------------------------------

    def html(self, plotly_script: str) -> str:
        import msgspec

        from tracelet.viewer.snapshot import is_system

        names = {n for r in self.runs for n in r.snap.curves}
        metrics = sorted((n for n in names if not is_system(n)), key=_by_section)
        system = sorted((n for n in names if is_system(n)), key=_by_section)
        self.metric_charts, self.system_charts = len(metrics), len(system)
        metric_panel = self._curves_panel(metrics, "metrics")
        system_panel = self._curves_panel(system, "system")
        media_panel = self._media_panel()
        tabs = [
            ("metrics", f"Metrics ({len(metrics)})", metric_panel),
            ("system", f"System ({len(system)})", system_panel),
            ("params", "Params", params_panel(self.runs)),
            ("runs", f"Runs ({len(self.runs)})", runs_panel(self.runs)),
            ("media", f"Media ({self.media_items})", media_panel),
        ]
        artifacts = artifacts_panel(self.runs)
        if artifacts is not None:  # no tab for runs without artifacts
            self.artifacts = artifact_count(self.runs)
            tabs.append(("artifacts", f"Artifacts ({self.artifacts})", artifacts))
        data = {
            "runs": [{"label": r.label, "color": r.color} for r in self.runs],
            "charts": self.charts,
        }
        blob = msgspec.json.encode(data).replace(b"<", b"\\u003c").decode()
        buttons = "".join(
            f'<button class="tab" data-tab="{key}">{_e(label)}</button>' for key, label, _ in tabs
        )
        panels = "".join(
            f'<section class="panel" id="panel-{key}" data-panel="{key}">{body}</section>'
            for key, _, body in tabs
        )
        chips = "".join(
            f'<button class="chip" data-run="{i}" title="{_e(str(r.snap.path))}">'
            f'<span class="swatch" style="background:{r.color}"></span>{_e(r.label)}</button>'
            for i, r in enumerate(self.runs)
        )
        subtitle = (
            f"{len(self.runs)} run(s) · generated {when(time.time())} by tracelet {__version__}"
        )
        return f"""<!DOCTYPE html>
<html lang="en" data-status="loading">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta http-equiv="x-dns-prefetch-control" content="off">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="tracelet {__version__}">
<title>{_e(self.title)}</title>
<style>{_static("report.css")}</style>
<script>{_inline_script(plotly_script)}</script>
</head>
<body>
<header>
<h1>{_e(self.title)}</h1>
<p class="subtitle">{_e(subtitle)}</p>
<div id="report-errors" hidden></div>
<nav class="tabs">{buttons}</nav>
<div class="toolbar" id="toolbar">
<label title="Exponential moving average over the plotted points (0: raw)">smoothing
<input type="range" id="smoothing" min="0" max="0.99" step="0.01" value="0">
<output id="smoothing-value">0</output></label>
<label>x <select id="x-axis"><option value="step">step</option>
<option value="time">time (s)</option></select></label>
<label><input type="checkbox" id="log-y"> log y</label>
<label>filter <input type="search" id="metric-filter" placeholder="metric name"></label>
<span class="chips">{chips}</span>
</div>
</header>
<main>{panels}</main>
<script type="application/json" id="report-data">{blob}</script>
<script>{_static("report.js")}</script>
</body>
</html>
"""

    # -- panels ----------------------------------------------------------------------------

    def _curves_panel(self, names: list[str], tab: str) -> str:
        if not names:
            what = "system metrics (system/…, gpu/…)" if tab == "system" else "metrics"
            return f'<p class="empty">These runs logged no {what}.</p>'
        parts: list[str] = []
        section = None
        for name in names:
            head = _section_of(name, tab)
            if head != section:
                if section is not None:
                    parts.append("</div>")
                section = head
                parts.append(f'<h2>{_e(head)}</h2><div class="grid">')
            chart_id = f"c{len(self.charts)}"
            traces = []
            for i, run in enumerate(self.runs):
                curve = run.snap.curves.get(name)
                if curve is None:
                    continue
                self.plotted += len(curve.values)
                traces.append(
                    {
                        "run": i,
                        "x": _b64(curve.steps),
                        "t": _b64(curve.seconds),
                        "y": _b64(curve.values),
                        "points": curve.points,
                    }
                )
            self.charts.append(
                {"id": chart_id, "kind": "line", "tab": tab, "name": name, "traces": traces}
            )
            summary = _curve_summary(self.runs, name)
            parts.append(
                f'<div class="chart-box" data-name="{_e(name)}"><h3>{_e(name)}</h3>'
                f'<div class="chart" data-chart="{chart_id}"></div>{summary}</div>'
            )
        parts.append("</div>")
        return "".join(parts)

    def _media_panel(self) -> str:
        kinds = (("image", "Images"), ("figure", "Figures"), ("histogram", "Histograms"),
                 ("text", "Texts"))  # fmt: skip
        parts = []
        left_out = sum(r.snap.media_left_out for r in self.runs)
        for kind, heading in kinds:
            names = sorted({m.name for r in self.runs for m in r.snap.media if m.kind == kind})
            if not names:
                continue
            parts.append(f"<h2>{heading}</h2>")
            for name in names:
                parts.append(f'<div class="media-name"><h3>{_e(name)}</h3>')
                if kind == "histogram":
                    parts.append(self._histogram(name))
                else:
                    for r in self.runs:
                        items = [m for m in r.snap.media if m.kind == kind and m.name == name]
                        if items:
                            self.media_items += len(items)
                            cells = "".join(self._media_item(m) for m in items)
                            parts.append(
                                f'<div class="media-row"><div class="media-run">'
                                f'<span class="swatch" style="background:{r.color}"></span>'
                                f'{_e(r.label)}</div><div class="strip">{cells}</div></div>'
                            )
                parts.append("</div>")
        if not parts:
            return '<p class="empty">These runs logged no images, figures, histograms or texts.</p>'
        cap = (
            f"Per name and run: the last {self.media_limit} images, figures and texts by step, "
            "and the last histogram"
            + (f"; {left_out:,} earlier record(s) left out." if left_out else ".")
        )
        return f'<p class="note">{_e(cap)} Click an image to enlarge it.</p>' + "".join(parts)

    def _media_item(self, m: MediaItem) -> str:
        label = f"step {m.step}" + (f" · {m.caption}" if m.caption else "")
        if m.missing:
            body = f'<div class="missing-file">{_e(m.missing)}</div>'
        elif m.png is not None:
            data = base64.b64encode(m.png).decode()
            body = f'<img src="data:image/png;base64,{data}" alt="{_e(m.name)} {_e(label)}">'
        elif m.figure is not None:
            chart_id = f"c{len(self.charts)}"
            self.charts.append({"id": chart_id, "kind": "figure", "figure": m.figure})
            body = f'<div class="chart figure" data-chart="{chart_id}"></div>'
        else:
            body = f"<pre>{_e(m.text or '')}</pre>"
        return f'<figure class="media {m.kind}">{body}<figcaption>{_e(label)}</figcaption></figure>'

    def _histogram(self, name: str) -> str:
        traces = []
        for i, r in enumerate(self.runs):
            for m in r.snap.media:
                if m.kind == "histogram" and m.name == name and m.edges and m.counts:
                    self.media_items += 1
                    centers = [(a + b) / 2 for a, b in zip(m.edges, m.edges[1:], strict=False)]
                    traces.append({"run": i, "x": centers, "y": m.counts, "step": m.step})
        chart_id = f"c{len(self.charts)}"
        self.charts.append({"id": chart_id, "kind": "histogram", "name": name, "traces": traces})
        return f'<div class="chart" data-chart="{chart_id}"></div>'


# -- small helpers -----------------------------------------------------------------------------


def _static(name: str) -> str:
    from importlib import resources

    return resources.files("tracelet.viewer").joinpath(name).read_text(encoding="utf-8")


def _b64(values: Iterable[float]) -> str:
    """Little-endian float64 in base64 (what the page decodes); ±inf become NaN (a gap)."""
    from array import array

    column = array("d", (v if v - v == 0.0 else float("nan") for v in values))
    if sys.byteorder != "little":
        column.byteswap()
    return base64.b64encode(column.tobytes()).decode()


def _labels(snapshots: list[RunSnapshot]) -> list[str]:
    """Run names; a name shared by several runs gets the run id added."""
    names = [str(s.meta.get("name") or s.path.name) for s in snapshots]
    return [
        f"{name} ({s.meta.get('id') or s.path.name})" if names.count(name) > 1 else name
        for name, s in zip(names, snapshots, strict=True)
    ]


def _default_title(labels: list[str]) -> str:
    shown = ", ".join(labels[:3])
    more = f" and {len(labels) - 3} more" if len(labels) > 3 else ""
    return f"Tracelet report: {shown}{more}"


def _backends(snap: RunSnapshot) -> list[str]:
    backends = snap.meta.get("backends") or []
    return [str(b) for b in backends]


def _inline_script(code: str) -> str:
    """``code`` made safe inside ``<script>``: a ``</script`` in a string would end it."""
    return re.sub(r"</(script)", r"<\\/\1", code, flags=re.IGNORECASE)


def _by_section(name: str) -> tuple[str, str]:
    """Sort key: the chart's section (see :func:`_section_of`), then its name."""
    return name.rpartition("/")[0], name


def _section_of(name: str, tab: str) -> str:
    """The heading a chart goes under: its name up to the last ``/``."""
    head, _, _ = name.rpartition("/")
    return head or ("system" if tab == "system" else "(no prefix)")


def _curve_summary(runs: list[RunView], name: str) -> str:
    """The points behind a chart, for the reader (what downsampling left out)."""
    logged = sum(r.snap.curves[name].points for r in runs if name in r.snap.curves)
    drawn = sum(len(r.snap.curves[name].values) for r in runs if name in r.snap.curves)
    text = f"{logged:,} points" + (f", {drawn:,} drawn" if drawn < logged else "")
    return f'<p class="chart-note">{_e(text)}</p>'
