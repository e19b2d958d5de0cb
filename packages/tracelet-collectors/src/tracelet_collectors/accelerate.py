"""``TraceletTracker``: an ``accelerate`` tracker that logs into a Tracelet run. Importing this
module imports accelerate, and registers the tracker under the name ``"tracelet"``
(``accelerate.tracking.register_tracker_class``), so ``Accelerator(log_with="tracelet")`` works
as well as ``Accelerator(log_with=TraceletTracker())``.

* ``accelerator.init_trackers(project_name, config=..., init_kwargs=...)`` starts the run: the
  given run, else the active run, else a new one in the Tracelet project ``project_name``,
  started with ``init_kwargs["tracelet"]`` and the tracker's own keyword arguments of
  :func:`tracelet.start_logging` (``exp_name``, ``project``, ``backend``, ``config``; the
  tracker's win). ``config`` becomes params (nested mappings flattened with ``/``).
* ``accelerator.log(values, step=...)``: numbers (tensors of one element included) become
  metrics at ``step`` (``None``: each name's next automatic step), a nested mapping
  ``{"loss": {"train": ...}}`` the metric ``loss/train``, strings texts. Other values are left
  out, with one warning per name on the ``tracelet.collectors.accelerate`` logger.
* ``accelerator.end_training()`` stops the run if the tracker started it; a run it did not start
  is left running.

Like accelerate's own trackers, it does its work on the main process only
(``main_process_only``); ``tracker`` is ``None`` on the other processes.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from accelerate.tracking import (  # type: ignore[import-untyped]
    GeneralTracker,
    on_main_process,
    register_tracker_class,
)

import tracelet
from tracelet.backend_kit import WarnOnce
from tracelet.values import metric_value
from tracelet_collectors.params import string_keys

if TYPE_CHECKING:
    from tracelet.run import Run

logger = logging.getLogger("tracelet.collectors.accelerate")

#: How many frames above ``start`` ``Accelerator.init_trackers`` may be (the
#: ``on_main_process`` wrapper sits between).
_INIT_TRACKERS_DEPTH = 4


class TraceletTracker(GeneralTracker):  # type: ignore[misc]
    """Logs what ``accelerate.Accelerator`` is given into a Tracelet run (see the module doc).

    Args:
        project_name: The Tracelet project of a run the tracker starts; default: the
            ``project_name`` given to ``init_trackers`` (which accelerate passes here for
            ``log_with="tracelet"``).
        run: The run to log into; default: the active run, else one the tracker starts.
        **start_logging: ``exp_name``, ``project``, ``backend``, ``config`` of the run the
            tracker starts.
    """

    name = "tracelet"
    requires_logging_directory = False
    main_process_only = True

    def __init__(
        self, project_name: str | None = None, *, run: Run | None = None, **start_logging: Any
    ) -> None:
        super().__init__()
        self._project_name = project_name
        self._run = run
        self._owned = False
        self._start_logging = start_logging
        self._skipped = WarnOnce(logger)

    @property
    def tracker(self) -> Run | None:
        """The Tracelet run; ``None`` before ``init_trackers`` and on other processes."""
        return self._run

    @on_main_process  # type: ignore[untyped-decorator]
    def start(self) -> None:
        if self._run is not None:
            return
        active = tracelet.get_active_run()
        if active is not None:
            self._run = active
            return
        project, init_kwargs = _init_trackers_arguments(self)
        options = {**init_kwargs, **self._start_logging}
        options.setdefault("project", self._project_name or project)
        self._run, self._owned = tracelet.start_logging(**options), True

    def _opened(self) -> Run:
        if self._run is None:
            self.start()
        assert self._run is not None
        return self._run

    @on_main_process  # type: ignore[untyped-decorator]
    def store_init_configuration(self, values: Mapping[str, Any]) -> None:
        self._opened().log_params(string_keys(values))

    @on_main_process  # type: ignore[untyped-decorator]
    def log(self, values: Mapping[str, Any], step: int | None = None, **kwargs: Any) -> None:
        run = self._opened()
        metrics: dict[str, float] = {}
        for name, value in _flat(values):
            if type(value) is float:
                metrics[name] = value
            elif isinstance(value, str):
                run.log_text(name, value, step)
            else:
                try:
                    metrics[name] = metric_value(value, name)
                except (TypeError, ValueError):
                    self._skip(name, value)
        if metrics:
            run.log_metrics(metrics, step)

    @on_main_process  # type: ignore[untyped-decorator]
    def finish(self) -> None:
        if self._run is not None and self._owned:
            self._owned = False
            self._run.stop()

    def _skip(self, name: str, value: Any) -> None:
        self._skipped(
            name,
            "tracelet: accelerator.log got %r as a %s, neither a number nor a string: "
            "left out of the run (reported once)",
            name,
            type(value).__name__,
        )


def _init_trackers_arguments(tracker: TraceletTracker) -> tuple[str | None, dict[str, Any]]:
    """The ``project_name`` and ``init_kwargs["tracelet"]`` given to the
    ``Accelerator.init_trackers`` call that is starting ``tracker``; ``(None, {})`` elsewhere.

    accelerate gives a tracker passed as an object neither of them, yet they are what the user
    wrote for every tracker: they are read from that call's frame.
    """
    frame = sys._getframe(1).f_back  # above the tracker's start
    for _ in range(_INIT_TRACKERS_DEPTH):
        if frame is None:
            break
        local = frame.f_locals
        if frame.f_code.co_name == "init_trackers" and tracker in getattr(
            local.get("self"), "trackers", ()
        ):
            project = local.get("project_name")
            init_kwargs = (local.get("init_kwargs") or {}).get(tracker.name) or {}
            return (project if isinstance(project, str) else None), dict(init_kwargs)
        frame = frame.f_back
    return None, {}


def _flat(values: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``(name, value)`` of every leaf of ``values``, nested names joined with ``/``."""
    out: list[tuple[str, Any]] = []
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.extend(_flat(value, f"{name}/"))
        else:
            out.append((name, value))
    return out


register_tracker_class(TraceletTracker)

__all__ = ["TraceletTracker"]
