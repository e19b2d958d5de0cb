"""What ``TraceletCallback`` costs ``model.fit`` (Keras 3 on torch, CPU), as a plain-text table.

Run ``python benchmarks/bench_keras.py`` (under two minutes) or ``--quick`` (about 25 s, mostly
imports and the MLflow stores). A small MLP (16 → 64 → 64 → 1, batch 32) is fitted in
alternating rounds of each case, each round a fresh model and a fresh run:

* ``no callback``: ``model.fit`` alone, the floor;
* ``no-op batch hook``: a callback whose ``on_train_batch_end`` does nothing and is not
  ``async_safe``, so Keras calls batch hooks on the training thread, as it does with
  ``log_batches``: the floor of the batch-logging rows (without it, Keras calls batch hooks
  from its thread pool, which can cost more than the synchronous call on few cores);
* ``TraceletCallback, epochs`` into ``local``: epoch metrics and params;
* ``TraceletCallback, every batch`` into ``local``, and into ``mlflow`` (a sqlite store);
* MLflow's own ``mlflow.keras.MlflowCallback(log_every_epoch=False, log_every_n_steps=1)``
  inside ``mlflow.start_run()``, on its own sqlite store: the native per-batch logging.

*fit* is the time ``model.fit`` takes (what the training loop waits for); *until stored* adds
the end of the run: ``run.stop()`` for Tracelet (every point delivered), ``mlflow.end_run()``
after ``mlflow.flush_async_logging()`` for MLflow's callback (it logs with
``synchronous=False``); *CPU* is the process's CPU time (every thread) over the same span,
less sensitive than wall time to other processes on the machine. Medians over the rounds.
Keras' progress bar is off (``verbose=0``).

Every Tracelet run is read back: each epoch's ``loss`` must equal what Keras' ``History``
holds, and with batch logging each batch must be there once; the MLflow callback's run must
hold every batch. The exit status is 1 when a check fails; timings never change it.

``TRACELET_*``, ``MLFLOW_*`` and rank env vars are removed from this process;
``KERAS_BACKEND=torch`` and ``MLFLOW_DISABLE_TELEMETRY=true`` are set, and torch runs one
intra-op thread (``torch.set_num_threads(1)``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from _util import COLLECTORS_OFF, clean_workdir, fmt_float, load_average, section, table

os.environ["KERAS_BACKEND"] = "torch"  # before Keras is imported, here and in tracelet_collectors


@dataclass(frozen=True)
class Sizes:
    epochs: int
    batches: int  # per epoch
    rounds: int


QUICK = Sizes(epochs=2, batches=20, rounds=1)
FULL = Sizes(epochs=5, batches=100, rounds=3)
BATCH_SIZE = 32


def _data(sizes: Sizes) -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(sizes.batches * BATCH_SIZE, 16)).astype("float32")
    return x, (x[:, :4].sum(axis=1, keepdims=True) ** 2).astype("float32")


def _model() -> Any:
    import keras

    net = keras.Sequential(
        [
            keras.Input((16,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    net.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", metrics=["mae"])
    return net


@dataclass
class Case:
    label: str
    #: Returns the callbacks, the ``after fit`` action, and the read-back check.
    setup: Callable[[Sizes, str], tuple[list[Any], Callable[[], None], Callable[[Any], str]]]
    fit_s: list[float]
    total_s: list[float]
    cpu_s: list[float]


def _tracelet(backend: str, batches: bool) -> Callable[..., Any]:
    def setup(sizes: Sizes, store: str) -> Any:
        import tracelet
        from tracelet.backends.local import read_run
        from tracelet_collectors.keras import TraceletCallback

        config: dict[str, Any] = {**COLLECTORS_OFF, "local": {"path": "runs"}}
        if backend == "mlflow":
            config["mlflow"] = {"tracking_uri": store}
        run = tracelet.start_logging(
            "bench-keras",
            backend=["local", backend] if backend != "local" else "local",
            config=config,
        )

        def check(history: Any) -> str:
            stored = read_run(run.locations()["local"])
            loss = [(p.step, p.value) for p in stored.metric_history("loss")]
            if loss != list(enumerate(history.history["loss"])):
                return "epoch losses differ from History"
            points = len(stored.metric_history("batch/loss"))
            want = sizes.epochs * sizes.batches if batches else 0
            if points != want:
                return f"{points} batch points, expected {want}"
            if any(s.delivered == 0 or s.failed or s.dropped for s in run.stats().values()):
                return f"not every point delivered: {run.stats()}"
            return ""

        return [TraceletCallback(run, log_batches=batches)], run.stop, check

    return setup


def _noop_batch_hook(sizes: Sizes, store: str) -> Any:
    import keras

    class NoOp(keras.callbacks.Callback):  # type: ignore[misc]
        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            pass

    return [NoOp()], lambda: None, lambda history: ""


def _mlflow_callback(sizes: Sizes, store: str) -> Any:
    import mlflow
    from mlflow.keras import MlflowCallback

    mlflow.set_tracking_uri(store)
    active = mlflow.start_run()

    def end() -> None:
        mlflow.flush_async_logging()
        mlflow.end_run()

    def check(history: Any) -> str:
        got = len(mlflow.MlflowClient(store).get_metric_history(active.info.run_id, "loss"))
        return "" if got == sizes.epochs * sizes.batches else f"{got} batch points"

    return [MlflowCallback(log_every_epoch=False, log_every_n_steps=1)], end, check


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (used by the tests)")
    sizes = QUICK if parser.parse_args().quick else FULL

    started = time.perf_counter()
    import keras
    import torch

    # One intra-op thread: tiny matrices gain nothing from more, and on a busy machine with
    # few cores torch's spinning worker threads made every case several times slower.
    torch.set_num_threads(1)
    import mlflow  # noqa: F401  (imported before the clock, as the fits never pay for it)

    import tracelet_collectors.keras  # noqa: F401

    imports = time.perf_counter() - started
    cases = [
        Case("no callback", lambda s, u: ([], lambda: None, lambda h: ""), [], [], []),
        Case("no-op batch hook", _noop_batch_hook, [], [], []),
        Case("TraceletCallback, epochs -> local", _tracelet("local", False), [], [], []),
        Case("TraceletCallback, every batch -> local", _tracelet("local", True), [], [], []),
        Case("TraceletCallback, every batch -> mlflow", _tracelet("mlflow", True), [], [], []),
        Case("mlflow.keras.MlflowCallback, every batch", _mlflow_callback, [], [], []),
    ]
    problems: list[str] = []
    x, y = _data(sizes)
    with clean_workdir(("TRACELET_", "MLFLOW_"), {"MLFLOW_DISABLE_TELEMETRY": "true"}) as tmp:
        stores = {case.label: f"sqlite:///{tmp / f'mlflow-{i}.db'}" for i, case in enumerate(cases)}
        _model().fit(x, y, batch_size=BATCH_SIZE, epochs=1, verbose=0)  # warm-up
        for round_ in range(sizes.rounds + 1):  # round 0 is a warm-up (stores created)
            order = cases if round_ % 2 else cases[::-1]
            for case in order:
                net = _model()
                callbacks, end, check = case.setup(sizes, stores[case.label])
                start, cpu = time.perf_counter(), time.process_time()
                history = net.fit(
                    x,
                    y,
                    batch_size=BATCH_SIZE,
                    epochs=sizes.epochs,
                    verbose=0,
                    callbacks=callbacks,
                )
                fitted = time.perf_counter()
                end()
                stopped, cpu = time.perf_counter(), time.process_time() - cpu
                if round_:
                    case.fit_s.append(fitted - start)
                    case.total_s.append(stopped - start)
                    case.cpu_s.append(cpu)
                if problem := check(history):
                    problems.append(f"{case.label}: {problem}")

    floor = statistics.median(cases[0].fit_s)
    cpu_floor = statistics.median(cases[0].cpu_s)
    batches = sizes.epochs * sizes.batches
    print(section("TraceletCallback in model.fit (Keras on torch, CPU)"))
    print(
        f"{sizes.epochs} epochs x {sizes.batches} batches of {BATCH_SIZE}, "
        f"{sizes.rounds} rounds, Keras {keras.__version__}, "
        f"torch threads {torch.get_num_threads()}{load_average()}; "
        f"imports (keras, mlflow, tracelet_collectors.keras) {imports:.1f} s"
    )
    rows = []
    for case in cases:
        fit_s, total_s = statistics.median(case.fit_s), statistics.median(case.total_s)
        cpu_s = statistics.median(case.cpu_s)
        rows.append(
            [
                case.label,
                fmt_float(fit_s * 1000),
                "-" if case is cases[0] else f"{(fit_s - floor) / floor * 100:+.0f}%",
                fmt_float(total_s * 1000),
                fmt_float(cpu_s * 1000),
                "-" if case is cases[0] else fmt_float((cpu_s - cpu_floor) / batches * 1e6),
            ]
        )
    headers = ["case", "fit ms", "vs none", "until stored ms", "CPU ms", "extra CPU µs/batch"]
    print(table(headers, rows))
    for problem in problems:
        print(f"CHECK FAILED: {problem}")
    if not problems:
        print("checks: every epoch loss equals History, every batch point stored once")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
