"""``tracelet report``'s Artifacts tab: runs logged with typed and plain artifacts, the report
written by the command, and the tab read in a real headless browser (``browser.py``).

Three runs: ``baseline`` logs two versions of the model ``classifier`` and a plain file;
``wider`` logs one version of ``classifier`` (its description and metadata hold HTML that must
show as text), an evaluation ``scores`` and a plain folder; ``empty`` logs no artifact. A report
of ``empty`` alone has no Artifacts tab.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest
from support.processes import checked, run

from tracelet.backends.local import list_runs
from tracelet.viewer.page_artifacts import size_text
from tracelet.viewer.report import write_report
from tracelet.viewer.snapshot import read_snapshot

from .test_report import TRACELET, log_runs, open_browser, show_tab

#: Shown as text in the page, never run: it would set ``window.pwned`` or load ``x``.
XSS = "<script>window.pwned = 1</script><b>wider</b> net"
XSS_META = "<img src=x onerror='window.pwned = 2'>"

LOG_RUNS = f"""
from pathlib import Path
import tracelet
from tracelet import ArtifactType

Path("notes.txt").write_text("lr schedule: cosine\\n")
Path("samples").mkdir()
Path("samples/cat.txt").write_text("a cat")  # 5 bytes
Path("samples/dog.txt").write_text("a dog!")  # 6 bytes

with tracelet.start_logging(exp_name="baseline", project="arts") as run:
    run.log_metric("loss", 1.0, step=0)
    Path("model.pt").write_bytes(b"w" * 1500)
    model = run.create_artifact("classifier", ArtifactType.MODEL, description="after epoch 1")
    run.log_artifact(model.add_file("model.pt").add_metadata({{"accuracy": 0.91, "epochs": 1}}))
    Path("model.pt").write_bytes(b"w" * 2_500_000)
    better = run.create_artifact("classifier", "model", description="after epoch 2")
    better.add_file("model.pt").add_dir("samples", artifact_path="samples")
    better.add_reference("s3://datasets/cifar10/train.tar")
    run.log_artifact(better.add_metadata({{"accuracy": 0.94, "epochs": 2}}))
    run.log_artifact("notes.txt")

with tracelet.start_logging(exp_name="wider", project="arts") as run:
    run.log_metric("loss", 0.5, step=0)
    Path("model.pt").write_bytes(b"w" * 999)
    model = run.create_artifact("classifier", "model", description={XSS!r})
    model.add_file("model.pt").add_metadata({{"accuracy": 0.95, "note": {XSS_META!r}}})
    run.log_artifact(model)
    scores = run.create_artifact("scores", ArtifactType.EVALUATION)
    run.log_artifact(scores.add_object({{"accuracy": 0.95}}, "scores"))
    run.log_artifact("samples")

with tracelet.start_logging(exp_name="empty", project="arts") as run:
    run.log_metric("loss", 2.0, step=0)
"""


@dataclass
class Logged:
    """The three runs (baseline, wider, empty) and the report of all three."""

    work: Path
    root: Path
    folders: dict[str, Path]
    report: Path


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Logged:
    work = tmp_path_factory.mktemp("artifacts")
    root = work / "runs"
    env = log_runs(work, LOG_RUNS)
    folders = {r.name: r.path for r in list_runs(root)}
    assert list(folders) == ["baseline", "wider", "empty"]
    checked(
        run([*TRACELET, "report", "baseline", "wider", "empty", "-o", "arts.html"], work, env=env)
    )
    return Logged(work, root, folders, work / "arts.html")


#: The Artifacts tab as the reader sees it: the typed groups with their rows' cells, the
#: plain table, the tab buttons, and what the HTML in the description and metadata became.
PANEL_JS = """
(() => {
  const panel = document.getElementById('panel-artifacts');
  const cells = tr => Array.from(tr.children).map(c => c.textContent);
  return {
    active: panel.classList.contains('active'),
    tabs: Array.from(document.querySelectorAll('.tab')).map(t => t.textContent),
    toolbarHidden: document.getElementById('toolbar').hidden,
    note: panel.querySelector('p.note').textContent,
    groups: Array.from(panel.querySelectorAll('.artifact-name')).map(g => ({
      name: g.dataset.name,
      summary: g.querySelector('h3 .note').textContent,
      header: cells(g.querySelector('thead tr')),
      rows: Array.from(g.querySelectorAll('tbody tr')).map(cells),
      sizeTitles: Array.from(g.querySelectorAll('tbody tr > :nth-child(6)')).map(td => td.title),
      filesTitles: Array.from(g.querySelectorAll('tbody tr > :nth-child(5)')).map(td => td.title),
      links: Array.from(g.querySelectorAll('tbody a')).map(a => a.href),
    })),
    plain: Array.from(panel.querySelectorAll('table.plain tr')).map(cells),
    plainLinks: Array.from(panel.querySelectorAll('table.plain a')).map(a => a.href),
    injected: panel.querySelectorAll('script, img, b').length,
    pwned: window.pwned === undefined ? null : window.pwned,
  };
})()
"""


def read_panel(report: Path, tmp_path: Path, *, by_click: bool) -> tuple[dict[str, Any], Any]:
    """The tab read in the browser (opened by its URL, or by clicking its button), and the
    page's log."""
    with open_browser(tmp_path) as browser:
        if by_click:
            browser.open(report.as_uri())
            browser.wait_for("document.documentElement.dataset.status === 'ready'")
            show_tab(browser, "artifacts")
        else:
            browser.open(report.as_uri() + "#artifacts")
            browser.wait_for("document.documentElement.dataset.status === 'ready'")
        panel = browser.evaluate(PANEL_JS)
        browser.screenshot(tmp_path / "artifacts.png")
        log = browser.log()
    return panel, log


def folder_of(url: str) -> Path:
    parsed = urlparse(url)
    assert parsed.scheme == "file"
    return Path(unquote(parsed.path))


# -- in the browser ----------------------------------------------------------------------------


def test_typed_artifacts_are_grouped_by_name_with_a_row_per_run_and_version(
    logged: Logged, tmp_path: Path
) -> None:
    panel, log = read_panel(logged.report, tmp_path, by_click=True)
    assert log.exceptions == []
    assert log.console_errors == []
    page = logged.report.as_uri()
    assert [u for u in log.requests if u != page and not u.startswith("data:")] == []

    assert panel["active"] is True
    assert panel["tabs"][-1] == "Artifacts (6)"  # 4 typed versions, 2 plain artifacts
    assert panel["toolbarHidden"] is True  # the chart controls are for chart tabs
    assert panel["note"].startswith(
        "4 version(s) of 2 typed artifact(s) and 2 other artifact(s), in 2 of 3 run(s)."
    )
    assert [g["name"] for g in panel["groups"]] == ["classifier", "scores"]
    classifier, scores = panel["groups"]
    assert classifier["summary"] == "3 version(s) in 2 of 3 run(s)"
    assert classifier["header"] == [
        "run", "version", "type", "description", "files", "size", "metadata", "folder",
    ]  # fmt: skip
    assert classifier["rows"] == [
        ["baseline", "v0", "model", "after epoch 1", "1", "1.5 kB", "accuracy=0.91 epochs=1",
         "artifacts/model/classifier/v0/"],
        ["baseline", "v1", "model", "after epoch 2", "3 + 1 reference(s)", "2.5 MB",
         "accuracy=0.94 epochs=2", "artifacts/model/classifier/v1/"],
        ["wider", "v0", "model", XSS, "1", "999 B", f"accuracy=0.95 note={XSS_META}",
         "artifacts/model/classifier/v0/"],
    ]  # fmt: skip
    assert classifier["sizeTitles"] == ["1,500 bytes", "2,500,011 bytes", "999 bytes"]
    assert classifier["filesTitles"][1] == (
        "model.pt (2.5 MB)\nsamples/cat.txt (5 B)\nsamples/dog.txt (6 B)\n"
        "train.tar → s3://datasets/cifar10/train.tar"
    )
    baseline, wider = logged.folders["baseline"], logged.folders["wider"]
    scores_size = (wider / "artifacts/evaluation/scores/v0/scores.json").stat().st_size
    assert scores["rows"] == [
        ["wider", "v0", "evaluation", "—", "1", f"{scores_size} B", "—",
         "artifacts/evaluation/scores/v0/"]
    ]  # fmt: skip

    # each folder link opens the version's copy in its run folder
    expected = [
        baseline / "artifacts/model/classifier/v0",
        baseline / "artifacts/model/classifier/v1",
        wider / "artifacts/model/classifier/v0",
    ]
    assert [folder_of(u) for u in classifier["links"]] == expected
    assert all((folder / "manifest.json").is_file() for folder in expected)


def test_html_in_descriptions_and_metadata_shows_as_text(logged: Logged, tmp_path: Path) -> None:
    panel, log = read_panel(logged.report, tmp_path, by_click=False)
    assert log.exceptions == []
    assert panel["active"] is True  # opened as report.html#artifacts
    wider = panel["groups"][0]["rows"][2]
    assert wider[3] == XSS
    assert wider[6].endswith(XSS_META)
    assert panel["injected"] == 0  # no <script>, <img> or <b> element came from the text
    assert panel["pwned"] is None
    assert [u for u in log.requests if not u.startswith(("file:", "data:"))] == []
    html = logged.report.read_text(encoding="utf-8")
    assert XSS not in html
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in html


def test_plain_artifacts_are_a_row_per_name_and_a_column_per_run(
    logged: Logged, tmp_path: Path
) -> None:
    panel, _ = read_panel(logged.report, tmp_path, by_click=False)
    # typed versions are journaled as folder records too: they are not listed again here
    assert panel["plain"] == [
        ["artifact", "baseline", "wider", "empty"],
        ["notes.txt", "artifacts/notes.txt", "—", "—"],
        ["samples", "—", "artifacts/samples/", "—"],
    ]
    assert [folder_of(u) for u in panel["plainLinks"]] == [
        logged.folders["baseline"] / "artifacts/notes.txt",
        logged.folders["wider"] / "artifacts/samples",
    ]
    assert (logged.folders["wider"] / "artifacts/samples/dog.txt").read_text() == "a dog!"


def test_runs_without_artifacts_get_no_artifacts_tab(logged: Logged, tmp_path: Path) -> None:
    out = tmp_path / "empty.html"
    summary = write_report([logged.folders["empty"]], out)
    assert summary.artifacts == 0
    with open_browser(tmp_path) as browser:
        browser.open(out.as_uri() + "#artifacts")  # an unknown tab: the page shows its first
        browser.wait_for("document.documentElement.dataset.status === 'ready'")
        tabs = browser.evaluate(
            "Array.from(document.querySelectorAll('.tab')).map(t => t.dataset.tab)"
        )
        shown = browser.evaluate("document.querySelector('.panel.active').dataset.panel")
        panels = browser.evaluate("document.querySelectorAll('#panel-artifacts').length")
        log = browser.log()
    assert log.exceptions == []
    assert tabs == ["metrics", "system", "params", "runs", "media"]
    assert shown == "metrics"
    assert panels == 0
    html = out.read_text(encoding="utf-8")
    assert 'data-tab="artifacts"' not in html
    assert 'id="panel-artifacts"' not in html


# -- reading -----------------------------------------------------------------------------------


def test_the_snapshot_keeps_typed_versions_and_the_other_artifacts_apart(logged: Logged) -> None:
    snap = read_snapshot(logged.folders["baseline"], max_points=100, media_limit=0)
    assert [(a.name, a.version, a.type.value) for a in snap.typed_artifacts] == [
        ("classifier", 0, "model"),
        ("classifier", 1, "model"),
    ]
    assert snap.typed_artifacts[1].metadata == {"accuracy": 0.94, "epochs": 2}
    assert [(a.name, a.is_dir) for a in snap.artifacts] == [("notes.txt", False)]
    empty = read_snapshot(logged.folders["empty"], max_points=100, media_limit=0)
    assert (empty.typed_artifacts, empty.artifacts) == ([], [])


def test_the_command_counts_artifacts_in_its_summary(logged: Logged) -> None:
    result = checked(
        run(
            [*TRACELET, "report", "wider", "-o", "wider.html"],
            logged.work,
            env={"TRACELET_LOCAL__PATH": str(logged.root)},
        )
    )
    assert "0 media item(s), 3 artifact(s);" in result.stderr


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 B"), (999, "999 B"), (1000, "1.0 kB"), (1500, "1.5 kB"), (999_949, "999.9 kB"),
     (999_950, "1.0 MB"), (2_500_011, "2.5 MB"), (3 * 10**12, "3.0 TB"), (5 * 10**15, "5000.0 TB")],
)  # fmt: skip
def test_sizes_are_shown_in_decimal_units(size: int, text: str) -> None:
    assert size_text(size) == text
