"""``tracelet report``: runs logged through Tracelet, the command, and the page in a real browser.

The browser tests open the written file in Debian's headless chromium (``browser.py``) and
check what a person would see: no script error, no network request, a chart per metric with a
line per run, the spike among the drawn values, the params that differ highlighted, the media,
and the controls (smoothing, run toggles, x axis). Without chromium they fail and say how to
install it. Screenshots of every tab are kept under the test's temporary folder.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import sys
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.processes import checked, run

from tracelet.backends.local import list_runs
from tracelet.delivery_state import DeliveryState
from tracelet.journal import Position
from tracelet.viewer.links import backend_links, describe_identity
from tracelet.viewer.selection import Condition, SelectionError
from tracelet.viewer.snapshot import read_snapshot, scan_records

from .browser import MISSING, Chromium, chromium_path

TRACELET = [sys.executable, "-m", "tracelet.cli"]
SPIKE = 12345.0
POINTS = 20_000  # per run and metric: far more than a chart draws

LOG_RUNS = f"""
import math, matplotlib, plotly.graph_objects as go, tracelet
matplotlib.use("Agg")
from matplotlib.figure import Figure
from tracelet.media import encode_png
from tracelet_collectors.naming import system_prefix

for i, (lr, optimizer) in enumerate([(0.1, "adam"), (0.01, "adam"), (0.001, "sgd")]):
    run = tracelet.start_logging(exp_name=f"lr{{lr}}", project="viz", group="sweep")
    run.log_params({{"lr": lr, "optimizer": optimizer, "batch_size": 64}})
    run.set_tags({{"seed": i, "stage": "dev"}})
    for s in range({POINTS}):
        loss = 2.0 / (1.0 + lr * s) + (s % 7) * 1e-3
        if lr == 0.01 and s == 7777:
            loss = {SPIKE}
        run.log_metrics({{"train/loss": loss, "train/acc": 1 - loss / 4}}, step=s)
        if s % 100 == 0:
            run.log_metric(system_prefix() + "cpu_percent", 40.0 + i + s % 13, step=s // 100)
    for s in range(3):
        pixels = bytes((x * 8 + 60 * s + 40 * i) % 256 for x in range(8 * 8 * 3))
        run.log_image("samples", encode_png(pixels, 8, 8, 3), step=1000 * s, caption=f"c{{s}}")
    run.log_figure("confusion", go.Figure(go.Heatmap(z=[[1, 2], [3, 4 + i]])), step={POINTS})
    figure = Figure()
    figure.add_subplot().plot([0, 1, 2], [0, i, 2 * i])
    run.log_figure("curve", figure, step={POINTS})
    run.log_histogram("weights", [math.sin(k + i) for k in range(500)], step={POINTS})
    run.log_text("notes", f"run {{i}}: <b>lr</b> = {{lr}}", step=0)
    run.stop()
"""


@dataclass
class Logged:
    """Three runs logged through Tracelet (local backend) and their report."""

    root: Path
    folders: list[Path]
    report: Path
    stdout: str
    stderr: str


def log_runs(work: Path, script: str) -> dict[str, str]:
    """Run ``script`` in a child process in ``work``, its runs' folders under ``work/runs``;
    return the env that points Tracelet (and ``tracelet report``) there."""
    env = {"TRACELET_LOCAL__PATH": str(work / "runs")}
    checked(run([sys.executable, "-c", script], work, env=env, timeout=300))
    return env


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Logged:
    work = tmp_path_factory.mktemp("report")
    root = work / "runs"
    env = log_runs(work, LOG_RUNS)
    folders = [r.path for r in list_runs(root)]  # oldest first: lr0.1, lr0.01, lr0.001
    assert len(folders) == 3
    result = checked(
        run([*TRACELET, "report", "--group", "sweep", "-o", "report.html"], work, env=env)
    )
    return Logged(root, folders, work / "report.html", result.stdout, result.stderr)


def page_data(report: Path) -> dict[str, Any]:
    """The JSON block of a written report."""
    text = report.read_text(encoding="utf-8")
    found = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', text)
    assert found is not None
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def floats(b64: str) -> list[float]:
    values = array("d")
    values.frombytes(base64.b64decode(b64))
    return list(values)


def open_browser(tmp_path: Path) -> Chromium:
    if chromium_path() is None:
        pytest.fail(MISSING)
    return Chromium(tmp_path / "profile")


def show_tab(browser: Chromium, tab: str) -> None:
    browser.evaluate(f"document.querySelector('.tab[data-tab={tab}]').click()")
    browser.wait_for("document.documentElement.dataset.status === 'ready'")


#: Every drawn chart: its name, the run label and number of points of each line, and the
#: largest y value plotly holds for each line.
CHARTS_JS = """
Array.from(document.querySelectorAll('.panel.active .chart-box')).map(box => {
  const el = box.querySelector('[data-chart]');
  return {
    name: box.dataset.name, rendered: el.dataset.rendered, x: el.dataset.x || null,
    svgTraces: el.querySelectorAll('.scatterlayer .trace').length,
    traces: (el.data || []).map(t => ({
      name: t.name, points: t.y.length, visible: t.visible,
      max: Math.max.apply(null, Array.from(t.y).filter(Number.isFinite)),
    })),
  };
})
"""


# -- the command -------------------------------------------------------------------------------


def test_the_command_prints_only_the_path_and_summarises_on_stderr(logged: Logged) -> None:
    assert logged.stdout == "report.html\n"
    assert "3 run(s), 2 metric and 1 system chart(s)" in logged.stderr
    html = logged.report.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    # self-contained: nothing is loaded from elsewhere, and the page forbids it
    assert not re.search(r"<(script|img|link|iframe)[^>]+(src|href)=\"(?!data:)", html)
    assert "default-src 'none'" in html
    assert "Plotly" in html
    assert len(html) > 3_000_000


def test_each_curve_is_downsampled_and_keeps_its_spike(logged: Logged) -> None:
    data = page_data(logged.report)
    assert [r["label"] for r in data["runs"]] == ["lr0.1", "lr0.01", "lr0.001"]
    loss = next(c for c in data["charts"] if c.get("name") == "train/loss")
    assert [t["run"] for t in loss["traces"]] == [0, 1, 2]
    for trace in loss["traces"]:
        assert trace["points"] == POINTS
        ys, steps = floats(trace["y"]), floats(trace["x"])
        assert len(ys) <= 2000
        assert len(steps) == len(ys)
        assert steps[0] == 0
        assert steps[-1] == POINTS - 1
    assert max(floats(loss["traces"][1]["y"])) == SPIKE
    assert max(floats(loss["traces"][0]["y"])) < 10


# -- in the browser ----------------------------------------------------------------------------


def test_the_page_draws_every_chart_with_no_error_and_no_request(
    logged: Logged, tmp_path: Path
) -> None:
    with open_browser(tmp_path) as browser:
        browser.open(logged.report.as_uri())
        browser.wait_for("document.documentElement.dataset.status === 'ready'")
        metrics = browser.evaluate(CHARTS_JS)
        browser.screenshot(tmp_path / "metrics.png")
        show_tab(browser, "system")
        system = browser.evaluate(CHARTS_JS)
        browser.screenshot(tmp_path / "system.png")
        errors_shown = browser.evaluate("document.getElementById('report-errors').hidden")
        log = browser.log()

    assert log.exceptions == []
    assert log.console_errors == []
    page = logged.report.as_uri()
    assert [u for u in log.requests if u != page and not u.startswith("data:")] == []
    assert errors_shown is True

    assert [c["name"] for c in metrics] == ["train/acc", "train/loss"]
    for chart in metrics:
        assert chart["rendered"] == "yes"
        assert chart["x"] == "step"
        assert chart["svgTraces"] == 3
        assert [t["name"] for t in chart["traces"]] == ["lr0.1", "lr0.01", "lr0.001"]
        assert all(0 < t["points"] <= 2000 for t in chart["traces"])
    loss = next(c for c in metrics if c["name"] == "train/loss")
    assert [t["max"] == SPIKE for t in loss["traces"]] == [False, True, False]

    assert [c["name"] for c in system] == ["system/cpu_percent"]
    assert system[0]["x"] == "time"  # system samples are counted, not training steps
    assert [t["points"] for t in system[0]["traces"]] == [POINTS // 100] * 3
    for shot in ("metrics.png", "system.png"):
        assert (tmp_path / shot).read_bytes().startswith(b"\x89PNG")


def test_params_runs_and_media_tabs(logged: Logged, tmp_path: Path) -> None:
    with open_browser(tmp_path) as browser:
        browser.open(logged.report.as_uri() + "#params")
        browser.wait_for("document.documentElement.dataset.status === 'ready'")
        params = browser.evaluate(
            "Array.from(document.querySelectorAll('#params-table tbody tr')).map(tr => "
            "[tr.querySelector('th').textContent, tr.classList.contains('differs'), "
            "Array.from(tr.querySelectorAll('td')).map(td => td.textContent)])"
        )
        browser.evaluate("document.getElementById('only-differing').click()")
        shown = browser.evaluate(
            "Array.from(document.querySelectorAll('#params-table tbody tr'))"
            ".filter(tr => tr.offsetParent !== null).length"
        )
        browser.screenshot(tmp_path / "params.png")
        show_tab(browser, "runs")
        runs = browser.evaluate(
            "Array.from(document.querySelectorAll('table.runs tbody tr')).map(tr => "
            "Array.from(tr.querySelectorAll('td')).map(td => td.textContent))"
        )
        browser.screenshot(tmp_path / "runs.png")
        show_tab(browser, "media")
        media = browser.evaluate(
            "({images: Array.from(document.querySelectorAll('figure.image img'))"
            ".map(i => [i.src.slice(0, 22), i.naturalWidth]),"
            " figures: Array.from(document.querySelectorAll('figure.figure'))"
            ".map(f => f.querySelector('img') ? 'png' : f.querySelector('[data-rendered=yes]') "
            "? 'plotly' : 'none'),"
            " histograms: Array.from(document.querySelectorAll('.media-name > [data-chart]'))"
            ".filter(e => e.data).map(e => e.data.length),"
            " texts: Array.from(document.querySelectorAll('figure.text pre'))"
            ".map(p => p.textContent)})"
        )
        browser.screenshot(tmp_path / "media.png")
        log = browser.log()
    assert log.exceptions == []
    assert log.console_errors == []

    differs = {name: flag for name, flag, _ in params}
    assert differs == {"batch_size": False, "lr": True, "optimizer": True}
    assert [cells for name, _, cells in params if name == "lr"] == [["0.1", "0.01", "0.001"]]
    assert shown == 2  # "only those that differ"

    assert [row[0] for row in runs] == ["lr0.1", "lr0.01", "lr0.001"]
    for row in runs:
        status, group, project, _started, duration, points, tags = row[1:8]
        assert (status, group, project) == ("finished", "sweep", "viz")
        assert duration.endswith(" s")
        assert points == f"{2 * POINTS + POINTS // 100:,}"
        assert "stage=dev" in tags
    assert next(row[7] for row in runs).startswith("seed=0")

    assert media["images"] == [["data:image/png;base64,", 8]] * 9  # 3 runs x 3 steps
    assert sorted(media["figures"]) == ["plotly"] * 3 + ["png"] * 3
    assert media["histograms"] == [3]  # one chart, a line per run
    assert media["texts"] == ["run 0: <b>lr</b> = 0.1", "run 1: <b>lr</b> = 0.01",
                              "run 2: <b>lr</b> = 0.001"]  # fmt: skip


def test_smoothing_run_toggles_and_the_x_axis(logged: Logged, tmp_path: Path) -> None:
    with open_browser(tmp_path) as browser:
        browser.open(logged.report.as_uri())
        browser.wait_for("document.documentElement.dataset.status === 'ready'")

        def loss() -> dict[str, Any]:
            charts = browser.evaluate(CHARTS_JS)
            return next(c for c in charts if c["name"] == "train/loss")  # type: ignore[no-any-return]

        browser.evaluate(
            "const s = document.getElementById('smoothing'); s.value = '0.9';"
            "s.dispatchEvent(new Event('input'))"
        )
        browser.wait_for("document.getElementById('smoothing-value').textContent === '0.90'")
        browser.wait_for(
            "Math.max.apply(null, Array.from(document.querySelector('[data-chart=c1]').data[1].y))"
            f" < {SPIKE}"
        )
        smoothed = loss()
        browser.evaluate("document.querySelector('.chip[data-run=\"0\"]').click()")
        toggled = loss()
        browser.evaluate(
            "const x = document.getElementById('x-axis'); x.value = 'time';"
            "x.dispatchEvent(new Event('change'))"
        )
        browser.wait_for("document.querySelector('[data-chart=c1]').dataset.x === 'time'")
        title = browser.evaluate(
            "document.querySelector('[data-chart=c1]').layout.xaxis.title.text"
        )
        log = browser.log()
    assert log.exceptions == []
    assert log.console_errors == []
    assert smoothed["name"] == "train/loss"
    assert 0 < smoothed["traces"][1]["max"] < SPIKE  # an average of the spike's neighbourhood
    assert [t["visible"] for t in toggled["traces"]] == [False, True, True]
    assert title == "seconds since the run started"


# -- selection ---------------------------------------------------------------------------------


def report(*args: str, cwd: Path, root: Path) -> Any:
    return run([*TRACELET, "report", *args], cwd, env={"TRACELET_LOCAL__PATH": str(root)})


def runs_in(report_file: Path) -> list[str]:
    return [r["label"] for r in page_data(report_file)["runs"]]


def test_runs_are_selected_by_folder_id_name_latest_project_group_and_where(
    logged: Logged, tmp_path: Path
) -> None:
    root = logged.root
    first, second, third = logged.folders
    cases: list[tuple[list[str], list[str]]] = [
        ([str(first), str(third)], ["lr0.1", "lr0.001"]),
        ([second.name], ["lr0.01"]),  # a run id
        (["lr0.001", "latest"], ["lr0.001"]),  # a name; latest is the same run: listed once
        (["--project", "viz", "--where", "lr<0.05"], ["lr0.01", "lr0.001"]),
        (["--where", "lr>=0.01", "--where", "optimizer=adam"], ["lr0.1", "lr0.01"]),
        (["--where", "optimizer!=adam"], ["lr0.001"]),
        (["--where", "batch_size==64", "--group", "sweep"], ["lr0.1", "lr0.01", "lr0.001"]),
        (["--where", "lr=1e-3"], ["lr0.001"]),  # numbers compare as numbers
    ]
    for args, expected in cases:
        out = tmp_path / "r.html"
        result = report(*args, "-o", str(out), "--media", "0", cwd=tmp_path, root=root)
        assert result.returncode == 0, (args, result.stderr)
        assert result.stdout == f"{out}\n"
        assert runs_in(out) == expected, args


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--where", "lr"], "bad --where 'lr': expected NAME OP VALUE"),
        (["--where", "<0.1"], "bad --where '<0.1'"),
        (["--where", "lr<"], "bad --where 'lr<'"),
        (["--where", "lr<0.0001"], "no run matches: where 'lr<0.0001'"),
        (["--group", "nope"], "no run matches: group 'nope'"),
        (["no-such-run"], "no run 'no-such-run'"),
        ([], "name runs (folders, ids, names or 'latest')"),
    ],
)
def test_wrong_selections_exit_2_and_say_why(
    logged: Logged, tmp_path: Path, args: list[str], message: str
) -> None:
    result = report(*args, cwd=tmp_path, root=logged.root)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "tracelet-report.html").exists()


def test_conditions_compare_numbers_as_numbers_and_text_as_text() -> None:
    params = {"lr": 0.005, "text_lr": "5e-3", "name": "b", "flag": True, "none": None}
    holds = [
        "lr<0.01", "lr<=0.005", "lr>1e-3", "lr!=0.1", "text_lr=0.005", "text_lr<0.01",
        "name>a", "name=b", "flag=true", "none=null",
    ]  # fmt: skip
    fails = ["lr>0.01", "lr=0.1", "name<a", "flag=1", "missing!=x", "missing=x"]
    for text in holds:
        assert Condition.parse(text).matches(params), text
    for text in fails:
        assert not Condition.parse(text).matches(params), text
    assert Condition.parse(" lr  <=  0.1 ").name == "lr"
    for typo in ("lr=>1", "lr<<1", "lr=!2"):
        with pytest.raises(SelectionError, match=f"bad --where '{re.escape(typo)}'"):
            Condition.parse(typo)


# -- without plotly, reading ---------------------------------------------------------------------


def test_without_plotly_the_command_exits_1_and_names_the_install_command(
    logged: Logged, tmp_path: Path
) -> None:
    code = (
        "import sys\n"
        "sys.modules['plotly'] = None  # as if it were not installed\n"
        "from tracelet.cli import main\n"
        f"sys.exit(main(['report', {str(logged.folders[0])!r}]))\n"
    )
    result = run([sys.executable, "-c", code], tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert 'pip install "plotly>=6"' in result.stderr
    assert 'pip install --find-links dist "tracelet[report]==' in result.stderr
    assert not (tmp_path / "tracelet-report.html").exists()


def test_snapshot_reads_objects_among_points_and_stops_before_a_cut_line(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "run.json").write_text(json.dumps({"id": "r", "name": "r", "project": "p"}))
    (folder / "records.jsonl").write_bytes(
        b'{"type":"param","name":"lr","value":0.1,"seq":0}\n'
        b'["loss",1.0,0,10.0,1]\n["loss","NaN",1,11.0,2]\n["loss",3.0,2,12.0,3]\n'
        b'{"type":"tag","name":"k","value":"v","seq":4}\n'
        b'{"type":"metric","name":"old","value":2.0,"step":0,"ts":10.0,"seq":5}\n'
        b'["odd{name",5.0,0,10.5,6]\n'  # a "{" that does not start a record
        b'{"type":"param","name":"cut","va'
    )
    assert [r["seq"] for r in scan_records(folder)] == [0, 4, 5]
    snap = read_snapshot(folder, max_points=100, media_limit=2)
    assert snap.params == {"lr": 0.1}
    assert snap.tags == {"k": "v"}
    loss = snap.curves["loss"]
    assert (loss.points, loss.last, loss.low, loss.high) == (3, 3.0, 1.0, 3.0)
    assert list(loss.steps) == [0, 1, 2]
    assert list(loss.seconds) == [0.0, 1.0, 2.0]  # no start_time: from the first point
    assert snap.curves["old"].points == 1  # format version 1 wrote points as objects
    assert list(snap.curves["odd{name"].values) == [5.0]


# -- links to other backends ---------------------------------------------------------------------


def test_identities_become_links_or_say_what_is_unknown(tmp_path: Path) -> None:
    sqlite = describe_identity(
        "mlflow", {"tracking_uri": "sqlite:////data/m.db", "experiment_id": "1", "run_id": "ab"}
    )
    assert sqlite[0] is not None
    assert sqlite[0].command == "mlflow ui --backend-store-uri sqlite:////data/m.db"
    assert sqlite[0].url == "http://127.0.0.1:5000/#/experiments/1/runs/ab"
    assert sqlite[0].path == "/data/m.db"
    server, _ = describe_identity(
        "mlflow", {"tracking_uri": "http://mlflow:5000/", "experiment_id": "2", "run_id": "cd"}
    )
    assert server is not None
    assert server.url == "http://mlflow:5000/#/experiments/2/runs/cd"
    wandb, _ = describe_identity("wandb", {"mode": "offline", "run_id": "x", "folder": "/w/r x"})
    assert wandb is not None
    assert wandb.command == "wandb sync '/w/r x'"
    online, note = describe_identity("wandb", None)
    assert online is None
    assert "not kept in the run folder" in note
    clearml, _ = describe_identity("clearml", {"offline": True, "task_id": "t", "folder": "/c/s"})
    assert clearml is not None
    assert clearml.path == "/c/s.zip"
    assert clearml.command == (
        """python -c 'from clearml import Task; Task.import_offline_session("/c/s.zip")'"""
    )
    aim, _ = describe_identity("aim", {"repo": "/a", "run_hash": "h"})
    assert aim is not None
    assert (aim.id, aim.command) == ("h", "aim up --repo /a")
    remote, note = describe_identity("aim", {"repo": "aim://host:53800", "run_hash": "h"})
    assert remote is not None
    assert remote.command is None
    assert "aim://host:53800" in note


def test_the_runs_tab_links_each_backend_from_the_delivery_state(
    logged: Logged, tmp_path: Path
) -> None:
    folder = tmp_path / "run"
    shutil.copytree(logged.folders[0], folder)
    meta = json.loads((folder / "run.json").read_text())
    meta["backends"] = ["mlflow", "wandb", "aim"]
    (folder / "run.json").write_text(json.dumps(meta))
    state = DeliveryState.load(folder, "mlflow")
    state.identity = {"tracking_uri": "sqlite:////m.db", "experiment_id": "3", "run_id": "r1"}
    state.closed = True
    state.cursor = Position(10**9, 0)  # past the end of the journal: nothing behind
    state.save()
    links = {b.backend: b for b in backend_links(folder, meta["backends"])}
    assert list(links) == ["mlflow", "wandb", "aim"]
    assert links["mlflow"].delivery == "complete"
    assert links["wandb"].link is None
    assert "never started" in links["wandb"].note

    out = tmp_path / "r.html"
    checked(run([*TRACELET, "report", str(folder), "-o", str(out)], tmp_path))
    html = out.read_text(encoding="utf-8")
    assert "mlflow ui --backend-store-uri sqlite:////m.db" in html
    assert "http://127.0.0.1:5000/#/experiments/3/runs/r1" in html
