"""The contract's checks of media: content for each declared kind, and undeclared kinds
counted rather than raised."""

from __future__ import annotations

from typing import Any

import pytest

from tracelet import media
from tracelet.testing.checks import expect, image_pixels, pixels_close, png_rgb
from tracelet.testing.harness import BackendHarness
from tracelet.testing.kit import KitRuns, declined, stopped

_IMAGE = [
    [(255, 0, 0), (0, 255, 0), (0, 0, 255)],
    [(0, 0, 0), (128, 128, 128), (255, 255, 255)],
]
_HISTOGRAM_VALUES = [0.0, 0.1, 0.2, 0.5, 0.5, 0.9, 1.0]
_TEXT = "hello\nsecond line"


class MediaChecks(KitRuns):
    """Images, histograms and texts round-trip; undeclared kinds are counted unsupported."""

    @pytest.mark.parametrize("kind", ["images", "histograms", "text"])
    def test_media_round_trip(self, harness: BackendHarness, kind: str) -> None:
        run = self.start(harness, f"media-{kind}")
        if kind == "images":
            run.log_image("sample", png_rgb(_IMAGE), step=3)
        elif kind == "histograms":
            run.log_histogram("weights", _HISTOGRAM_VALUES, step=2, bins=4)
        else:
            run.log_text("notes", _TEXT, step=1)
        stopped(run, harness)
        if declined(run, harness, kind, 1):
            return
        stored = harness.read(run)
        field = {"images": stored.images, "histograms": stored.histograms, "text": stored.texts}
        found = field[kind]
        expect(
            found is not None,
            f"the backend declares {kind!r} but the harness read none back",
            f"StoredRun.{'texts' if kind == 'text' else kind} filled",
            None,
            f"fill StoredRun.{'texts' if kind == 'text' else kind} in the harness's read from "
            f"what the backend stored, or do not declare {kind!r}",
        )
        assert found is not None
        name = {"images": "sample", "histograms": "weights", "text": "notes"}[kind]
        entries: list[tuple[int, Any]] = list(found.get(name, []))
        step = {"images": 3, "histograms": 2, "text": 1}[kind]
        expect(
            [s for s, _ in entries] == [step],
            f"{kind} {name!r}: not stored once at its step",
            [step],
            [s for s, _ in entries],
            "store each media record once, under its name, at its step",
        )
        content = entries[0][1]
        if kind == "images":
            pixels = image_pixels(content)
            expect(
                pixels_close(pixels, _IMAGE, harness.image_tolerance),
                f"image {name!r}: the stored pixels differ",
                _IMAGE,
                pixels,
                "store the PNG as given (Image.png), or declare image_tolerance for a lossy format",
            )
        elif kind == "histograms":
            _, counts, _ = media.histogram(_HISTOGRAM_VALUES, 4)
            expect(
                [float(c) for c in content] == [float(c) for c in counts],
                f"histogram {name!r}: the stored counts differ",
                list(counts),
                content,
                "store Histogram.counts per bin with Histogram.edges (values is empty when the "
                "caller gave bins)",
            )
        else:
            expect(
                content == _TEXT,
                f"text {name!r}: the stored text differs",
                _TEXT,
                content,
                "store Text.text as given, line breaks included",
            )

    # -- delivery --------------------------------------------------------------------------

    def test_unsupported_kinds_are_counted_not_raised(self, harness: BackendHarness) -> None:
        run = self.start(harness, "media")
        run.log_text("sample", "hello", step=0)
        run.log_image("img", png_rgb([[(0, 0, 0)]]), step=0)
        run.log_histogram("weights", [0.1, 0.2, 0.2, 0.9], step=0)
        stopped(run, harness)
        stats = run.stats()[harness.backend]
        declared = run.capabilities()[harness.backend]
        unsupported = len({"text", "images", "histograms"} - declared)
        expect(
            (stats.delivered, stats.unsupported, stats.failed) == (3 - unsupported, unsupported, 0),
            "media records were not delivered (declared kinds) or counted unsupported (others)",
            {"delivered": 3 - unsupported, "unsupported": unsupported, "failed": 0},
            {
                "delivered": stats.delivered,
                "unsupported": stats.unsupported,
                "failed": stats.failed,
            },
            "store every record of a kind in capabilities; never raise for one",
        )
