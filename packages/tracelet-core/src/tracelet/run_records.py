"""The :class:`~tracelet.run.Run`'s calls for everything but metrics: parameters, tags,
artifacts, text, images, histograms and figures.

Each call validates its arguments at once (raising for a programming error, like the metric
calls), builds its record and appends it to the dispatcher's buffer; media are encoded before
the call returns, so the caller may change the object afterwards. The record types and media
encoders are imported on first use, so the metric hot path and ``import tracelet`` never load
them. :class:`RecordCalls` is a base class of :class:`~tracelet.run.Run` and holds no state of
its own.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from tracelet.values import check_name, step_value

if TYPE_CHECKING:
    from tracelet.artifacts.builder import TypedArtifact
    from tracelet.artifacts.manifest import ArtifactInfo
    from tracelet.artifacts.types import ArtifactType
    from tracelet.backend import Backend
    from tracelet.dispatch import Dispatcher
    from tracelet.run import Run
    from tracelet.run_lifecycle import InertDispatcher

_time = time.time
_DEFAULT_HISTOGRAM_BINS = 64


class RecordCalls:
    """The logging calls of a :class:`~tracelet.run.Run` other than ``log_metric(s)``."""

    if TYPE_CHECKING:
        # Provided by tracelet.run.Run (the attributes are its slots).
        _accepting: bool
        _backends: dict[str, Backend]
        _buffer: deque[Any]
        _dispatcher: Dispatcher | InertDispatcher

        def _ignored(self, call: str) -> None: ...
        def _next_auto_step(self, key: object) -> int: ...
    else:
        # No __dict__ either: hidden from mypy, which would otherwise refuse assignments to
        # Run's slots in this class.
        __slots__ = ()

    def log_param(self, name: str, value: Any) -> None:
        """Log a parameter. A mapping value is flattened under ``name`` (``name/key``).

        Values are kept as str, int, float, bool or None; numpy scalars become Python ones and
        other objects their JSON or ``str()`` form.

        Raises:
            TypeError: ``name`` (or a nested key) is not a non-empty string.
        """
        if not self._accepting:
            self._ignored("log_param")
            return
        if isinstance(value, Mapping):
            self.log_params({name: value})
            return
        from tracelet.records import Param
        from tracelet.values import param_value

        self._enqueue(Param(check_name(name, "param"), param_value(value)))

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log several parameters; nested mappings become ``outer/inner`` names, and an empty
        one the value ``"{}"``.

        Raises:
            TypeError: ``params`` is not a mapping, or a key is not a non-empty string (nothing
                is logged then).
        """
        if not self._accepting:
            self._ignored("log_params")
            return
        if not isinstance(params, Mapping):
            raise TypeError(f"log_params takes a mapping, got {type(params).__name__}")
        from tracelet.values import flatten_params

        for record in flatten_params(params):
            self._enqueue(record)

    def set_tag(self, name: str, value: Any) -> None:
        """Set a tag on the run (values are stored as strings).

        Raises:
            TypeError: ``name`` is not a non-empty string.
        """
        if not self._accepting:
            self._ignored("set_tag")
            return
        from tracelet.records import Tag

        self._enqueue(Tag(check_name(name, "tag"), str(value)))

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set several tags.

        Raises:
            TypeError: ``tags`` is not a mapping or a name is not a non-empty string (nothing
                is set then).
        """
        if not self._accepting:
            self._ignored("set_tags")
            return
        if not isinstance(tags, Mapping):
            raise TypeError(f"set_tags takes a mapping, got {type(tags).__name__}")
        from tracelet.records import Tag

        records = [Tag(check_name(name, "tag"), str(value)) for name, value in tags.items()]
        for record in records:
            self._enqueue(record)

    def log_artifact(
        self, path: str | os.PathLike[str] | TypedArtifact, name: str | None = None
    ) -> ArtifactInfo | None:
        """Store a file or a directory with the run, or the next version of a typed artifact.

        A typed artifact (:meth:`create_artifact`) is copied into the run folder now, as
        ``artifacts/<type>/<name>/v<N>/`` with its ``manifest.json``, and delivered like any
        folder (see :mod:`tracelet.artifacts.store`); ``name`` does not apply to it. It returns
        the version written (:class:`~tracelet.artifacts.ArtifactInfo`); a file or a directory
        returns ``None``.

        The file is read when the backend writes it (shortly after, on another thread): do
        not change or delete it until :meth:`flush` returns if its exact content matters. A
        file deleted before that is counted as failed in :meth:`stats`.

        Args:
            path: The file or directory, or a typed artifact.
            name: Its destination in the run's artifacts (``"models/best.pt"``); default:
                the file's name, or for a directory its contents go under its name.

        Raises:
            FileNotFoundError: ``path`` does not exist (or a typed artifact's file was deleted
                after it was added).
            ValueError: ``name`` is empty or contains ``..``.
        """
        if not self._accepting:
            self._ignored("log_artifact")
            return None
        from pathlib import Path

        from tracelet.artifacts.builder import TypedArtifact
        from tracelet.records import Artifact

        if isinstance(path, TypedArtifact):
            from tracelet.artifacts.store import log_typed

            return log_typed(cast("Run", self), path)

        resolved = Path(path).expanduser().resolve()
        if not resolved.exists():
            raise FileNotFoundError(f"log_artifact: {os.fspath(path)!r} does not exist")
        dest = (name or resolved.name).strip("/")
        if not dest or ".." in Path(dest).parts:
            raise ValueError(f"log_artifact: invalid artifact name {name!r}")
        self._enqueue(Artifact(resolved, dest, resolved.is_dir()))
        return None

    def create_artifact(
        self,
        name: str,
        artifact_type: ArtifactType | str,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> TypedArtifact:
        """A new typed artifact to fill (``add_file``, ``add_dir``, ``add_reference``,
        ``add_metadata``, ...) and pass to :meth:`log_artifact`.

        Raises:
            TypeError, ValueError: An invalid name, type or metadata.
        """
        from tracelet.artifacts.builder import TypedArtifact

        return TypedArtifact(name, artifact_type, description, metadata)

    def get_artifact(
        self, name: str, version: int | str = "latest", backend: str | None = None
    ) -> ArtifactInfo | None:
        """A logged version of a typed artifact (``"latest"``, ``3`` or ``"v3"``), or ``None``:
        from the run folder by default, or as ``backend`` stores it (after waiting, up to 30
        s, for the backends to write what was logged before: :meth:`flush`).

        Raises:
            ValueError: An invalid version, or ``backend`` is not one of the run's.
            NotImplementedError: That backend cannot read typed artifacts back.
        """
        from tracelet.artifacts.store import get_artifact

        return get_artifact(cast("Run", self), self._backends, name, version, backend)

    def list_artifacts(
        self, type_filter: ArtifactType | str | None = None, backend: str | None = None
    ) -> list[ArtifactInfo]:
        """The logged typed artifact versions (of one type with ``type_filter``), by name then
        version: from the run folder by default, or as ``backend`` stores them (after
        :meth:`flush`, as :meth:`get_artifact`).

        Raises:
            ValueError: An unknown type, or ``backend`` is not one of the run's.
            NotImplementedError: That backend cannot read typed artifacts back.
        """
        from tracelet.artifacts.store import list_artifacts

        return list_artifacts(cast("Run", self), self._backends, type_filter, backend)

    def log_text(self, name: str, text: str, step: int | None = None) -> None:
        """Log a piece of text at a step (default: this name's next automatic step).

        Raises:
            TypeError: ``text`` is not a str, ``name`` not a non-empty string, or ``step`` not
                a whole number.
        """
        if not self._accepting:
            self._ignored("log_text")
            return
        if not isinstance(text, str):
            raise TypeError(f"log_text {name!r}: text must be a str, got {type(text).__name__}")
        name = check_name(name, "text")
        from tracelet.records import Text

        self._enqueue(Text(name, text, self._media_step("text", name, step), _time()))

    def log_image(
        self, name: str, image: Any, step: int | None = None, caption: str | None = None
    ) -> None:
        """Log an image at a step.

        Args:
            image: An array or tensor (``HW``, ``HWC`` or ``CHW``; uint8, or floats in 0..1),
                a PIL image, PNG bytes or a path to a PNG file. It is encoded now, so it may
                change after the call.

        Raises:
            TypeError, ValueError: The image cannot be read (see :func:`tracelet.media.image_png`).
        """
        if not self._accepting:
            self._ignored("log_image")
            return
        name = check_name(name, "image")
        from tracelet import media
        from tracelet.records import Image

        png, width, height = media.image_png(image)
        self._enqueue(
            Image(name, png, width, height, self._media_step("image", name, step), _time(), caption)
        )

    def log_histogram(
        self, name: str, values: Any, step: int | None = None, bins: int = _DEFAULT_HISTOGRAM_BINS
    ) -> None:
        """Log the distribution of ``values`` (a sequence, array or tensor) at a step.

        NaN and infinite values are left out of the bins.

        Raises:
            TypeError, ValueError: See :func:`tracelet.media.histogram`.
        """
        if not self._accepting:
            self._ignored("log_histogram")
            return
        name = check_name(name, "histogram")
        from tracelet import media
        from tracelet.records import Histogram

        edges, counts, finite = media.histogram(values, bins)
        self._enqueue(
            Histogram(
                name, edges, counts, self._media_step("histogram", name, step), _time(), finite
            )
        )

    def log_figure(self, name: str, figure: Any, step: int | None = None) -> None:
        """Log a matplotlib figure (rendered to PNG now) or a plotly figure (as JSON).

        Raises:
            TypeError: ``figure`` is neither.
        """
        if not self._accepting:
            self._ignored("log_figure")
            return
        name = check_name(name, "figure")
        from tracelet import media
        from tracelet.records import Figure

        png, plotly_json = media.figure_payload(figure)
        self._enqueue(
            Figure(name, self._media_step("figure", name, step), _time(), png, plotly_json)
        )

    def _media_step(self, kind: str, name: str, step: int | None) -> int:
        """The step of a media record: as given, or this name's next automatic media step."""
        if step is None:
            # Media steps are counted apart from metric steps of the same name.
            return self._next_auto_step(f"\x00media:{name}")
        return step_value(step, f"{kind} {name!r}")

    def _enqueue(self, record: Any) -> None:
        buffer = self._buffer
        buffer.append(record)
        dispatcher = self._dispatcher
        if len(buffer) >= dispatcher.wake_at:
            dispatcher.pressure()
