"""Media records as MLflow calls, and the upload of text or bytes made by Tracelet as an
artifact file.

* images: ``log_image(key=..., step=...)``, MLflow's stepped images (the run's image panel);
* text: ``text/<name>/step_<step>.txt``; figures: ``figures/<name>/step_<step>.png``
  (matplotlib) or ``.html`` (plotly); histograms, which MLflow has no type for:
  ``histograms/<name>/step_<step>.json`` holding ``edges``, ``counts`` and ``step``.

``<name>`` is the record's name as an artifact path (:func:`~tracelet_mlflow.names.artifact_path`)
and ``<step>`` has 8 digits. Each function returns a :data:`~tracelet.backend_kit.PlannedCall`:
what the record becomes is decided when the batch is planned, the upload happens when the call
runs (and raises what MLflow raises).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tracelet.backend_kit import PlannedCall, pil_image
from tracelet.media import plotly_html
from tracelet.records import Figure, Histogram, Image, Media, Text
from tracelet_mlflow.names import artifact_path, image_key
from tracelet_mlflow.runs import millis

if TYPE_CHECKING:
    from mlflow import MlflowClient

#: How the backend stores a name under another one, warning once per run when they differ:
#: ``renaming(what, name, stored)`` returns ``stored``.
Renaming = Callable[[str, str, str], str]


def text_call(client: MlflowClient, run_id: str, text: str, artifact_file: str) -> PlannedCall:
    """The call that stores ``text`` as the run's artifact file ``artifact_file``."""
    return lambda: client.log_text(run_id, text, artifact_file)


def bytes_call(client: MlflowClient, run_id: str, data: bytes, artifact_file: str) -> PlannedCall:
    """The call that stores ``data`` as the run's artifact file ``artifact_file`` (written to a
    temporary file first, as MLflow uploads files)."""
    folder, _, filename = artifact_file.rpartition("/")

    def upload() -> None:
        with tempfile.TemporaryDirectory(prefix="tracelet-mlflow-") as tmp:
            path = Path(tmp, filename)
            path.write_bytes(data)
            client.log_artifact(run_id, str(path), artifact_path=folder or None)

    return upload


def step_file(folder: str, name: str, step: int, suffix: str, renaming: Renaming) -> str:
    """``<folder>/<name as a path>/step_<step><suffix>``: where a media record goes (a renamed
    name is reported through ``renaming``)."""
    path = renaming("media name", name, artifact_path(name))
    return f"{folder}/{path}/step_{step:08d}{suffix}"


def media_call(client: MlflowClient, run_id: str, media: Media, renaming: Renaming) -> PlannedCall:
    """The call that stores one media record in the run (see the module docstring); names
    MLflow would refuse are rewritten and reported through ``renaming``."""
    if isinstance(media, Text):
        return text_call(
            client, run_id, media.text, step_file("text", media.name, media.step, ".txt", renaming)
        )
    if isinstance(media, Image):
        image, key = media, renaming("image name", media.name, image_key(media.name))

        def log_image() -> None:
            client.log_image(
                run_id,
                pil_image(image.png),
                key=key,
                step=image.step,
                timestamp=millis(image.timestamp),
            )

        return log_image
    if isinstance(media, Histogram):
        data = {"edges": list(media.edges), "counts": list(media.counts), "step": media.step}
        where = step_file("histograms", media.name, media.step, ".json", renaming)
        return text_call(client, run_id, json.dumps(data), where)
    assert isinstance(media, Figure)
    if media.png is not None:
        where = step_file("figures", media.name, media.step, ".png", renaming)
        return bytes_call(client, run_id, media.png, where)
    assert media.plotly_json is not None
    where = step_file("figures", media.name, media.step, ".html", renaming)
    return text_call(client, run_id, plotly_html(media.plotly_json), where)
