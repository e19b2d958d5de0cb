"""The kit's comparisons. Each failure says what was expected, what the backend stored (as its
harness read it back), and what the plugin author should do about it."""

from __future__ import annotations

import io
import math
import reprlib
import struct
import zlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracelet.artifacts import ArtifactInfo
    from tracelet.testing.harness import StoredRun

_short = reprlib.Repr()
_short.maxlist = _short.maxtuple = _short.maxdict = 8
_short.maxstring = _short.maxother = 120

Pixels = list[list[tuple[int, int, int]]]


class ContractError(AssertionError):
    """A backend (or its harness) breaks the contract; the message says how."""


def expect(ok: bool, what: str, expected: Any, stored: Any, fix: str) -> None:
    """Raise :class:`ContractError` unless ``ok``: ``what`` went wrong, then the expected and
    the stored value, then the ``fix``."""
    if not ok:
        raise ContractError(
            f"{what}\n  expected: {_short.repr(expected)}\n  stored:   {_short.repr(stored)}\n"
            f"  fix: {fix}"
        )


def same_value(got: float, want: float) -> bool:
    """Equal within 1e-6 relative; NaN equals NaN; ±inf may be stored as ±max float."""
    if math.isnan(want):
        return math.isnan(got)
    if math.isinf(want):
        return got == want or (abs(got) > 1e300 and (got > 0) == (want > 0))
    return math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-12)


def check_metrics(stored: StoredRun, expected: Mapping[str, Sequence[tuple[int, float]]]) -> None:
    """Every expected metric is stored with exactly these steps and values, in this order."""
    for name, points in expected.items():
        got = stored.metrics.get(name)
        expect(
            got is not None,
            f"metric {name!r} is missing",
            f"{len(points)} points",
            f"metrics named {sorted(stored.metrics)}",
            "store every metric under the name it was logged with (or map the stored name "
            "back to it in the harness's read)",
        )
        assert got is not None
        expect(
            [s for s, _ in got] == [s for s, _ in points],
            f"metric {name!r}: the steps differ (points lost, repeated, reordered or re-stepped)",
            [s for s, _ in points],
            [s for s, _ in got],
            "store each point once, at the step it was logged with, in the order of the batch",
        )
        for (step, want), (_, value) in zip(points, got, strict=True):
            expect(
                same_value(value, want),
                f"metric {name!r} at step {step}: the value differs",
                want,
                value,
                "store the value as a float (double precision) without rounding it",
            )


def check_entries(
    kind: str, stored: Mapping[str, Any], expected: Mapping[str, Any], fix: str
) -> None:
    """Each expected entry (a param, a tag) is stored under its name with its value."""
    for key, value in expected.items():
        expect(
            stored.get(key) == value,
            f"{kind} {key!r} differs",
            value,
            stored.get(key, "missing"),
            fix,
        )


def check_typed_artifact(
    where: str, found: Sequence[ArtifactInfo], want: ArtifactInfo, fix: str
) -> None:
    """The logged typed artifact version ``want`` is among ``found`` (what was read back
    ``where``) exactly once, with the same name, type, version, description, metadata and files
    (path and SHA-256)."""
    label = f"{where}: typed artifact {want.name!r} v{want.version}"
    same = [a for a in found if (a.name, a.version) == (want.name, want.version)]
    expect(
        len(same) == 1,
        f"{label} is missing" if not same else f"{label} is stored {len(same)} times",
        [want.folder],
        [a.folder for a in found],
        fix,
    )
    got = same[0]
    expect(
        got.type == want.type,
        f"{label}: the type differs",
        want.type.value,
        got.type.value,
        fix,
    )
    expect(
        got.description == want.description,
        f"{label}: the description differs",
        want.description,
        got.description,
        fix,
    )
    expect(
        got.metadata == want.metadata,
        f"{label}: the metadata differs",
        want.metadata,
        got.metadata,
        fix,
    )
    wanted = {f.path: f.sha256[:12] for f in want.files}
    stored = {f.path: f.sha256[:12] for f in got.files}
    expect(
        stored == wanted,
        f"{label}: the files differ (lost, added, moved or changed; SHA-256 shown)",
        wanted,
        stored,
        fix,
    )


def png_rgb(pixels: Pixels) -> bytes:
    """A PNG of 8-bit RGB ``pixels`` (rows of ``(r, g, b)``), written without any library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    height, width = len(pixels), len(pixels[0])
    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in pixels)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def image_pixels(data: bytes) -> Pixels:
    """The RGB pixels of a stored image file (needs Pillow, which reads every common format).

    Raises:
        ContractError: Pillow is not installed, or the bytes are not an image.
    """
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - Pillow is in every test environment here
        raise ContractError(
            "the image check reads stored images with Pillow: pip install pillow"
        ) from exc
    try:
        image = Image.open(io.BytesIO(data)).convert("RGB")
    except Exception as exc:
        raise ContractError(
            f"a stored image is not an image file ({type(exc).__name__}: {exc}); the harness's "
            "read must return the stored file's bytes in StoredRun.images"
        ) from exc
    width, height = image.size
    data = image.tobytes()
    return [
        [tuple(data[i : i + 3]) for i in range(r * width * 3, (r + 1) * width * 3, 3)]  # type: ignore[misc]
        for r in range(height)
    ]


def pixels_close(got: Pixels, want: Pixels, tolerance: int) -> bool:
    """Same size, and every channel within ``tolerance``."""
    if len(got) != len(want) or any(len(a) != len(b) for a, b in zip(got, want, strict=False)):
        return False
    return all(
        abs(x - y) <= tolerance
        for row_a, row_b in zip(got, want, strict=True)
        for pa, pb in zip(row_a, row_b, strict=True)
        for x, y in zip(pa, pb, strict=True)
    )
