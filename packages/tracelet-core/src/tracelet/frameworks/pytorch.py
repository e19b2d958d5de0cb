"""``PyTorchFramework``, as in earlier Tracelet releases: today's TensorBoard capture.

While a run is active with ``capture_tensorboard`` on (the default), the calls of every
``torch.utils.tensorboard`` and ``tensorboardX`` ``SummaryWriter`` also log into the run
(see docs/integrations/tensorboard.md); this class needs no setup for that.

:meth:`PyTorchFramework.log_enhanced_metric` keeps the earlier call that logged a value with a
kind and metadata: the value goes to the run's call for its kind, the kind and the metadata
become tags of the run (see the method for why tags).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from tracelet.frameworks import CaptureFramework, logger

if TYPE_CHECKING:
    from tracelet.core.orchestrator import MetricType

#: Kind → the run's call that logs a value of that kind at a step.
_MEDIA_CALLS: dict[str, str] = {
    "histogram": "log_histogram",
    "image": "log_image",
    "text": "log_text",
    "figure": "log_figure",
}

#: Kinds of the earlier release with no call here; their values are files to store.
_NO_CALL: frozenset[str] = frozenset({"artifact", "embedding", "video", "audio", "mesh", "hparams"})


class PyTorchFramework(CaptureFramework):
    """The TensorBoard capture.

    Args:
        patch_tensorboard: Whether ``SummaryWriter`` calls should be captured. The run's
            ``capture_tensorboard`` setting decides; with ``False`` here while the setting is
            on, :meth:`start_tracking` warns that they still are.

    Raises:
        ImportError: ``tracelet-collectors`` is not installed.
    """

    module: ClassVar[str] = "tensorboard"
    setting: ClassVar[str] = "capture_tensorboard"
    captured: ClassVar[str] = "SummaryWriter calls"

    def __init__(self, patch_tensorboard: bool = True) -> None:
        super().__init__()
        self.patch_tensorboard = patch_tensorboard
        # (run id, tag) -> value last set, so that a tag is only set again when it changes.
        self._tags_set: dict[tuple[str, str], str] = {}

    def start_tracking(self) -> None:
        """As :meth:`CaptureFramework.start_tracking`; with ``patch_tensorboard=False``, warns
        instead when the run captures anyway.

        Raises:
            RuntimeError: No run is active (or the experiment given has not started).
        """
        if self.patch_tensorboard:
            super().start_tracking()
            return
        run = self._run()
        if self._capturing(run) and run.settings is not None:
            logger.warning(
                "tracelet: PyTorchFramework(patch_tensorboard=False) cannot turn the capture "
                "off for run %r: SummaryWriter calls are captured; start the run with "
                "config={'capture_tensorboard': False} to leave them out",
                run.name,
            )

    def log_enhanced_metric(
        self,
        name: str,
        value: Any,
        metric_type: MetricType | str,
        iteration: int | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Log ``value`` by its kind, with the kind and ``metadata`` as tags of the run.

        ``metric_type`` (a :class:`tracelet.core.orchestrator.MetricType` or its value) picks
        the call: ``"histogram"``, ``"image"``, ``"text"`` and ``"figure"`` go to the run's
        ``log_histogram``, ``log_image``, ``log_text`` and ``log_figure`` at ``iteration``;
        ``"parameter"`` to ``log_param`` (``iteration`` unused); any other kind (``"scalar"``,
        or a word such as ``"accuracy"`` or ``"loss"``) to ``log_metric(name, value,
        iteration)``, so the value must be a number.

        The kind is set as the tag ``<name>/metric_type`` and each metadata item as the tag
        ``<name>/<key>`` (values as strings). Tags, because no backend stores attributes on a
        metric point, and a tag, unlike a param, may change (MLflow refuses a param logged
        again with another value, while metadata such as a checkpoint name changes from call
        to call): a tag holds the last value set, and is set again only when it changes.

        Raises:
            RuntimeError: No run is active (or the experiment given has not started).
            TypeError: A kind with no call here (``"artifact"``, ``"embedding"``, ``"video"``,
                ``"audio"``, ``"mesh"``, ``"hparams"``: store such values with
                ``log_artifact``), ``metadata`` not a mapping, or as the run's call for the
                kind (a metric value that is not a number, ...); nothing is logged then.
            ValueError: As the run's call for the kind.
        """
        kind = str(getattr(metric_type, "value", metric_type))
        if kind in _NO_CALL:
            raise TypeError(
                f"log_enhanced_metric {name!r}: a {kind!r} value has no call in this Tracelet "
                "release; store it as a file with log_artifact"
            )
        if metadata is not None and not isinstance(metadata, Mapping):
            raise TypeError(
                f"log_enhanced_metric {name!r}: metadata must be a mapping, got "
                f"{type(metadata).__name__}"
            )
        run = self._run()
        if kind in _MEDIA_CALLS:
            getattr(run, _MEDIA_CALLS[kind])(name, value, iteration)
        elif kind == "parameter":
            run.log_param(name, value)
        else:
            run.log_metric(name, value, iteration)
        tags = {f"{name}/metric_type": kind}
        tags.update({f"{name}/{key}": str(item) for key, item in (metadata or {}).items()})
        new = {tag: text for tag, text in tags.items() if self._tags_set.get((run.id, tag)) != text}
        if new:
            run.set_tags(new)
            self._tags_set.update({(run.id, tag): text for tag, text in new.items()})
