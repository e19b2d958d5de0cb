"""Typed ``model`` artifacts as ClearML output models of the task.

A typed artifact version of type ``model`` (the record ``model/<name>/v<N>``) is uploaded as a
task artifact like every typed version (:mod:`tracelet_clearml.artifacts`), and is *also*
registered as an output model of the task, where ClearML's model registry, the task's "Models"
tab and ``InputModel`` find it:

* name: the artifact's name; tags ``tracelet-type:model`` and ``tracelet-version:<N>``
  (:func:`model_tags`); comment: the description (ClearML writes "Created by task id: ..."
  above it);
* weights: one file is registered as it is; several files as one zip package (ClearML's
  ``package`` models), their paths in the artifact kept. The stored file is named
  ``<name>-v<N>-<file name>`` or ``<name>-v<N>.zip`` (:func:`stored_name`): ClearML stores an
  output model's file under its base name in one folder per task, so two versions of
  ``model.pt`` would overwrite each other;
* framework: the one ClearML framework the files' suffixes name (:func:`guess_framework`), or
  none;
* metadata: not on the model (see below); it stays with the task artifact of the same version.

Delivery is idempotent: a version already among the task's output models (same name and
version tag) is not registered again, so a retry or a second delivery of the record adds
nothing.

What ClearML 2.1.12 does offline (checked with real offline sessions):

* An output model is recorded in the session's ``task.json`` under ``offline_output_models``
  (``init``: name, tags, comment, framework, config; ``weights``: the file and ``is_package``),
  which is what ``Task.import_offline_session`` replays, and its file is copied to
  ``<session>/models/<base name>``. ``task.json`` gets it at the task's next edit or on close.
* ``OutputModel.update_weights`` on a new model raises ``AttributeError: 'DummyModel' object
  has no attribute 'locked'``: offline the model has an id at once, so ``published`` reads
  ``locked`` from the placeholder that has none (``clearml/model.py``, ``OutputModel.published``).
  Creating the local model first (``_get_force_base_model``, no request leaves offline) avoids it.
* ``update_weights_package`` offline records the package, then raises ``TypeError`` in
  ``_set_package_tag`` (``system_tags`` is ``None``), leaves its temporary zip behind and
  records ``is_package: false``. So packages are zipped here and given to ``update_weights``
  with ``is_package=True``.
* ``set_metadata`` raises offline (API 2.9 has no ``AddOrUpdateMetadataRequest``) and
  ``offline_output_models`` has no place for metadata; a configuration (``config_dict`` or
  ``config_text``) is recorded as both, and the import then fails in the ``OutputModel``
  constructor ("Only one of (config_text, config_dict) is allowed"). Hence no metadata on
  the model.
* ``task.models`` raises offline (it asks the server for the task's models).

On a server the same calls are made without those work-arounds: ``update_weights`` with the
run folder's file (uploaded to the output destination, or registered by its local path when
there is none) and ``update_weights_package`` for several files, both waiting for the upload.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracelet.artifacts.manifest import ArtifactInfo
from tracelet.artifacts.store import typed_manifest
from tracelet.artifacts.types import ArtifactType
from tracelet.backend_kit import PlannedCall
from tracelet.records import Artifact

if TYPE_CHECKING:
    from clearml import OutputModel, Task

logger = logging.getLogger("tracelet.clearml")

#: The model tag holding the Tracelet type of the artifact (always ``model`` here).
TYPE_TAG = "tracelet-type:{type}"
#: The model tag holding the artifact's version in the run (``tracelet-version:0``).
VERSION_TAG = "tracelet-version:{version}"


def model_tags(typed: ArtifactInfo) -> list[str]:
    """The ClearML tags of the output model of ``typed``: its Tracelet type and version."""
    return [
        TYPE_TAG.format(type=typed.type.value),
        VERSION_TAG.format(version=typed.version),
    ]


def stored_name(typed: ArtifactInfo) -> str:
    """The file name the weights of ``typed`` are stored under, unique per name and version:
    ``<name>-v<N>-<file name>`` for one file, ``<name>-v<N>.zip`` for a package."""
    prefix = f"{typed.name}-v{typed.version}"
    if len(typed.files) == 1:
        return f"{prefix}-{Path(typed.files[0].path).name}"
    return f"{prefix}.zip"


def _suffix_frameworks() -> dict[str, str]:
    """File suffixes that name exactly one ClearML framework (``clearml.model.Framework``)."""
    from clearml.model import Framework

    return {
        ".pt": Framework.pytorch,
        ".pth": Framework.pytorch,
        ".onnx": Framework.onnx,
        ".h5": Framework.keras,
        ".hdf5": Framework.keras,
        ".keras": Framework.keras,
        ".tflite": Framework.tensorflowlite,
        ".caffemodel": Framework.caffe,
        ".t7": Framework.torch,
        ".cbm": Framework.catboost,
        ".plan": Framework.tensorrt,
    }


def guess_framework(paths: list[str]) -> str | None:
    """The ClearML framework the files' suffixes name, or ``None`` when none does or when they
    name several (``.pkl``, ``.pb`` or ``.model`` alone name none: ClearML maps each to several
    frameworks). Files with another suffix (``labels.json``) do not count."""
    table = _suffix_frameworks()
    named = {table[Path(p).suffix.lower()] for p in paths if Path(p).suffix.lower() in table}
    return named.pop() if len(named) == 1 else None


def registered(task: Task, typed: ArtifactInfo) -> bool:
    """Whether the task already has the output model of ``typed`` (its name and version tag).

    Offline this reads the list ClearML writes to ``task.json`` (``_offline_output_models``:
    ``task.models`` needs a server); on a server, ``task.models["output"]``.
    """
    version_tag = VERSION_TAG.format(version=typed.version)
    if task.is_offline():
        pending: list[dict[str, Any]] = getattr(task, "_offline_output_models", [])
        inits = [entry.get("init") or {} for entry in pending]
        return any(
            init.get("name") == typed.name and version_tag in (init.get("tags") or [])
            for init in inits
        )
    return any(
        model.name == typed.name and version_tag in (model.tags or [])
        for model in task.models["output"]
    )


def output_model_call(task: Task, artifact: Artifact) -> PlannedCall | None:
    """The call that registers ``artifact`` as an output model of ``task`` when it is a typed
    artifact version of type ``model`` with at least one file, else ``None``.

    The call does nothing when the task already has that version (:func:`registered`) or when
    the version's folder is gone (the upload planned before it refuses that record). It raises
    what ClearML raises.
    """
    typed = typed_manifest(artifact)
    if typed is None or typed.type is not ArtifactType.MODEL or not typed.files:
        return None

    def register() -> None:
        if not artifact.path.is_dir():
            return
        if registered(task, typed):
            logger.debug(
                "tracelet: clearml: output model %s v%d already registered",
                typed.name,
                typed.version,
            )
            return
        register_output_model(task, typed)

    return register


def register_output_model(task: Task, typed: ArtifactInfo) -> OutputModel:
    """Register the version ``typed`` (its files in ``typed.path``) as an output model of the
    task, as the module docstring describes, waiting until ClearML stored the weights.

    Raises:
        ValueError: ``typed`` has no files, or no local folder.
        Exception: What ClearML raises.
    """
    from clearml import OutputModel

    if not typed.files or typed.path is None:
        raise ValueError(f"artifact {typed.name!r} v{typed.version} has no local files")
    files = [typed.file_path(f.path) for f in typed.files]
    model = OutputModel(
        task=task,
        name=typed.name,
        tags=model_tags(typed),
        comment=typed.description or None,
        framework=guess_framework([f.path for f in typed.files]),
    )
    if task.is_offline():
        _store_offline(task, model, typed, files)
    elif len(files) == 1:
        model.update_weights(
            weights_filename=str(files[0]),
            target_filename=stored_name(typed),
            auto_delete_file=False,
            update_comment=False,
            async_enable=False,
        )
    else:
        model.update_weights_package(
            weights_filenames=[str(f) for f in files],
            target_filename=stored_name(typed),
            auto_delete_file=False,
            async_enable=False,
        )
    return model


def _store_offline(task: Task, model: OutputModel, typed: ArtifactInfo, files: list[Path]) -> None:
    """Give ClearML the weights under :func:`stored_name` (a link to the file, or the zip
    package), from a staging folder beside the session that is removed afterwards: ClearML
    copies the file into the session's ``models`` folder."""
    model._get_force_base_model()  # else update_weights raises offline (module docstring)
    session = Path(str(task.get_offline_mode_folder()))
    session.parent.mkdir(parents=True, exist_ok=True)
    name = stored_name(typed)
    with tempfile.TemporaryDirectory(prefix=".tracelet-staging-", dir=session.parent) as tmp:
        staged = Path(tmp) / name
        if len(files) == 1:
            _link_or_copy(files[0], staged)
        else:
            with zipfile.ZipFile(staged, "w", compression=zipfile.ZIP_STORED) as package:
                for entry, source in zip(typed.files, files, strict=True):
                    package.write(source, arcname=entry.path)
        model.update_weights(
            weights_filename=str(staged),
            target_filename=name,
            auto_delete_file=False,
            update_comment=False,
            is_package=len(files) > 1,
        )


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link to ``source`` at ``target`` (no copy of large weights), or a copy when the
    file system cannot link."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
