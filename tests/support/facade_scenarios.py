"""The ``tracelet.Experiment`` scenarios the backend tests share (``tests/*_backend/
test_experiment_facade.py``): each uses the facade as an earlier release's script did
(``Experiment(name, backend=[...], tags=..., config=...)``, ``start``/``stop``/``end`` or a
``with`` block, ``log_metric`` with an iteration, positional or ``iteration=``, or after
``set_iteration``, ``log_params`` and ``log_hyperparameter``) and checks what the facade itself
answers. Each takes the backend's name and its ``config`` (offline, or a local repo); what the
backend stored is read back, and checked, by each backend's test with its own reader.
"""

from __future__ import annotations

from typing import Any

import pytest

import tracelet
from tracelet.run import Run


def start_log_and_stop(backend: str, config: dict[str, Any]) -> tracelet.Experiment:
    """``baseline``, tagged ``pytorch`` and ``baseline``: params, a hyperparameter, metrics with
    a positional iteration, an ``iteration=`` and none (each name's own automatic steps), then
    ``stop`` and ``end`` (which does nothing once stopped). The run ends ``finished``."""
    exp = tracelet.Experiment(
        "baseline", backend=[backend], tags=["pytorch", "baseline"], config=config
    )
    assert exp.start() is exp
    run = exp.run
    assert run is not None
    assert run.backends == (backend,)
    exp.log_params({"learning_rate": 0.001, "batch_size": 32})
    exp.log_hyperparameter("optimizer", "adam")
    for epoch in range(3):
        exp.log_metric("train_loss", 1.0 / (epoch + 1), epoch)  # positional, as documented
    exp.log_metric("val_loss", 0.9, iteration=10)
    exp.log_metric("auto", 1.0)  # no iteration, none set: the name's automatic steps 0, 1
    exp.log_metric("auto", 2.0)
    assert exp.stop() is True
    assert exp.end() is True  # stopped already: nothing happens
    assert run.status == "finished"
    return exp


def log_at_set_iterations(backend: str, config: dict[str, Any]) -> tracelet.Experiment:
    """``iterations``: ``acc`` and ``f1`` at iteration 5 set, ``lr`` at 100 set, at an explicit
    0, then at 100 again; ended by ``end``."""
    exp = tracelet.Experiment("iterations", backend=[backend], config=config)
    exp.start()
    exp.set_iteration(5)
    assert exp.iteration == 5
    exp.log_metric("acc", 0.75)
    exp.log_metric("f1", 0.5)  # the same iteration as acc
    exp.set_iteration(100)
    exp.log_metric("lr", 0.01)
    exp.log_metric("lr", 0.02, iteration=0)  # an explicit 0 is 0, not the iteration set
    exp.log_metric("lr", 0.03)  # back at the iteration set
    assert exp.end() is True
    return exp


def log_in_a_with_block(backend: str, config: dict[str, Any]) -> tracelet.Experiment:
    """``ctx``, tagged with a mapping (``team: ml``, ``v: 2``), in a ``with`` block: ``loss``
    0.25 at iteration 1 and the param ``seed`` 7. The block's end finishes the run."""
    with tracelet.Experiment(
        "ctx", backend=[backend], tags={"team": "ml", "v": 2}, config=config
    ) as exp:
        exp.log_metric("loss", 0.25, iteration=1)
        exp.log_params({"seed": 7})
    assert exp.run is not None
    assert exp.run.status == "finished"
    return exp


def train_until_it_diverges(exp: tracelet.Experiment) -> None:
    """A training loop that logs a point, then raises."""
    exp.log_metric("loss", 3.5, iteration=4)
    raise RuntimeError("diverged")


def fail_in_a_with_block(backend: str, config: dict[str, Any]) -> tracelet.Experiment:
    """``fails``: ``loss`` 3.5 at iteration 4, then ``RuntimeError("diverged")`` in the ``with``
    block, which the block lets through and which ends the run ``failed``."""
    with (
        pytest.raises(RuntimeError, match="diverged"),
        tracelet.Experiment("fails", backend=[backend], config=config) as exp,
    ):
        train_until_it_diverges(exp)
    assert exp.run is not None
    assert exp.run.status == "failed"
    return exp


def start_again_after_stop(backend: str, config: dict[str, Any]) -> tuple[Run, Run]:
    """``twice``, tagged ``again``: started, ``loss`` 1.0 at iteration 0, stopped, then started
    again, ``loss`` 2.0 at iteration 0, stopped. The first run and the second, another run."""
    exp = tracelet.Experiment("twice", backend=[backend], tags=["again"], config=config)
    exp.start()
    exp.log_metric("loss", 1.0, iteration=0)
    exp.stop()
    first = exp.run
    exp.start()
    exp.log_metric("loss", 2.0, iteration=0)
    exp.stop()
    second = exp.run
    assert first is not None
    assert second is not None
    assert second is not first
    return first, second
