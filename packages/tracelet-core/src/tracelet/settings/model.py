"""The core settings model and the class that adds each installed backend's section.

Every model here forbids unknown keys, so a typo is an error that names the key rather than a
value silently ignored. Plugin sections follow the same rule (see
:class:`tracelet.hookspecs.RegisterBackend`).
"""

from __future__ import annotations

import typing
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from tracelet.settings.sources import Layer, LayerSource, TraceletEnvSource, TraceletYamlSource


def split_commas(value: Any) -> Any:
    """Turn ``"a, b"`` into ``["a", "b"]``; leave lists and other values to validation."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


#: A list of strings that env vars and files may also give as ``"a,b,c"``. Plugin sections use
#: it for lists such as tags so that ``TRACELET_WANDB__TAGS=a,b`` works.
CommaList = Annotated[list[str], BeforeValidator(split_commas)]

NanPolicy = Literal["keep", "drop", "error"]
OverflowPolicy = Literal["drop_oldest", "drop_newest", "block"]


class CoreSettings(BaseSettings):
    """Tracelet's own keys (top level of ``tracelet.yaml``, ``TRACELET_<KEY>`` env vars)."""

    model_config = SettingsConfigDict(extra="forbid", validate_default=True)

    #: Native env var → (section, key), filled in by :func:`build_settings_class`.
    native_env: ClassVar[Mapping[str, tuple[str, str]]] = {}

    # -- the run -------------------------------------------------------------------------------
    backend: CommaList = Field(
        default_factory=lambda: ["local"],
        description="Backend name or list of names to log to (TRACELET_BACKEND=mlflow,wandb).",
    )
    project: str = Field(
        "default",
        min_length=1,
        description="Project the run belongs to; backends map it to "
        "their own grouping (MLflow experiment, W&B project, ClearML project, AIM experiment).",
    )
    experiment_name: str | None = Field(
        None,
        description="Name of this run (start_logging's exp_name). Default: "
        "'<script>-<date>-<time>'.",
    )
    group: str | None = Field(
        None,
        min_length=1,
        description="Group this run belongs to, e.g. the trials of one sweep (start_logging's "
        "group); backends map it to their own: an MLflow parent run with the runs nested under "
        "it, a W&B group, a ClearML parent task, an AIM tag.",
    )
    nan_policy: NanPolicy = Field(
        "keep",
        description="What a NaN or infinite metric value does: keep it, drop it "
        "(counted in stats) or raise ValueError at the call.",
    )
    log_all_ranks: bool = Field(
        False, description="Log from every distributed rank, not only rank 0 (RANK/LOCAL_RANK)."
    )

    # -- durability ----------------------------------------------------------------------------
    journal: bool = Field(
        True,
        description="Write every record to the local run folder first (local.path) and deliver "
        "to the other backends from it, so that `tracelet sync` can finish any delivery later. "
        "Off: a backend that misses records loses them.",
    )
    backend_start_failure: Literal["raise", "defer"] = Field(
        "raise",
        description="A backend that cannot start (server down, no network): raise "
        "BackendStartError from start_logging, or defer it: log on without it (the journal "
        "keeps everything) and let `tracelet sync` deliver when it is back. defer needs journal.",
    )
    sync_on_start: bool = Field(
        False,
        description="When a run starts, deliver in the background what backends missed of the "
        "earlier runs under the same local.path (as `tracelet sync --all`).",
    )
    handle_sigterm: bool = Field(
        True,
        description="On SIGTERM (how clusters and containers stop a job), deliver what is "
        "queued within shutdown_timeout, close the run as killed, then exit as the signal "
        "would (after any handler installed before).",
    )

    # -- dispatcher ----------------------------------------------------------------------------
    flush_interval: float = Field(
        1.0,
        gt=0,
        description="Longest time, in seconds, a record waits before its backend write starts.",
    )
    batch_size: int = Field(
        1000, gt=0, description="Most records per backend write; a full batch is sent at once."
    )
    max_queue_size: int = Field(
        1_000_000,
        gt=0,
        description="Most records waiting to be written to the journal (without a journal: "
        "waiting per backend); then overflow_policy applies. With a journal, a backend that "
        "falls behind reads the journal and never drops.",
    )
    overflow_policy: OverflowPolicy = Field(
        "block",
        description="When the queue is full: block the logging call until there is room "
        "(nothing is lost), drop the oldest waiting record or drop the new one (counted).",
    )
    shutdown_timeout: float = Field(
        30.0,
        ge=0,
        description="Seconds run.stop() and interpreter exit wait for backends to "
        "receive what is queued.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Precedence, highest first: call arguments, env vars, the YAML file (then defaults).

        Each instantiation reads the env vars and the file anew. A class made by
        :func:`build_settings_class` with ``sources`` reads those instead.
        """
        known = cls.model_fields
        return (
            init_settings,
            LayerSource(settings_cls, TraceletEnvSource(known, cls.native_env)),
            LayerSource(settings_cls, TraceletYamlSource(known)),
        )


CORE_KEYS: frozenset[str] = frozenset(CoreSettings.model_fields)


def _empty_section(value: Any) -> Any:
    """A section left empty in YAML (``wandb:`` with every line below commented out) is ``{}``."""
    return {} if value is None else value


def settings_keys(
    sections: Mapping[str, type[BaseModel]], top_level: Sequence[type[BaseModel]] = ()
) -> frozenset[str]:
    """The top-level keys of the class :func:`build_settings_class` makes from the same
    ``sections`` and ``top_level``: the core keys, the collectors' top-level keys and the
    section names (what the sources need before the class exists).

    Raises:
        ValueError: As :func:`build_settings_class`.
    """
    return CORE_KEYS | _added_fields(sections, top_level).keys()


def _added_fields(
    sections: Mapping[str, type[BaseModel]], top_level: Sequence[type[BaseModel]]
) -> dict[str, Any]:
    """The fields added to :class:`CoreSettings`: ``top_level`` models' keys, then one per
    section.

    Raises:
        ValueError: A section name or a top-level key is also a core key or given twice.
    """
    fields: dict[str, Any] = {}
    for model in top_level:
        for key, field in model.model_fields.items():
            if key in CORE_KEYS or key in fields:
                raise ValueError(f"top-level key {key!r} is defined twice")
            fields[key] = (field.annotation, field)
    clash = (CORE_KEYS | fields.keys()).intersection(sections)
    if clash:
        raise ValueError(f"section name(s) clash with top-level keys: {sorted(clash)}")
    for name, model in sections.items():
        fields[name] = (
            Annotated[model, BeforeValidator(_empty_section)],
            Field(default_factory=model, description=f"Settings of the {name} section."),
        )
    return fields


def build_settings_class(
    sections: Mapping[str, type[BaseModel]],
    native_env: Mapping[str, tuple[str, str]] | None = None,
    top_level: Sequence[type[BaseModel]] = (),
    *,
    sources: Sequence[Layer] | None = None,
) -> type[CoreSettings]:
    """The settings model for this installation: the core keys, the keys collectors put at
    the top level, and one field per section.

    A section given as ``None`` (an empty ``wandb:`` in YAML) gets its defaults. Each call
    returns a new class.

    Args:
        sections: Section name → the plugin's model, e.g. ``{"mlflow": MlflowSettings}``.
        native_env: Native env var → (section, key), e.g.
            ``{"MLFLOW_TRACKING_URI": ("mlflow", "tracking_uri")}``.
        top_level: Models whose fields become top-level keys (Tracelet's collectors'
            ``collect_system_metrics`` and the like).
        sources: The layers below the call's arguments, highest priority first (the env vars,
            then the file), already made for these keys (see :func:`settings_keys`); every
            instance of the class validates their values, each layer having read its own once.
            ``None``: each instance reads the env vars and ``tracelet.yaml`` anew.

    Raises:
        ValueError: A section name or a top-level key is also a core key or given twice.
    """
    fields = _added_fields(sections, top_level)
    base: type[CoreSettings] = CoreSettings if sources is None else _with_sources(tuple(sources))
    cls: type[CoreSettings] = create_model("TraceletSettings", __base__=base, **fields)
    cls.native_env = dict(native_env or {})
    return cls


def _with_sources(layers: tuple[Layer, ...]) -> type[CoreSettings]:
    """A base class whose instances take their values from ``layers`` (below the arguments)."""

    class SettingsWithSources(CoreSettings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            """Precedence, highest first: call arguments, then ``layers`` in their order."""
            return (init_settings, *(LayerSource(settings_cls, layer) for layer in layers))

    return SettingsWithSources


def model_in(annotation: Any) -> type[BaseModel] | None:
    """The model class of a field typed as a model or an optional model, else ``None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    models = [a for a in typing.get_args(annotation) if model_in(a) is not None]
    return model_in(models[0]) if len(models) == 1 else None


def model_at(cls: type[BaseModel], path: Sequence[str]) -> type[BaseModel] | None:
    """The model of the value at ``path`` in ``cls`` (``cls`` itself for ``()``), or ``None``
    when a key on the way is unknown or not typed as a model."""
    model: type[BaseModel] | None = cls
    for part in path:
        field = model.model_fields.get(part) if model is not None else None
        model = model_in(field.annotation) if field is not None else None
    return model


class SectionModel(BaseModel):
    """A convenient base for a plugin's settings model (a backend's or a collector's section,
    or a collector's top-level keys): unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")
