"""Reading curves for display: the same points as the run folder's own reader, incrementally,
and downsampling that keeps every extreme."""

from __future__ import annotations

import math
import random
from pathlib import Path

from tracelet.backends.local import read_run
from tracelet.plugins import PluginHost
from tracelet.session import start_run
from tracelet.viewer.series import RunCurves, downsample


def test_curves_are_what_the_run_folder_holds_and_are_read_incrementally(
    host: PluginHost,
) -> None:
    run = start_run("curves", "viewer", "local", {"flush_interval": 0.05}, host=host)
    values = [0.5, math.nan, math.inf, -math.inf, 2.0]
    for step, value in enumerate(values):
        run.log_metrics({"train/loss": value, "train/acc": step / 10}, step=step)
    run.log_param("lr", 0.1)  # not a metric: skipped
    run.flush()
    folder = run.journal_path
    assert folder is not None
    curves = RunCurves(folder)
    assert curves.update() == 10
    assert curves.update() == 0  # nothing new
    for step in range(5, 8):
        run.log_metric("train/loss", float(step), step=step)
    assert run.stop()
    assert curves.update() == 3
    stored = read_run(folder)
    for name, points in stored.metrics.items():
        curve = curves.curves[name]
        assert list(curve.steps) == [p.step for p in points]
        assert [repr(v) for v in curve.values] == [repr(p.value) for p in points]
        assert list(curve.times) == [p.timestamp for p in points]


def test_a_line_being_written_is_read_once_complete(tmp_path: Path) -> None:
    records = tmp_path / "records.jsonl"
    records.write_bytes(b'["a",1.0,0,1.5,0]\n["a",2.0,1,')
    curves = RunCurves(tmp_path)
    assert curves.update() == 1
    with open(records, "ab") as fh:
        fh.write(b'1.6,1]\n{"type":"param","name":"x","value":1,"seq":2}\n')
    assert curves.update() == 1
    assert list(curves.curves["a"].values) == [1.0, 2.0]


def test_downsampling_keeps_the_extremes_and_the_ends() -> None:
    rng = random.Random(7)
    n = 1_000_000
    ys = [rng.uniform(-1.0, 1.0) for _ in range(n)]
    ys[123_457] = 50.0  # one spike up, one down
    ys[876_543] = -40.0
    ys[500_000] = math.nan
    xs = [float(i) for i in range(n)]
    out_x, out_y = downsample(xs, ys, 200)
    assert len(out_y) <= 800
    assert (out_x[0], out_x[-1]) == (0.0, float(n - 1))
    assert 50.0 in out_y
    assert -40.0 in out_y
    assert out_x == sorted(out_x)
    finite = [y for y in out_y if not math.isnan(y)]
    assert max(finite) == 50.0
    assert min(finite) == -40.0


def test_a_curve_that_fits_is_kept_whole() -> None:
    xs, ys = [0.0, 1.0, 2.0], [3.0, 1.0, 2.0]
    assert downsample(xs, ys, 200) == (xs, ys)
