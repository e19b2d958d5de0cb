"""The prefix of system metric names, which carries the node and rank in multi-process runs.

One process: ``system/``. When the process is one of several (``RANK`` or ``LOCAL_RANK`` set
and ``WORLD_SIZE`` not ``1``), ``system/rank.<rank>/``, and ``system/node.<node>.rank.<rank>/``
when the launcher also tells the node (``GROUP_RANK`` from torchrun, ``NODE_RANK`` from
Lightning, ``SLURM_NODEID``). Processes that each log system metrics into the same run (with
``log_all_ranks``) therefore never write the same series.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from tracelet.session import distributed_rank

NODE_VARIABLES = ("GROUP_RANK", "NODE_RANK", "SLURM_NODEID")


def system_prefix(environ: Mapping[str, str] | None = None) -> str:
    """``system/`` plus this process's node and rank when it is one of several."""
    environ = os.environ if environ is None else environ
    rank = distributed_rank(environ)
    if rank is None or environ.get("WORLD_SIZE", "").strip() == "1":
        return "system/"
    node = next((environ[v].strip() for v in NODE_VARIABLES if environ.get(v, "").strip()), None)
    return f"system/node.{node}.rank.{rank}/" if node else f"system/rank.{rank}/"
