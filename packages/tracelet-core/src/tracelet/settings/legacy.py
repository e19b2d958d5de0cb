"""Config keys and env vars of earlier Tracelet releases, and ``TraceletSettings``.

Each source's raw data (the call's arguments, the env vars, ``tracelet.yaml``) goes through
:func:`apply_legacy_keys` before validation, so a key written the earlier way is read as
today's and keeps the provenance of where it was written: an error or ``tracelet config``
names ``env var TRACELET_TRACK_SYSTEM`` for the value of ``collect_system_metrics`` it set.

Only top-level keys are concerned. What happens to each one is in :data:`RENAMED`,
:data:`IGNORED` and :data:`NEEDS_COLLECTORS_KEYS`; every other unknown key is still an error (a typo
must not pass silently). Each mapping is said once, as a
:class:`~tracelet.legacy.TraceletDeprecationWarning` naming the old key, today's key and the
source (see :mod:`tracelet.legacy` for how it is made visible):

* a renamed key is read as today's key, unless today's key is also set in the same source
  (that one wins), or the plugin that brings today's key is not installed (it is ignored);
* a key that had no effect in earlier releases is ignored, saying what to use instead;
* a switch for a feature of Tracelet's collectors under its earlier and today's name
  (``automagic_artifacts``) is today's key where they are installed; elsewhere it is accepted,
  and when it asks for the feature, :func:`tracelet.legacy.warn_needs_collectors` says what to
  install;
* a switch for a feature that is always on here (``enable_artifacts``: typed artifacts) is
  accepted and says nothing: the script gets what it asked for.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from tracelet.legacy import warn_deprecated, warn_needs_collectors

# The sources call apply_legacy_keys, and resolving calls the sources: those imports are late.
if TYPE_CHECKING:
    from tracelet.settings.resolve import ResolvedSettings

KeyPath = tuple[str, ...]

#: Earlier key → today's key (each a key of Tracelet's collectors).
RENAMED: dict[str, str] = {
    "track_system": "collect_system_metrics",
    "track_system_metrics": "collect_system_metrics",
    "metrics_interval": "system_metrics_interval",
    "track_gpu": "collect_gpu_metrics",
    "track_git": "track_git_info",
    "track_env": "track_environment",
    "track_tensorboard": "capture_tensorboard",
    "track_lightning": "capture_lightning",
    "enable_automagic": "automagic",
}

_BACKEND_SERVER = (
    "set the backend's own server key instead: mlflow.tracking_uri (MLFLOW_TRACKING_URI), "
    "wandb.base_url (WANDB_BASE_URL), clearml.api_host (CLEARML_API_HOST) or aim.remote_uri"
)
_BACKEND_CREDENTIALS = (
    "set the backend's own credentials instead: WANDB_API_KEY, CLEARML_API_ACCESS_KEY and "
    "CLEARML_API_SECRET_KEY, or MLflow's MLFLOW_TRACKING_TOKEN (or MLFLOW_TRACKING_USERNAME "
    "and MLFLOW_TRACKING_PASSWORD)"
)
_PART_OF_SYSTEM = "disk and network usage are part of collect_system_metrics"
_NOT_COLLECTED = "this release has no such collector; remove it"

#: Earlier key that had no effect (or has none here) → what to do instead.
IGNORED: dict[str, str] = {
    "backend_url": _BACKEND_SERVER,
    "api_key": _BACKEND_CREDENTIALS,
    "track_disk": _PART_OF_SYSTEM,
    "track_network": _PART_OF_SYSTEM,
    "track_metrics": "metrics are always logged; remove it",
    "track_args": _NOT_COLLECTED,
    "track_stdout": _NOT_COLLECTED,
    "track_checkpoints": (
        "capture checkpoint files with automagic_artifacts: true, or log them with "
        "log_artifact, or Lightning's TraceletLogger(log_model=True)"
    ),
    "max_image_size": "images are stored as logged; resize them before log_image",
}

#: Earlier switch of a feature that comes with Tracelet's collectors, under the same key →
#: the feature (said by :func:`tracelet.legacy.warn_needs_collectors` when it is asked for in
#: an install without them; with them, the key is today's and none of this applies).
NEEDS_COLLECTORS_KEYS: dict[str, str] = {
    "automagic_artifacts": "automatic artifact capture",
}

#: Earlier switches for a feature that is always on here: accepted, nothing said.
ALWAYS_ON: frozenset[str] = frozenset({"enable_artifacts"})

#: Every earlier top-level key this module handles.
LEGACY_KEYS: frozenset[str] = frozenset({*RENAMED, *IGNORED, *NEEDS_COLLECTORS_KEYS, *ALWAYS_ON})

_FALSE_WORDS = frozenset({"", "0", "false", "no", "off", "n", "f"})


def apply_legacy_keys(
    data: dict[str, Any], provenance: dict[KeyPath, str], known: Collection[str]
) -> None:
    """Rewrite the earlier top-level keys of one source's raw ``data``, in place.

    Args:
        data: The source's nested mapping, as it goes to validation.
        provenance: Its key path → source (``"env var TRACELET_TRACK_GIT"``); the entries of
            a renamed key move to today's key, keeping the source.
        known: The top-level keys of this installation's settings model. An earlier name that
            is one of them (a plugin that uses it) is left alone.
    """
    for old in [key for key in data if key in LEGACY_KEYS and key not in known]:
        value = data.pop(old)
        paths = [p for p in provenance if p[:1] == (old,)]
        source = provenance.get((old,)) or (provenance[paths[0]] if paths else "?")
        for path in paths:
            del provenance[path]
        if old in RENAMED and RENAMED[old] in known:
            _rename(data, provenance, old, value, source)
        elif old in RENAMED:  # today's key comes with tracelet-collectors
            warn_deprecated(
                f"'{old}' ({_from(source)}) is the earlier name of '{RENAMED[old]}', a key of "
                "Tracelet's collectors, which are not installed (or not loaded): ignored; pip "
                f"install tracelet-collectors, or {_remove(source, old)}"
            )
        elif old in IGNORED:
            warn_deprecated(
                f"'{old}' ({_from(source)}) had no effect in earlier Tracelet "
                f"releases and is ignored: {IGNORED[old]}; {_remove(source, old)}"
            )
        elif old in NEEDS_COLLECTORS_KEYS and _truthy(value):
            warn_needs_collectors(NEEDS_COLLECTORS_KEYS[old], f"'{old}' {_from(source)}")


def _rename(
    data: dict[str, Any], provenance: dict[KeyPath, str], old: str, value: Any, source: str
) -> None:
    """Read ``old`` as today's key in one source, unless that key is also set there."""
    new = RENAMED[old]
    where = _from(source)
    if new in data:
        warn_deprecated(
            f"'{old}' ({where}) is the earlier name of '{new}', which is also set "
            f"there ({provenance.get((new,), source)}) and wins; {_remove(source, old)}"
        )
        return
    data[new] = value
    provenance[(new,)] = source
    warn_deprecated(
        f"'{old}' ({where}) is the earlier name of '{new}' and is read as it; "
        f"{_rename_fix(source, old, new)}"
    )


def _from(source: str) -> str:
    return f"from {source}"


def _remove(source: str, old: str) -> str:
    if source.startswith("env var "):
        return f"unset {source.removeprefix('env var ')}"
    if source.startswith("argument"):
        return f"remove '{old}' from the call"
    return f"remove '{old}' from the file"


def _rename_fix(source: str, old: str, new: str) -> str:
    if source.startswith("env var "):
        return f"set TRACELET_{new.upper()} instead of {source.removeprefix('env var ')}"
    if source.startswith("argument"):
        return f"pass '{new}' instead of '{old}'"
    return f"write '{new}' instead of '{old}' in the file"


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in _FALSE_WORDS
    return bool(value)


class TraceletSettings(Mapping[str, Any]):
    """Settings written in code, as earlier Tracelet releases took them.

    ``TraceletSettings(project="mnist", backend=["mlflow"], track_system=False)`` resolves the
    keyword arguments at once, exactly as ``start_logging(config={...})`` would (they are
    arguments, above env vars, ``tracelet.yaml`` and defaults; earlier key names are read as
    today's, with a warning), so a mistake raises here, naming the key. Then:

    * as a mapping, it is the keys you gave: pass it as ``config=`` anywhere a config is taken
      (``start_logging``, ``Experiment``), or as ``start_logging(settings=...)``;
    * its attributes are the values a run started now would use (``settings.project``,
      ``settings.collect_system_metrics``, also under an earlier name such as
      ``settings.track_system``); :attr:`resolved` says where each came from.

    Env vars and the file are read again when a run starts with it.

    Raises:
        ConfigError: A ``ValueError`` naming each invalid key, its source and the fix.
    """

    def __init__(self, **values: Any) -> None:
        from tracelet.plugins import get_default_host
        from tracelet.settings.resolve import resolve_settings

        self._values = dict(values)
        self._resolved = resolve_settings(get_default_host(), config=self._values)

    @property
    def resolved(self) -> ResolvedSettings:
        """The settings as resolved at construction, with the source of every value."""
        return self._resolved

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        settings = self._resolved.model
        if name == "project_name":  # an attribute of the earlier class
            return settings.project
        try:
            return getattr(settings, RENAMED.get(name, name))
        except AttributeError:
            raise AttributeError(f"TraceletSettings has no setting {name!r}") from None

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"TraceletSettings({', '.join(self._values)}) -> {self._resolved!r}"
