"""Typed artifacts of type ``model`` as MLflow 3 LoggedModels.

Besides its folder ``model/<name>/v<N>/`` among the run's artifacts
(:mod:`tracelet_mlflow.artifacts`), each version of a :attr:`ArtifactType.MODEL
<tracelet.artifacts.types.ArtifactType.MODEL>` artifact becomes one LoggedModel
(:func:`log_model_version`):

* in the run's experiment, with ``source_run_id`` the run, and among the run's outputs
  (``MlflowClient.log_outputs``, step 0, as MLflow's own ``log_model`` links a model);
* named after the artifact and version, ``<name>-v<N>`` (:func:`model_name`; the exact name
  and version are in tags);
* its files are the version's folder as it is, ``manifest.json`` included
  (``log_model_artifacts``);
* its tags (:func:`model_tags`): the Tracelet name, type, version, run id and the folder among
  the run's artifacts, and the description as ``mlflow.note.content`` (MLflow's description
  tag), cut at MLflow's tag length;
* its params (:func:`model_params`): the metadata, one param per top-level key, a string as it
  is and any other value as JSON; keys rewritten as run param keys are
  (:func:`~tracelet_mlflow.names.mlflow_key`) and values cut at MLflow's param length (the
  whole metadata stays in ``manifest.json``);
* created PENDING and finalized READY only once its files are uploaded.

Delivering the same version again (a retried call, ``tracelet sync`` after a crash before the
cursor was saved) finds the model by its tags (:func:`find_logged_model`) instead of creating a
second one: a READY (or FAILED) model is left as it is; a PENDING one, left by a crash between
creating and finalizing it, gets its run link when it lacks it, its files again (the same paths
are overwritten) and READY. One delivery worker writes a run, so the search and the creation do
not race with each other.

What the model is not: an MLflow Model in MLflow's format. There is no ``MLmodel`` file and no
flavor, because the delivery worker only has the files that were logged (``add_model`` wrote a
PyTorch ``state_dict`` as ``model.pt``), not the live model object that
``mlflow.pytorch.log_model`` serializes. So ``mlflow.pytorch.load_model`` and
``mlflow.pyfunc.load_model`` raise for ``models:/<model_id>`` (no ``MLmodel``);
``mlflow.artifacts.download_artifacts("models:/<model_id>")`` returns the files, and the
``state_dict`` goes back into your own module with ``torch.load`` and ``load_state_dict``.

A tracking server without the LoggedModel API (an MLflow 2 server answers its requests with
404, ``ENDPOINT_NOT_FOUND``) gets the folder and the run tag only, after one warning per run,
so that delivery goes on. (Reading versions back from such a server fails in MLflow 3's own
client, which asks about LoggedModels whenever it lists a folder of a run.)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracelet.artifacts.manifest import ArtifactInfo
from tracelet.artifacts.types import ArtifactType
from tracelet_mlflow.names import mlflow_key, truncate
from tracelet_mlflow.runs import RUN_ID_TAG

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import LoggedModel

#: Tags of a LoggedModel made from a typed artifact version: its Tracelet name, type, version
#: (``"0"``, ``"1"``...) and its folder among the run's artifacts; :data:`RUN_ID_TAG` holds the
#: Tracelet run id.
NAME_TAG = "tracelet.artifact.name"
TYPE_TAG = "tracelet.artifact.type"
VERSION_TAG = "tracelet.artifact.version"
PATH_TAG = "tracelet.artifact.path"
#: MLflow's description tag.
DESCRIPTION_TAG = "mlflow.note.content"
#: The MLflow error code of a request the server has no route for (an MLflow 2 server asked
#: about LoggedModels).
NO_ENDPOINT = "ENDPOINT_NOT_FOUND"

#: Called with a key and a message, warns once per key (``WarnOnce``).
Warn = Callable[[Hashable, str], object]


def is_model(typed: ArtifactInfo) -> bool:
    """Whether the version is of type ``model`` (it becomes a LoggedModel too)."""
    return typed.type is ArtifactType.MODEL


def model_name(name: str, version: int) -> str:
    """The LoggedModel name of version ``version`` of the artifact ``name``: ``<name>-v<N>``,
    each ``.`` as ``_`` (MLflow refuses ``/ : . % " '`` in a model name; a Tracelet name can
    only hold the ``.``).

    Not the bare name: MLflow's client lists and downloads the files of the run's LoggedModel
    named ``X`` as if they were in the run's folder ``X/`` (``runs:/<run_id>/X``, kept for
    MLflow 2 model URIs), and a model called ``model`` would then mix its files into the
    run's ``model/`` folder of typed versions. ``<name>-v<N>`` names no folder of the run, and
    ``runs:/<run_id>/<name>-v<N>`` is exactly this version's model.
    """
    return f"{name.replace('.', '_')}-v{version}"


def model_tags(typed: ArtifactInfo, path: str) -> dict[str, str]:
    """The tags of the version's LoggedModel; ``path`` is its folder among the run's
    artifacts."""
    from mlflow.utils.validation import MAX_TAG_VAL_LENGTH

    tags = {
        NAME_TAG: typed.name,
        TYPE_TAG: typed.type.value,
        VERSION_TAG: str(typed.version),
        PATH_TAG: path,
    }
    if typed.run_id is not None:
        tags[RUN_ID_TAG] = typed.run_id
    if typed.description:
        tags[DESCRIPTION_TAG] = truncate(typed.description, MAX_TAG_VAL_LENGTH)
    return tags


def model_params(metadata: Mapping[str, Any]) -> dict[str, str]:
    """The metadata as LoggedModel params: a string as it is, any other value as JSON (keys
    sorted), cut at MLflow's param length; keys as :func:`mlflow_key` makes run param keys."""
    from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH

    params = {}
    for key, value in metadata.items():
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        params[mlflow_key(str(key))] = truncate(text, MAX_PARAM_VAL_LENGTH)
    return params


def _search(client: MlflowClient, experiment_id: str, filter_string: str) -> Iterator[LoggedModel]:
    """Every LoggedModel of the experiment that ``filter_string`` matches, page after page."""
    token: str | None = None
    while True:
        page = client.search_logged_models(
            [experiment_id], filter_string=filter_string, page_token=token
        )
        yield from page
        token = page.token
        if not token:
            return


def find_logged_model(
    client: MlflowClient, experiment_id: str, run_id: str, name: str, version: int
) -> LoggedModel | None:
    """The LoggedModel made from version ``version`` of the typed artifact ``name`` of the run,
    found by its tags; when there are several (made outside Tracelet), a finalized one first,
    then the oldest. ``None`` when there is none (deleted models are not found).

    Raises:
        MlflowException: The store could not be searched (``ENDPOINT_NOT_FOUND`` from a server
            without the LoggedModel API).
    """
    from mlflow.entities import LoggedModelStatus

    # Tracelet names hold only letters, digits and ._- : safe inside the quotes.
    found = list(
        _search(
            client,
            experiment_id,
            f"source_run_id = '{run_id}' AND tags.`{NAME_TAG}` = '{name}' "
            f"AND tags.`{VERSION_TAG}` = '{version}'",
        )
    )
    if not found:
        return None
    return min(
        found,
        key=lambda m: (not LoggedModelStatus.is_finalized(m.status), m.creation_timestamp),
    )


def _linked(client: MlflowClient, run_id: str, model_id: str) -> bool:
    """Whether the run lists the model among its outputs."""
    outputs = client.get_run(run_id).outputs
    return outputs is not None and any(o.model_id == model_id for o in outputs.model_outputs)


def log_model_version(
    client: MlflowClient,
    experiment_id: str,
    run_id: str,
    typed: ArtifactInfo,
    *,
    folder: Path,
    path: str,
    warn: Warn,
) -> str | None:
    """Store the version as a READY LoggedModel of the run (see the module docstring) and
    return its id; ``folder`` holds its files and ``path`` is where they are among the run's
    artifacts. The model already made for this run, name and version is reused, and finished
    when it was left PENDING; a server without the LoggedModel API gets a warning (once per
    run, through ``warn``) and ``None``.

    Raises:
        MlflowException: MLflow failed or refused a call (a retry carries on with the same
            model).
    """
    from mlflow.entities import LoggedModelOutput, LoggedModelStatus
    from mlflow.exceptions import MlflowException

    try:
        model = find_logged_model(client, experiment_id, run_id, typed.name, typed.version)
    except MlflowException as exc:
        if exc.error_code != NO_ENDPOINT:
            raise
        warn(
            "logged models",
            "the tracking server has no LoggedModel API (an MLflow 2 server?): model artifacts "
            "are stored as run artifacts only",
        )
        return None
    if model is not None and LoggedModelStatus.is_finalized(model.status):
        return str(model.model_id)
    if model is None:
        model = client.create_logged_model(
            experiment_id,
            name=model_name(typed.name, typed.version),
            source_run_id=run_id,
            tags=model_tags(typed, path),
            params=model_params(typed.metadata) or None,
        )
        linked = False
    else:  # left PENDING by a delivery that stopped before finalizing it
        linked = _linked(client, run_id, model.model_id)
    if not linked:
        client.log_outputs(run_id, [LoggedModelOutput(model.model_id, step=0)])
    client.log_model_artifacts(model.model_id, str(folder))
    client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    return str(model.model_id)


def with_model_uris(
    client: MlflowClient, experiment_id: str, run_id: str, found: list[ArtifactInfo]
) -> list[ArtifactInfo]:
    """``found`` with the ``uri`` of each ``model`` version that has a READY LoggedModel in the
    run set to ``models:/<model_id>`` (the others keep theirs). Asks MLflow only when there is
    a model version.

    Raises:
        MlflowException: The store could not be searched.
    """
    from mlflow.entities import LoggedModelStatus

    if not any(is_model(a) for a in found):
        return found
    models = _search(
        client,
        experiment_id,
        f"source_run_id = '{run_id}' AND tags.`{TYPE_TAG}` = '{ArtifactType.MODEL.value}'",
    )
    uris: dict[tuple[str, str], str] = {}
    for m in sorted(models, key=lambda m: m.creation_timestamp, reverse=True):  # oldest wins
        if m.status == LoggedModelStatus.READY:
            uris[(m.tags.get(NAME_TAG, ""), m.tags.get(VERSION_TAG, ""))] = m.model_uri
    return [
        replace(a, uri=uris.get((a.name, str(a.version)), a.uri)) if is_model(a) else a
        for a in found
    ]
