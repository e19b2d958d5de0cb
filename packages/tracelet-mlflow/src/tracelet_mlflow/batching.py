"""Split metrics, params and tags into ``log_batch`` requests that MLflow accepts.

One request holds at most 1000 metrics, 100 params, 100 tags, 1000 entities in all and 1 MB of
JSON (MLflow's limits, read from the installed MLflow). Params and tags go first, so that the
requests after them are full requests of metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow.entities import Metric, Param, RunTag

#: Bytes of JSON a request may hold, below MLflow's 1 MB so the envelope always fits.
SIZE_BUDGET = 900_000
#: JSON around one entity (field names, quotes, a number's digits), an upper bound.
_ENTITY_OVERHEAD = 96


def json_size(text: str) -> int:
    """An upper bound of ``text``'s length in JSON: non-ASCII characters may be sent escaped,
    6 bytes per UTF-16 code unit (``\\u00e9``)."""
    return len(text) if text.isascii() else 3 * len(text.encode("utf-16-le"))


@dataclass
class LogBatchRequest:
    """The entities of one ``MlflowClient.log_batch`` call."""

    metrics: list[Metric] = field(default_factory=list)
    params: list[Param] = field(default_factory=list)
    tags: list[RunTag] = field(default_factory=list)
    size: int = 0

    def __len__(self) -> int:
        return len(self.metrics) + len(self.params) + len(self.tags)


def split_requests(
    metrics: list[Metric], params: list[Param], tags: list[RunTag]
) -> list[LogBatchRequest]:
    """The fewest requests, in order, that hold every entity within MLflow's limits."""
    from mlflow.utils.validation import (
        MAX_ENTITIES_PER_BATCH,
        MAX_METRICS_PER_BATCH,
        MAX_PARAMS_TAGS_PER_BATCH,
    )

    requests: list[LogBatchRequest] = []
    current = LogBatchRequest()

    def room(size: int, full: bool) -> LogBatchRequest:
        """The request to add an entity of ``size`` bytes to (``full``: its kind is at its cap)."""
        nonlocal current
        if full or len(current) >= MAX_ENTITIES_PER_BATCH or current.size + size > SIZE_BUDGET:
            requests.append(current)
            current = LogBatchRequest()
        current.size += size
        return current

    # Params and tags in pairs of 100 + 100, as MLflow's client splits them.
    cap = MAX_PARAMS_TAGS_PER_BATCH
    for start in range(0, max(len(params), len(tags)), cap):
        for param in params[start : start + cap]:
            size = json_size(param.key) + json_size(param.value) + _ENTITY_OVERHEAD
            room(size, len(current.params) >= cap).params.append(param)
        for tag in tags[start : start + cap]:
            size = json_size(tag.key) + json_size(tag.value) + _ENTITY_OVERHEAD
            room(size, len(current.tags) >= cap).tags.append(tag)
    key_sizes: dict[str, int] = {}
    for metric in metrics:
        metric_size = key_sizes.get(metric.key)
        if metric_size is None:
            metric_size = key_sizes[metric.key] = json_size(metric.key) + _ENTITY_OVERHEAD
        room(metric_size, len(current.metrics) >= MAX_METRICS_PER_BATCH).metrics.append(metric)
    if len(current):
        requests.append(current)
    return requests
