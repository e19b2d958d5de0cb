"""Encoding media at the logging call: PNG, histograms, figures (numpy and PIL not installed)."""

from __future__ import annotations

import io
import math
import struct
import zlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tracelet.media import (
    PNG_SIGNATURE,
    encode_png,
    figure_payload,
    histogram,
    image_png,
    png_size,
)


def decode_png(png: bytes) -> tuple[int, int, int, bytes]:
    """``(width, height, colour type, pixels)`` of an 8-bit, unfiltered PNG; checks every CRC."""
    assert png.startswith(PNG_SIGNATURE)
    pos, chunks = len(PNG_SIGNATURE), {}
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        data = png[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", png[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + data) & 0xFFFFFFFF, kind
        chunks[kind] = data
        pos += 12 + length
    assert list(chunks) == [b"IHDR", b"IDAT", b"IEND"]
    width, height, depth, colour, _, _, _ = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert depth == 8
    raw = zlib.decompress(chunks[b"IDAT"])
    stride = len(raw) // height
    rows = [raw[y * stride : (y + 1) * stride] for y in range(height)]
    assert all(row[0] == 0 for row in rows), "filter type 0 on every row"
    return width, height, colour, b"".join(row[1:] for row in rows)


class Bytes8:
    """A minimal unsigned 8-bit array (what ``image_png`` reads from a NumPy array)."""

    def __init__(self, data: bytes, shape: tuple[int, ...]) -> None:
        self.data = data
        self.shape = shape
        self.dtype = SimpleNamespace(kind="u")

    def tobytes(self) -> bytes:
        return self.data

    def astype(self, dtype: str) -> Bytes8:
        assert dtype == "uint8"
        return self


@pytest.mark.parametrize(("channels", "colour"), [(1, 0), (2, 4), (3, 2), (4, 6)])
def test_encode_png_round_trips_pixels(channels: int, colour: int) -> None:
    width, height = 5, 3
    pixels = bytes((i * 37) % 256 for i in range(width * height * channels))
    png = encode_png(pixels, width, height, channels)
    assert decode_png(png) == (width, height, colour, pixels)
    assert png_size(png) == (width, height)


def test_encode_png_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="1, 2, 3 or 4 channels, got 5"):
        encode_png(b"\x00" * 5, 1, 1, 5)
    with pytest.raises(ValueError, match="does not match width x height x channels"):
        encode_png(b"\x00" * 5, 2, 2, 1)
    with pytest.raises(ValueError, match="not a PNG image"):
        png_size(b"\x89PNG")


def test_image_png_from_bytes_path_and_arrays(tmp_path: Path) -> None:
    png = encode_png(bytes(range(6)), 3, 2, 1)
    assert image_png(png) == (png, 3, 2)
    assert image_png(bytearray(png)) == (png, 3, 2)
    (tmp_path / "a.png").write_bytes(png)
    assert image_png(tmp_path / "a.png") == (png, 3, 2)
    assert image_png(str(tmp_path / "a.png")) == (png, 3, 2)

    grey, w, h = image_png(Bytes8(bytes(range(12)), (3, 4)))
    assert (w, h) == (4, 3)
    assert decode_png(grey) == (4, 3, 0, bytes(range(12)))
    rgb, w, h = image_png(Bytes8(bytes(range(24)), (2, 4, 3)))
    assert decode_png(rgb) == (4, 2, 2, bytes(range(24)))


def test_image_png_from_an_object_with_save() -> None:
    png = encode_png(b"\x10\x20", 2, 1, 1)

    class Picture:  # the three attributes of a PIL image that logging uses
        size = (2, 1)
        mode = "L"

        def save(self, buf: io.BytesIO, format: str) -> None:
            assert format == "PNG"
            buf.write(png)

    assert image_png(Picture()) == (png, 2, 1)


def test_image_png_errors(tmp_path: Path) -> None:
    (tmp_path / "x.jpg").write_bytes(b"\xff\xd8\xff\xe0 jpeg")
    with pytest.raises(ValueError, match="only PNG files are read directly"):
        image_png(tmp_path / "x.jpg")
    with pytest.raises(FileNotFoundError):
        image_png(tmp_path / "missing.png")
    with pytest.raises(TypeError, match="cannot log a list as an image"):
        image_png([[0, 1], [2, 3]])
    with pytest.raises(ValueError, match=r"cannot log an array of shape \(2, 2, 2, 2\)"):
        image_png(Bytes8(b"\x00" * 16, (2, 2, 2, 2)))
    with pytest.raises(ValueError, match=r"cannot log an array of shape \(2, 2, 7\)"):
        image_png(Bytes8(b"\x00" * 28, (2, 2, 7)))


def test_histogram_bins_finite_values() -> None:
    edges, counts, finite = histogram([0.0, 0.5, 1.0, 2.5, 4.0, math.nan, math.inf], bins=4)
    assert edges == (0.0, 1.0, 2.0, 3.0, 4.0)
    assert counts == (2, 1, 1, 1)  # the last bin is closed: 4.0 counts
    assert finite == (0.0, 0.5, 1.0, 2.5, 4.0)
    assert sum(counts) == len(finite)


def test_histogram_of_one_repeated_value_and_of_a_generator() -> None:
    edges, counts, _ = histogram([3.0, 3.0, 3.0], bins=2)
    assert edges == (2.5, 3.0, 3.5)
    assert sum(counts) == 3
    edges, counts, finite = histogram((i for i in range(10)), bins=5)
    assert counts == (2, 2, 2, 2, 2)
    assert edges[0] == 0.0
    assert edges[-1] == 9.0
    assert finite == tuple(float(i) for i in range(10))


@pytest.mark.parametrize(
    ("values", "bins", "error", "message"),
    [
        ([1.0], 0, ValueError, "bins must be a positive int, got 0"),
        ([1.0], 2.5, TypeError, "bins must be a positive int, got 2.5"),
        ([math.nan], 3, ValueError, "at least one finite value"),
        ([], 3, ValueError, "at least one finite value"),
        (5, 3, TypeError, "a histogram needs a sequence or array of numbers, got int"),
        ("abc", 3, TypeError, "a histogram needs a sequence or array of numbers, got str"),
        ([1.0, "x"], 3, TypeError, "a histogram needs numbers, got str 'x'"),
        ([1.0, None], 3, TypeError, "a histogram needs numbers, got NoneType None"),
    ],
)
def test_histogram_errors(values: Any, bins: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        histogram(values, bins)


def test_figure_payload() -> None:
    class Matplotlib:
        def savefig(self, buf: io.BytesIO, format: str) -> None:
            buf.write(b"PNG:" + format.encode())

    class Plotly:
        def to_plotly_json(self) -> dict[str, Any]:
            return {"data": []}

        def to_json(self) -> str:
            return '{"data": []}'

    assert figure_payload(Matplotlib()) == (b"PNG:png", None)
    assert figure_payload(Plotly()) == (None, '{"data": []}')
    for not_a_figure in (object(), {"data": []}, "plot.png", None):
        with pytest.raises(TypeError, match="pass a matplotlib or plotly figure"):
            figure_payload(not_a_figure)
