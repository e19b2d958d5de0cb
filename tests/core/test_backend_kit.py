"""tracelet.backend_kit: what the backends share, checked on real files, images and threads."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from tracelet.backend_kit import (
    ARTIFACT_DELETED,
    BatchWriter,
    ResumableLoop,
    WarnOnce,
    artifact_source,
    pil_image,
)
from tracelet.errors import RejectedError
from tracelet.media import encode_png, image_png
from tracelet.records import Artifact, Batch
from tracelet.resumable import WritePlan

# -- pil_image --------------------------------------------------------------------------------


def test_png_bytes_become_the_same_pixels_in_pil() -> None:
    width, height = 3, 2
    pixels = bytes(
        channel for i in range(width * height) for channel in (i * 40, 255 - i * 40, 7, 200)
    )
    image = pil_image(encode_png(pixels, width, height, 4))
    assert (image.size, image.mode) == ((3, 2), "RGBA")
    assert image.tobytes() == pixels


def test_a_pil_image_round_trips_through_the_core_encoding() -> None:
    import PIL.Image

    original = PIL.Image.new("RGB", (5, 4), (10, 20, 30))
    original.putpixel((4, 3), (250, 0, 5))
    png, width, height = image_png(original)
    image = pil_image(png)
    assert (width, height) == image.size == (5, 4)
    assert image.getpixel((4, 3)) == (250, 0, 5)
    assert image.getpixel((0, 0)) == (10, 20, 30)


def test_bytes_that_are_no_image_are_an_error() -> None:
    import PIL

    with pytest.raises(PIL.UnidentifiedImageError):
        pil_image(b"not a png").load()


# -- artifact_source ------------------------------------------------------------------------


def test_an_artifact_deleted_before_its_upload_is_refused(tmp_path: Path) -> None:
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"\x00\x01")
    artifact = Artifact(path=weights, name="model/weights.bin", is_dir=False)
    assert artifact_source(artifact) == weights
    weights.unlink()
    with pytest.raises(RejectedError) as refused:
        artifact_source(artifact)
    assert str(refused.value) == f"artifact source deleted before upload: {weights}"
    assert str(refused.value) == ARTIFACT_DELETED.format(path=weights)
    assert refused.value.count == 1


def test_a_deleted_folder_is_refused_too(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    artifact = Artifact(path=folder, name="checkpoints", is_dir=True)
    assert artifact_source(artifact) == folder
    folder.rmdir()
    with pytest.raises(RejectedError, match="deleted before upload"):
        artifact_source(artifact)


# -- BatchWriter ----------------------------------------------------------------------------


def test_a_refusing_call_lets_the_others_run_and_is_reported_at_the_end(tmp_path: Path) -> None:
    kept, gone = tmp_path / "kept.txt", tmp_path / "gone.txt"
    kept.write_text("k")
    gone.write_text("g")
    uploaded: list[str] = []
    batch = Batch(
        artifacts=[
            Artifact(path=gone, name="gone.txt", is_dir=False),
            Artifact(path=kept, name="kept.txt", is_dir=False),
        ]
    )

    def plan(batch: Batch) -> WritePlan:
        made = WritePlan(batch)
        for artifact in batch.artifacts:
            made.calls.append(
                lambda a=artifact: uploaded.append(artifact_source(a).read_text())  # type: ignore[misc]
            )
        return made

    gone.unlink()
    with pytest.raises(RejectedError) as refused:
        BatchWriter(plan).write(batch)
    assert uploaded == ["k"], "the call after the refused one ran"
    assert str(refused.value) == f"artifact source deleted before upload: {gone}"
    assert refused.value.count == 1


def test_a_refusal_of_several_records_counts_each_and_other_errors_are_retried() -> None:
    calls: list[str] = []
    failures = {"send": 1}

    def send() -> None:
        if failures["send"]:
            failures["send"] -= 1
            raise ConnectionError("server gone")
        calls.append("send")

    def refuse() -> None:
        calls.append("refuse")
        raise RejectedError("two values the SDK cannot take", count=2)

    def plan(batch: Batch) -> WritePlan:
        return WritePlan(batch, calls=[refuse, send])

    writer = BatchWriter(plan)
    batch = Batch()
    with pytest.raises(ConnectionError):
        writer.write(batch)
    with pytest.raises(RejectedError) as refused:
        writer.write(batch)  # the dispatcher's retry: resumes at send
    assert calls == ["refuse", "send"]
    assert refused.value.count == 2


# -- ResumableLoop --------------------------------------------------------------------------


@pytest.mark.parametrize("k", [0, 3, 9])
def test_a_loop_resumes_at_the_item_that_raised(k: int) -> None:
    stored: list[int] = []
    loop = ResumableLoop(list(range(10)))
    fail = [True]

    def store_all() -> None:
        for item in loop:
            if item == k and fail[0]:
                fail[0] = False
                raise ConnectionError(f"lost at {item}")
            stored.append(item)

    with pytest.raises(ConnectionError):
        store_all()
    assert (stored, loop.done, len(loop)) == (list(range(k)), k, 10 - k)
    store_all()
    assert stored == list(range(10)), "every item once, in order"
    assert (loop.done, len(loop)) == (10, 0)
    store_all()
    assert stored == list(range(10)), "a finished loop stores nothing again"


def test_a_loop_in_a_batch_writer_is_not_repeated_by_the_dispatchers_retry() -> None:
    stored: list[tuple[str, float, int, float]] = []
    batch = Batch(metrics=[("loss", 1.0 / (s + 1), s, 0.0) for s in range(6)])
    failures = [2]

    def log(point: tuple[str, float, int, float]) -> None:
        if point[2] == 4 and failures[0]:
            failures[0] -= 1
            raise TimeoutError("slow server")
        stored.append(point)

    def plan(batch: Batch) -> WritePlan:
        points = ResumableLoop(batch.metrics)

        def track() -> None:
            for point in points:
                log(point)

        return WritePlan(batch, calls=[track])

    writer = BatchWriter(plan)
    for _ in range(2):
        with pytest.raises(TimeoutError):
            writer.write(batch)
    writer.write(batch)
    assert stored == batch.metrics


# -- WarnOnce -------------------------------------------------------------------------------


class SlowKey:
    """A key that hashes slowly: threads checking it at once overlap inside ``set`` lookups,
    where a check-then-add without a lock would let several of them through."""

    def __hash__(self) -> int:
        time.sleep(0.002)
        return 1

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SlowKey)


def test_warn_once_from_many_threads_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tracelet.test.kit")
    warn = WarnOnce(
        logger, prefix="kit: ", suffix=" (warned once per run)", repeat_level=logging.DEBUG
    )
    threads_count = 12
    start = threading.Barrier(threads_count)
    results: list[bool] = []

    def warn_now(key: object) -> None:
        start.wait()
        results.append(warn(key, "value %r cut", "x"))

    caplog.set_level(logging.DEBUG, logger="tracelet.test.kit")
    key = SlowKey()
    threads = [threading.Thread(target=warn_now, args=(key,)) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    debugs = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert warnings == ["kit: value 'x' cut (warned once per run)"]
    assert debugs == ["kit: value 'x' cut"] * (threads_count - 1)
    assert sorted(results) == [False] * (threads_count - 1) + [True]


def test_warn_once_is_per_key_and_silent_after_by_default(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("tracelet.test.kit")
    warn = WarnOnce(logger)
    caplog.set_level(logging.DEBUG, logger="tracelet.test.kit")
    assert warn(("tag", "a"), "tag %s", "a")
    assert not warn(("tag", "a"), "tag %s", "a")
    assert warn(("tag", "b"), "tag %s", "b")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "tag a"),
        ("WARNING", "tag b"),
    ]
    assert not warn.first(("tag", "b"))
    assert warn.first("new")


def test_a_message_without_args_keeps_its_percent_signs(caplog: pytest.LogCaptureFixture) -> None:
    warn = WarnOnce(logging.getLogger("tracelet.test.kit"), prefix="p: ")
    caplog.set_level(logging.WARNING, logger="tracelet.test.kit")
    warn("k", "param 'lr%' is 100% too long")
    assert [r.getMessage() for r in caplog.records] == ["p: param 'lr%' is 100% too long"]
