"""``support.wandb_reading`` reads back what the wandb SDK itself wrote to an offline run.

Two real offline runs are made once for the module, directly with the wandb SDK (no Tracelet):
a big one (10,000 rows, a custom step metric going backwards once, media, a config update, a tag
added after init, a summary value, an artifact, ``finish(exit_code=1)``) and a small one with
the awkward cases (NaN/infinities/None/big ints, nested and dotted keys, a 100 KB row that spans
several 32 KiB blocks, renaming after init, a summary key removed, an artifact with a reference
and an out-of-line manifest). Every test reads them back through the ``.wandb`` log only.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support.wandb_reading import (
    FIRST,
    LAST,
    MIDDLE,
    WandbRun,
    find_run_dir,
    metric_points,
    read_chunks,
    read_finished_run,
    read_payloads,
    read_records,
    run_from_records,
)

ROWS = 10_000
BACK_AT = 6_000  # the row whose custom step goes backwards ...
BACK_STEP = 17  # ... to this value
PIXELS = np.random.default_rng(7).integers(0, 256, size=(8, 6, 3), dtype=np.uint8)
HIST_COUNTS, HIST_EDGES = np.histogram(np.arange(100) % 7, bins=4)
MODEL_BYTES = b"\x00weights\xff" * 1000
BLOB = "".join(chr(ord("a") + i % 26) for i in range(100_000))  # > 3 blocks of 32 KiB


def logged_row(i: int) -> dict[str, Any]:
    """What the big run logs as row ``i`` (several keys; ``val/loss`` every 100th row only)."""
    row: dict[str, Any] = {
        "tracelet/step": BACK_STEP if i == BACK_AT else i,
        "train/loss": 1.0 / (i + 1),
        "train/acc": i / ROWS,
        "epoch": i // 1000,
        "nested": {"x": i, "y": -2 * i},
    }
    if i % 100 == 0:
        row["val/loss"] = 2.0 / (i + 1)
    return row


@dataclass
class Made:
    """The two runs as made, with what a test needs to know about how they were made."""

    root: Path
    home: Path
    data_dir: Path
    big_id: str
    small_id: str
    started: float
    ended: float


def _settings() -> Any:
    import wandb

    return wandb.Settings(console="off", x_disable_stats=True, silent=True)


def _make_big_run(runs: Path, model_file: Path) -> str:
    import wandb

    run = wandb.init(
        project="p",
        entity=None,
        name="n",
        tags=["a", "b"],
        config={"lr": 0.1, "opt": {"name": "adam"}},
        mode="offline",
        dir=runs,
        reinit="create_new",
        settings=_settings(),
    )
    run.define_metric("tracelet/step")
    run.define_metric("*", step_metric="tracelet/step")
    for i in range(ROWS):
        run.log(logged_row(i))
    run.log(
        {
            "tracelet/step": ROWS,
            "samples/img": wandb.Image(PIXELS),
            "samples/hist": wandb.Histogram(np_histogram=(HIST_COUNTS, HIST_EDGES)),
            "samples/table": wandb.Table(columns=["step", "text"], data=[[1, "hi"]]),
            "samples/html": wandb.Html("<p>hello</p>"),
        }
    )
    run.log({"late": 0.5})  # no step metric in this row: wandb fills it in (step_sync)
    run.config.update({"lr": 0.05, "epochs": 3}, allow_val_change=True)
    run.tags = (*run.tags, "k:v")
    run.summary["best"] = 1.0
    art = wandb.Artifact("models-model.bin", type="file")
    art.add_file(str(model_file), name="models/model.bin")
    run.log_artifact(art)
    run.finish(exit_code=1)
    return run.id


def _make_small_run(runs: Path, small_file: Path, mp: pytest.MonkeyPatch) -> str:
    import wandb
    from wandb.sdk.interface import interface

    # wandb writes manifests above this many entries to a gzipped JSON-lines file instead of
    # the record; lowering it (wandb's module constant, read at call time) covers that path.
    mp.setattr(interface, "MANIFEST_FILE_SIZE_THRESHOLD", 1)
    run = wandb.init(
        project="p2",
        entity="ent",
        name="before",
        group="g",
        job_type="train",
        notes="first notes",
        tags=["x"],
        config={"a": 1, "b": {"c": 2}},
        mode="offline",
        dir=runs,
        reinit="create_new",
        settings=_settings(),
    )
    run.log(
        {
            "nan": float("nan"),
            "inf": float("inf"),
            "ninf": float("-inf"),
            "none": None,
            "flag": True,
            "text": "str",
            "big": 2**62,
            "np32": np.float32(0.5),
            "np64": np.int64(7),
            "a.b": 1,
            "deep": {"er": {"est": 3}},
        }
    )
    run.log({"blob": BLOB, "list": [1, 2]}, step=5)
    run.name = "after"
    run.notes = "second notes"
    run.config.update({"b": {"c": 3}}, allow_val_change=True)
    run.summary.update({"gone": 1, "kept": 2})
    del run.summary["gone"]
    art = wandb.Artifact("multi", type="dataset", metadata={"m": [1, 2]})
    art.add_file(str(small_file), name="dir/one.txt")
    art.add_reference("https://example.com/x.bin", name="ref.bin", checksum=False)
    run.log_artifact(art, aliases=["best"])
    run.finish()
    return run.id


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Made:
    """Both runs, made offline with every wandb folder (and HOME) inside one temp dir."""
    import wandb

    root = tmp_path_factory.mktemp("wandb-reader")
    home, data_dir, runs = root / "home", root / "data", root / "runs"
    for folder in (home, data_dir, runs):
        folder.mkdir()
    model_file, small_file = root / "model.bin", root / "one.txt"
    model_file.write_bytes(MODEL_BYTES)
    small_file.write_text("one")
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("WANDB_"):
                mp.delenv(name)
        env = {
            "WANDB_MODE": "offline",
            "WANDB_SILENT": "true",
            "WANDB_ERROR_REPORTING": "false",
            "WANDB_DATA_DIR": str(data_dir),
            "WANDB_CACHE_DIR": str(root / "cache"),
            "WANDB_CONFIG_DIR": str(root / "config"),
            "WANDB_DIR": str(runs),
            "HOME": str(home),
        }
        for name, value in env.items():
            mp.setenv(name, value)
        mp.chdir(root)
        # wandb's service connection replaces sys.exit and sys.excepthook and never puts them
        # back (not even in teardown); the context restores them.
        mp.setattr(sys, "exit", sys.exit)
        mp.setattr(sys, "excepthook", sys.excepthook)
        # A wandb session set up earlier in this process would ignore the env set above.
        wandb.teardown()
        started = time.time()
        try:
            big_id = _make_big_run(runs, model_file)
            small_id = _make_small_run(runs, small_file, mp)
        finally:
            wandb.teardown()
        ended = time.time()
    return Made(
        root=root,
        home=home,
        data_dir=data_dir,
        big_id=big_id,
        small_id=small_id,
        started=started,
        ended=ended,
    )


@pytest.fixture(scope="module")
def big(made: Made) -> WandbRun:
    return read_finished_run(find_run_dir(made.root / "runs", made.big_id))


@pytest.fixture(scope="module")
def small(made: Made) -> WandbRun:
    return read_finished_run(find_run_dir(made.root / "runs", made.small_id))


def _wandb_file(made: Made, run_id: str) -> Path:
    return find_run_dir(made.root / "runs", run_id) / f"run-{run_id}.wandb"


# --- locating runs --------------------------------------------------------------------------


def test_find_run_dir_by_id_and_refuses_to_guess(made: Made, tmp_path: Path) -> None:
    runs = made.root / "runs"
    found = find_run_dir(runs, made.big_id)
    assert found.parent == runs / "wandb"
    assert found.name.startswith("offline-run-")
    assert found.name.endswith(f"-{made.big_id}")
    with pytest.raises(AssertionError, match="found \\['offline-run-"):
        find_run_dir(runs)  # two runs there
    with pytest.raises(AssertionError, match="'nosuchid'"):
        find_run_dir(runs, "nosuchid")
    with pytest.raises(AssertionError, match="found \\[\\]"):
        find_run_dir(tmp_path)


def test_nothing_is_written_outside_the_temp_dir(made: Made, big: WandbRun) -> None:
    assert list(made.home.iterdir()) == []
    staged = Path(big.artifact("models-model.bin").entries["models/model.bin"].local_path or "")
    assert staged.is_relative_to(made.data_dir / "artifacts" / "staging")


# --- framing --------------------------------------------------------------------------------


def test_records_are_numbered_without_gaps_and_start_with_the_header(made: Made) -> None:
    import wandb

    records = read_records(_wandb_file(made, made.big_id))
    assert [r.num for r in records] == list(range(1, len(records) + 1))
    assert records[0].WhichOneof("record_type") == "header"
    assert records[0].header.version_info.producer.startswith(f"{wandb.__version__}+")
    assert records[-1].WhichOneof("record_type") == "exit"


def test_records_split_across_blocks_are_reassembled(made: Made) -> None:
    for run_id, kinds_needed in ((made.big_id, {FIRST, LAST}), (made.small_id, {MIDDLE})):
        data = _wandb_file(made, run_id).read_bytes()
        kinds = {kind for _, kind, _ in read_chunks(data)}
        assert kinds_needed <= kinds, (run_id, kinds)
        assert len(data) > 32 * 1024
    small = read_records(_wandb_file(made, made.small_id))
    blob_rows = [r for r in small if r.HasField("history") and "blob" in str(r.history.item)]
    assert len(blob_rows) == 1
    assert blob_rows[0].ByteSize() > 3 * 32 * 1024


def _chunks(data: bytes) -> list[tuple[int, int, bytes]]:
    return list(read_chunks(data))


def test_a_flipped_byte_fails_the_crc(made: Made) -> None:
    data = bytearray(_wandb_file(made, made.big_id).read_bytes())
    offset, _, payload = next(c for c in _chunks(bytes(data))[100:] if len(c[2]) > 10)
    data[offset + 7 + len(payload) // 2] ^= 0x01
    with pytest.raises(AssertionError, match=f"CRC mismatch at offset {offset}"):
        read_payloads(bytes(data))


def test_a_cut_file_or_an_unfinished_record_is_an_error(made: Made) -> None:
    data = _wandb_file(made, made.small_id).read_bytes()
    chunks = _chunks(data)
    offset, _, payload = chunks[len(chunks) // 2]
    with pytest.raises(AssertionError, match="cut short"):
        read_payloads(data[: offset + 7 + len(payload) - 1])
    last = next(offset for offset, kind, _ in chunks if kind == LAST)
    with pytest.raises(AssertionError, match="never ends"):
        read_payloads(data[:last])


def test_the_header_is_checked(made: Made) -> None:
    data = _wandb_file(made, made.small_id).read_bytes()
    assert len(read_payloads(data)) > 10
    for bad in (b"XW&B" + data[4:], data[:4] + b"\xe1\xbf" + data[6:], data[:6] + b"\x01"):
        with pytest.raises(AssertionError, match="not a W&B transaction log"):
            read_payloads(bad)


# --- the big run ----------------------------------------------------------------------------


def test_run_identity_tags_and_exit_code(made: Made, big: WandbRun) -> None:
    assert big.id == made.big_id
    assert (big.project, big.entity, big.name) == ("p", None, "n")
    assert big.tags == ["a", "b", "k:v"]  # the tag added after init is in a later run record
    assert big.record_counts["run"] == 2
    assert (big.group, big.job_type, big.notes) == (None, None, None)
    assert big.exit_code == 1


def test_config_includes_the_update(big: WandbRun) -> None:
    assert big.config == {"lr": 0.05, "opt": {"name": "adam"}, "epochs": 3}
    assert big.record_counts["config"] == 1  # the update is its own config record
    assert big.wandb_config["cli_version"]


def test_every_row_comes_back_with_its_values(made: Made, big: WandbRun) -> None:
    assert len(big.history) == ROWS + 2
    for i, row in enumerate(big.history[:ROWS]):
        logged = {k: v for k, v in row.items() if not k.startswith("_")}
        assert logged == logged_row(i), i
        assert row["_step"] == i
        assert made.started <= row["_timestamp"] <= made.ended
        assert row["_runtime"] >= 0
    stamps = [row["_timestamp"] for row in big.history]
    assert stamps == sorted(stamps)


def test_integral_floats_come_back_as_ints(big: WandbRun) -> None:
    assert big.history[0]["train/loss"] == 1.0
    assert type(big.history[0]["train/loss"]) is int  # wandb-core writes 1.0 as "1"
    assert type(big.history[1]["train/loss"]) is float


def test_a_row_without_the_step_metric_gets_its_last_value(big: WandbRun) -> None:
    late = big.history[-1]
    assert late["late"] == 0.5
    assert late["tracelet/step"] == ROWS  # filled in by wandb (define_metric step_sync)
    assert late["_step"] == ROWS + 1


def test_metric_points_follow_the_custom_step_even_backwards(big: WandbRun) -> None:
    expected = [(float(BACK_STEP if i == BACK_AT else i), 1.0 / (i + 1)) for i in range(ROWS)]
    assert metric_points(big, "train/loss", "tracelet/step") == expected
    val = metric_points(big, "val/loss", "_step")
    assert val == [(float(i), 2.0 / (i + 1)) for i in range(0, ROWS, 100)]
    assert metric_points(big, "late", "tracelet/step") == [(float(ROWS), 0.5)]
    assert metric_points(big, "no-such-metric", "_step") == []
    with pytest.raises(AssertionError, match="not a number"):
        metric_points(big, "nested", "_step")
    with pytest.raises(AssertionError, match="no 'absent'"):
        metric_points(big, "train/loss", "absent")


def test_metric_definitions(big: WandbRun) -> None:
    assert [(m.name, m.glob_name, m.step_metric) for m in big.metrics] == [
        ("tracelet/step", None, None),
        (None, "*", "tracelet/step"),
    ]
    assert big.metrics[1].step_sync


def test_summary_holds_last_values_and_the_explicit_update(big: WandbRun) -> None:
    last = logged_row(ROWS - 1)
    assert big.summary["best"] == 1.0
    assert big.summary["train/loss"] == last["train/loss"]
    assert big.summary["nested"] == last["nested"]
    assert big.summary["val/loss"] == logged_row(ROWS - 100)["val/loss"]
    assert big.summary["tracelet/step"] == ROWS
    assert big.summary["_step"] == ROWS + 1
    assert big.summary["samples/img"]["_type"] == "image-file"


def test_image_is_a_dict_whose_file_is_the_png_of_the_array(big: WandbRun) -> None:
    from PIL import Image

    media = big.history[ROWS]
    image = media["samples/img"]
    assert image["_type"] == "image-file"
    assert (image["width"], image["height"], image["format"]) == (6, 8, "png")
    path = big.media_file(image)
    assert path.relative_to(big.dir / "files").parts[:2] == ("media", "images")
    assert path.relative_to(big.dir / "files").as_posix() in big.files
    assert hashlib.sha256(path.read_bytes()).hexdigest() == image["sha256"]
    assert path.stat().st_size == image["size"]
    with Image.open(io.BytesIO(path.read_bytes())) as png:
        assert np.array_equal(np.asarray(png.convert("RGB")), PIXELS)


def test_histogram_table_and_html(big: WandbRun) -> None:
    media = big.history[ROWS]
    assert media["samples/hist"] == {
        "_type": "histogram",
        "values": HIST_COUNTS.tolist(),
        "bins": HIST_EDGES.tolist(),
    }
    table = media["samples/table"]
    assert table["_type"] == "table-file"
    assert (table["nrows"], table["ncols"]) == (1, 2)
    content = json.loads(big.media_file(table).read_text())
    assert (content["columns"], content["data"]) == (["step", "text"], [[1, "hi"]])
    # A logged table is also an artifact of type run_table, staged like any other; its name is
    # the key without its slash plus a suffix ("run-<id>-samplestable-<6 chars>").
    (staged,) = [a for a in big.artifacts if a.type == "run_table"]
    assert staged.name.startswith(f"run-{big.id}-samplestable")
    (path,) = staged.entries
    assert json.loads(staged.read(path))["data"] == [[1, "hi"]]
    html = media["samples/html"]
    assert html["_type"] == "html-file"
    assert "<p>hello</p>" in big.media_file(html).read_text()
    with pytest.raises(AssertionError, match="not a file-backed media value"):
        big.media_file(media["samples/hist"])


def test_artifact_manifest_and_staged_content(big: WandbRun) -> None:
    art = big.artifact("models-model.bin")
    assert (art.type, art.aliases, art.metadata) == ("file", ["latest"], None)
    assert list(art.entries) == ["models/model.bin"]
    entry = art.entries["models/model.bin"]
    assert entry.digest == base64.b64encode(hashlib.md5(MODEL_BYTES).digest()).decode()
    assert entry.size == len(MODEL_BYTES)
    assert entry.ref is None
    assert art.read("models/model.bin") == MODEL_BYTES
    with pytest.raises(AssertionError, match="has no 'other'"):
        art.read("other")
    with pytest.raises(AssertionError, match="0 artifacts named 'nope'"):
        big.artifact("nope")


def test_no_exit_record_reads_as_none(made: Made) -> None:
    records = read_records(_wandb_file(made, made.small_id))
    kept = [r for r in records if not r.HasField("exit")]
    assert len(kept) == len(records) - 1
    assert run_from_records(kept, made.root).exit_code is None
    with pytest.raises(AssertionError, match="no run record"):
        run_from_records([r for r in records if not r.HasField("run")], made.root)


# --- the small run --------------------------------------------------------------------------


def test_fields_set_at_init_and_changed_after(small: WandbRun) -> None:
    assert (small.project, small.entity, small.group, small.job_type) == ("p2", "ent", "g", "train")
    assert (small.name, small.notes) == ("after", "second notes")
    assert small.tags == ["x"]
    assert small.record_counts["run"] == 3  # init, then one per change
    assert small.exit_code == 0
    assert small.config == {"a": 1, "b": {"c": 3}}


def test_odd_values_nested_and_dotted_keys(small: WandbRun) -> None:
    first, second = small.history
    assert math.isnan(first["nan"])
    assert (first["inf"], first["ninf"]) == (math.inf, -math.inf)
    assert first["none"] is None
    assert (first["flag"], first["text"], first["big"]) == (True, "str", 2**62)
    assert (first["np32"], first["np64"]) == (0.5, 7)
    assert first["a.b"] == 1  # a dot in a key is not nesting
    assert first["deep"] == {"er": {"est": 3}}
    assert first["_step"] == 0
    assert (second["blob"], second["list"], second["_step"]) == (BLOB, [1, 2], 5)
    with pytest.raises(AssertionError, match="'flag' is not a number"):
        metric_points(small, "flag", "_step")


def test_summary_removal(small: WandbRun) -> None:
    assert small.summary["kept"] == 2
    assert "gone" not in small.summary
    assert "none" not in small.summary  # wandb keeps no summary value for None
    assert math.isnan(small.summary["nan"])


def test_artifact_with_reference_and_out_of_line_manifest(made: Made, small: WandbRun) -> None:
    art = small.artifact("multi")
    assert (art.type, art.aliases, art.metadata) == ("dataset", ["best", "latest"], {"m": [1, 2]})
    assert sorted(art.entries) == ["dir/one.txt", "ref.bin"]
    one = art.entries["dir/one.txt"]
    assert one.digest == base64.b64encode(hashlib.md5(b"one").digest()).decode()
    assert one.size == 3
    assert art.read("dir/one.txt") == b"one"
    ref = art.entries["ref.bin"]
    assert (ref.ref, ref.local_path) == ("https://example.com/x.bin", None)
    with pytest.raises(AssertionError, match="has no local copy"):
        art.read("ref.bin")
    manifests = list((made.data_dir / "artifacts" / "staging" / "artifact_manifests").iterdir())
    assert len(manifests) == 1  # the entries really came from the out-of-line manifest
