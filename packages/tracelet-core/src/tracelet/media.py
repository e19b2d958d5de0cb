"""Encoding images, histograms and figures at the logging call, with no required libraries.

Images become PNG bytes (a small encoder over ``zlib``); a PIL image is saved with its own
``save``; arrays and tensors are read through their own methods, so neither numpy nor torch is
imported here. Histograms are binned with numpy only when the caller's process already imported
it. This runs on the caller's thread because arrays and figures may change right after the call.
"""

from __future__ import annotations

import io
import math
import struct
import sys
import zlib
from collections.abc import Iterable
from os import PathLike, fspath
from pathlib import Path
from typing import Any

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type (grey, grey+A, RGB, RGBA)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def encode_png(pixels: bytes, width: int, height: int, channels: int) -> bytes:
    """PNG bytes for 8-bit ``pixels`` laid out row by row (``height x width x channels``)."""
    if channels not in _COLOR_TYPES:
        raise ValueError(f"an image needs 1, 2, 3 or 4 channels, got {channels}")
    stride = width * channels
    if len(pixels) != stride * height:
        raise ValueError("pixel data does not match width x height x channels")
    raw = b"".join(b"\x00" + pixels[y * stride : (y + 1) * stride] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, _COLOR_TYPES[channels], 0, 0, 0)
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 6))
        + _chunk(b"IEND", b"")
    )


def png_size(png: bytes) -> tuple[int, int]:
    """``(width, height)`` read from a PNG's header."""
    if not png.startswith(PNG_SIGNATURE) or len(png) < 24:
        raise ValueError("not a PNG image")
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


def _to_array(image: Any) -> Any:
    """A numpy array from a tensor (``detach().cpu().numpy()``) or an array-like."""
    if hasattr(image, "detach") and hasattr(image, "cpu"):
        return image.detach().cpu().numpy()
    return image


def image_png(image: Any) -> tuple[bytes, int, int]:
    """Encode ``image`` as PNG.

    Accepts PNG bytes, a path to a PNG file, a PIL image, or an array/tensor of shape
    ``(H, W)``, ``(H, W, C)`` or ``(C, H, W)`` with C in 1, 3, 4: unsigned 8-bit values as they
    are, floats taken as 0..1 and scaled.

    Returns:
        ``(png_bytes, width, height)``.

    Raises:
        TypeError: The object is none of the above.
        ValueError: Its shape or contents cannot be an image.
    """
    if isinstance(image, (bytes, bytearray)):
        data = bytes(image)
        return (data, *png_size(data))
    if isinstance(image, (str, PathLike)):
        data = Path(fspath(image)).read_bytes()
        if not data.startswith(PNG_SIGNATURE):
            raise ValueError(
                f"{fspath(image)}: only PNG files are read directly; load other formats "
                "into an array or a PIL image first"
            )
        return (data, *png_size(data))
    if hasattr(image, "save") and hasattr(image, "size") and hasattr(image, "mode"):
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        width, height = image.size
        return buf.getvalue(), int(width), int(height)
    array = _to_array(image)
    shape = getattr(array, "shape", None)
    if shape is None or not hasattr(array, "tobytes"):
        raise TypeError(
            f"cannot log a {type(image).__name__} as an image: pass an array or tensor, "
            "a PIL image, PNG bytes or a path to a PNG file"
        )
    if len(shape) == 3 and shape[0] in (1, 3, 4) and shape[2] not in (1, 3, 4):
        array = array.transpose(1, 2, 0)  # CHW (PyTorch) -> HWC
        shape = array.shape
    if len(shape) == 2:
        height, width, channels = int(shape[0]), int(shape[1]), 1
    elif len(shape) == 3 and shape[2] in (1, 2, 3, 4):
        height, width, channels = int(shape[0]), int(shape[1]), int(shape[2])
    else:
        raise ValueError(f"cannot log an array of shape {tuple(shape)} as an image")
    kind = getattr(getattr(array, "dtype", None), "kind", "u")
    if kind == "f":
        array = (array.clip(0.0, 1.0) * 255.0).round()
    elif kind == "b":
        array = array * 255
    pixels = array.astype("uint8").tobytes() if hasattr(array, "astype") else array.tobytes()
    return encode_png(pixels, width, height, channels), width, height


def _flat_floats(values: Any) -> list[float]:
    values = _to_array(values)
    if hasattr(values, "ravel") and hasattr(values, "tolist"):
        values = values.ravel().tolist()
    # A string is iterable, but its characters are not numbers.
    if not isinstance(values, Iterable) or isinstance(values, (str, bytes, bytearray)):
        raise TypeError(
            f"a histogram needs a sequence or array of numbers, got {type(values).__name__}"
        )
    out: list[float] = []
    for v in values:
        if isinstance(v, (str, bytes, bytearray)):
            raise TypeError(f"a histogram needs numbers, got {type(v).__name__} {v!r}")
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            raise TypeError(f"a histogram needs numbers, got {type(v).__name__} {v!r}") from None
    return out


def histogram(
    values: Any, bins: int
) -> tuple[tuple[float, ...], tuple[int, ...], tuple[float, ...]]:
    """Bin ``values`` into ``bins`` equal-width bins over their finite range.

    NaN and infinite values are left out. Uses ``numpy.histogram`` when numpy is already
    imported by the caller's process, a plain loop otherwise.

    Returns:
        ``(edges, counts, finite_values)`` with ``len(edges) == bins + 1``.

    Raises:
        TypeError: ``values`` is not a sequence or array of numbers, or ``bins`` not an int.
        ValueError: ``bins`` is not positive or there is no finite value.
    """
    if not isinstance(bins, int) or isinstance(bins, bool):
        raise TypeError(f"bins must be a positive int, got {bins!r}")
    if bins < 1:
        raise ValueError(f"bins must be a positive int, got {bins}")
    finite = [v for v in _flat_floats(values) if math.isfinite(v)]
    if not finite:
        raise ValueError("a histogram needs at least one finite value")
    np = sys.modules.get("numpy")
    if np is not None:
        counts_arr, edges_arr = np.histogram(finite, bins=bins)
        return (
            tuple(float(e) for e in edges_arr),
            tuple(int(c) for c in counts_arr),
            tuple(finite),
        )
    low, high = min(finite), max(finite)
    if low == high:
        low, high = low - 0.5, high + 0.5
    width = (high - low) / bins
    edges = (*(low + i * width for i in range(bins)), high)
    counts = [0] * bins
    for v in finite:
        counts[min(int((v - low) / width), bins - 1)] += 1
    return edges, tuple(counts), tuple(finite)


def figure_payload(figure: Any) -> tuple[bytes | None, str | None]:
    """``(png, None)`` for a matplotlib figure, ``(None, json)`` for a plotly one.

    Raises:
        TypeError: Neither.
    """
    if hasattr(figure, "savefig"):
        buf = io.BytesIO()
        figure.savefig(buf, format="png")
        return buf.getvalue(), None
    if hasattr(figure, "to_plotly_json") and hasattr(figure, "to_json"):
        return None, str(figure.to_json())
    raise TypeError(
        f"cannot log a {type(figure).__name__} as a figure: pass a matplotlib or plotly figure"
    )


#: The plotly.js that :func:`plotly_html` pages load.
PLOTLY_JS = "https://cdn.plot.ly/plotly-2.35.2.min.js"


def plotly_html(figure_json: str) -> str:
    """A standalone page drawing a plotly figure from its JSON (for backends that show HTML).

    The page loads plotly.js from :data:`PLOTLY_JS` when opened.
    """
    figure_json = figure_json.replace("</", "<\\/")  # no "</script>" inside the script
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><script src="{PLOTLY_JS}"></script>'
        '</head>\n<body><div id="figure"></div><script>\n'
        f"const figure = {figure_json};\n"
        'Plotly.newPlot("figure", figure.data, figure.layout || {});\n'
        "</script></body></html>\n"
    )
