"""``ExperimentConfig``, the settings object of earlier Tracelet releases, read as today's keys.

Earlier scripts built one and passed it as ``Experiment(name, config=ExperimentConfig(...))``.
Its fields are kept (same names, order and defaults) so that those scripts construct it as
before; :meth:`ExperimentConfig.settings` turns it into the ``config`` mapping a run takes
today. A field still at its earlier default asks for nothing: the earlier defaults are today's
defaults (system metrics, git and environment collected, automagic off), so it is not passed
on and env vars and ``tracelet.yaml`` decide as for any run. Each field set otherwise is:

* read as today's key (``track_git`` → ``track_git_info``, ``track_system_metrics`` →
  ``collect_system_metrics``, ``track_environment``, ``enable_automagic`` → ``automagic``),
  said once as a :class:`~tracelet.legacy.TraceletDeprecationWarning` that gives the mapping
  to pass instead;
* ignored with one deprecation warning naming the field and what to do instead, when it has no
  effect here (``track_metrics``, ``track_args``, ``track_stdout``, ``track_checkpoints``,
  ``automagic_frameworks``);
* read as today's key of automatic artifact capture (``automagic_artifacts``, and
  ``watch_filesystem`` as ``automagic_artifacts``, ``artifact_watch_dirs``), or, in an install
  without Tracelet's collectors, said to need them
  (:func:`tracelet.legacy.warn_needs_collectors`);
* accepted without a word (``enable_artifacts``: typed artifacts are always available).

The fields the earlier *documentation* showed but the earlier class never had (``name``,
``project``, ``backend_name``, ``tags``, ``tracking_uri``) are a ``TypeError``, as they were.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from tracelet.legacy import warn_deprecated, warn_needs_collectors

#: Field → today's key (a key of Tracelet's collectors, or the core's ``automagic``).
RENAMED_FIELDS: dict[str, str] = {
    "track_environment": "track_environment",
    "track_system_metrics": "collect_system_metrics",
    "track_git": "track_git_info",
    "enable_automagic": "automagic",
    "automagic_artifacts": "automagic_artifacts",
    "watch_filesystem": "automagic_artifacts",
    "artifact_watch_dirs": "artifact_watch_dirs",
}

#: Field → what to do instead (besides ``tracelet.settings.legacy.IGNORED``, whose words the
#: earlier config keys of the same names use).
_NO_EFFECT_HERE: dict[str, str] = {
    "automagic_frameworks": (
        "automagic reads the script's variables, not frameworks; the framework captures are "
        "the settings capture_tensorboard, capture_lightning and capture_transformers; remove it"
    ),
}

#: Fields that ask for automatic artifact capture (a feature of Tracelet's collectors).
_ARTIFACT_CAPTURE: tuple[str, ...] = (
    "automagic_artifacts",
    "watch_filesystem",
    "artifact_watch_dirs",
)


@dataclass
class ExperimentConfig:
    """The options of an earlier ``Experiment``, with their earlier names and defaults.

    Pass it as ``Experiment(name, config=ExperimentConfig(...))``; ``experiment.config`` is
    this object. What each field does here is said in :mod:`tracelet.core.experiment_config`:
    a field left at its default is not passed on; the others are read as today's keys, or
    ignored, each with one message per process.
    """

    track_metrics: bool = True
    track_environment: bool = True
    track_args: bool = True
    track_stdout: bool = True
    track_checkpoints: bool = True
    track_system_metrics: bool = True
    track_git: bool = True
    enable_automagic: bool = False
    automagic_frameworks: set[str] | None = None
    enable_artifacts: bool = False
    automagic_artifacts: bool = False
    artifact_watch_dirs: list[str] | None = None
    watch_filesystem: bool = False

    def changed(self) -> dict[str, Any]:
        """The fields whose value differs from the earlier default, in field order."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != f.default
        }

    def settings(self, known: frozenset[str] | None = None) -> dict[str, Any]:
        """Today's config keys this asks for, saying what changed (once per process each).

        Args:
            known: The top-level settings keys of this installation (default: the process's
                plugin host). A collector key that is not among them (``tracelet-collectors``
                not installed) is left out: its collector does not run, which is what a field
                set away from its default (``False``) asks for.

        Returns:
            The mapping to pass as ``config`` (``{}`` when every field is at its default).

        Warns:
            TraceletDeprecationWarning: Once for the renamed fields (giving the mapping to pass
                instead) and once per field with no effect here (see :mod:`tracelet.legacy`
                for how it is shown); on the ``tracelet.legacy`` logger, what to install when
                it asks for automatic artifact capture without Tracelet's collectors.
        """
        from tracelet.settings.legacy import IGNORED

        changed = self.changed()
        if known is None:
            known = _known_keys()
        renamed = [n for n in changed if n in RENAMED_FIELDS and RENAMED_FIELDS[n] in known]
        mapped = {RENAMED_FIELDS[name]: changed[name] for name in renamed}
        if mapped:
            given = ", ".join(f"{name}={changed[name]!r}" for name in renamed)
            warn_deprecated(
                f"ExperimentConfig({given}) is the earlier form of config={mapped!r} and is "
                "read as it; pass that mapping as config instead of an ExperimentConfig"
            )
        for name, value in changed.items():
            instead = IGNORED.get(name) or _NO_EFFECT_HERE.get(name)
            if instead is not None:
                warn_deprecated(
                    f"ExperimentConfig({name}={value!r}) has no effect in this Tracelet "
                    f"release and is ignored: {instead}"
                )
        capture = [
            f"{name}={changed[name]!r}"
            for name in _ARTIFACT_CAPTURE
            if name in changed and RENAMED_FIELDS[name] not in known
        ]
        if capture:
            warn_needs_collectors(
                "automatic artifact capture", f"ExperimentConfig({', '.join(capture)})"
            )
        return mapped


def _known_keys() -> frozenset[str]:
    """The top-level settings keys of the process's plugin host (the core's and collectors')."""
    from tracelet.plugins import get_default_host
    from tracelet.settings.model import settings_keys

    host = get_default_host()
    return settings_keys(host.section_models(), host.top_level_models())
