"""What tracking costs a Hugging Face ``Trainer``: ``trainer.train()`` wall time with no tracking,
with transformers' own ``MLflowCallback`` and with Tracelet, into one sqlite MLflow store.

Run ``python benchmarks/bench_transformers.py`` (a few minutes) or ``--quick`` (well under a
minute, used by the tests). Every case trains the same tiny model (two linear layers built in
code; nothing is downloaded) for the same number of steps with ``logging_steps=1``, so the
Trainer reports ``loss``, ``grad_norm``, ``learning_rate`` and ``epoch`` at every step:

* ``report_to="none"``: no tracking, the floor;
* ``report_to="mlflow"``: transformers' ``MLflowCallback`` into the store (its run and params
  are created inside ``train()``; it logs with ``synchronous=False``);
* ``TraceletCallback`` given to the Trainer with ``backend="mlflow"``: the callback starts its
  run when training begins and stops it, once everything is delivered, when training ends;
* the capture: a Tracelet run (``backend="mlflow"``) started before the Trainer is built, which
  then gets its ``TraceletCallback``; the run is stopped after ``train()`` returns.

*train() s* is the wall time of ``trainer.train()``; *until stored s* adds the wait until the
store holds everything (``mlflow.flush_async_logging()`` for MLflow's callback, ``run.stop()``
for the capture; the callback's own run is stopped inside ``train()``). The cost of a case is
its time minus the floor's, both taken from the best round of each case: other processes on
the machine only ever add time, so the best round is the least disturbed (the medians are shown
too). The rounds alternate the order of the cases. Printing is the same for every case:
transformers' ``PrinterCallback`` is removed.

``import mlflow``, ``import transformers``, creating the store and one untimed warm-up round
(a tenth of the steps) are kept out of every timing. ``TRACELET_*``, ``MLFLOW_*`` and rank env
vars are removed; ``MLFLOW_DISABLE_TELEMETRY=true`` and ``HF_HUB_OFFLINE=1`` are set.

Targets (printed with PASS or FAIL, never the exit status): Tracelet's ``train()`` is not slower
than with ``MLflowCallback``, and its cost is at most 10% of ``MLflowCallback``'s. The exit
status is 1 when a correctness check fails: every run is read back with
``MlflowClient.get_metric_history``, and each of the four metrics must hold the values the
Trainer reported, at its ``global_step``, once.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from _util import (
    COLLECTORS_OFF,
    clean_workdir,
    fmt_float,
    header,
    section,
    summary,
    table,
)

import tracelet

#: The metrics the Trainer reports at every step, checked in every run read back.
METRICS = ("loss", "grad_norm", "learning_rate", "epoch")
#: Target: Tracelet's cost over the floor as a fraction of MLflowCallback's.
COST_TARGET = 0.10

FLOOR = "report_to='none' (no tracking: the floor)"
HF = "report_to='mlflow' (transformers' MLflowCallback)"
CALLBACK = "TraceletCallback(backend='mlflow'), run inside train()"
CAPTURE = "capture: run started before, stopped after train()"
CASES = (FLOOR, HF, CALLBACK, CAPTURE)
TRACELET_CASES = (CALLBACK, CAPTURE)


@dataclass(frozen=True)
class Sizes:
    steps: int
    rounds: int


FULL = Sizes(steps=300, rounds=7)
QUICK = Sizes(steps=60, rounds=1)


@dataclass
class Timing:
    train: float  # seconds in trainer.train()
    stored: float  # seconds until the store holds everything


@dataclass
class Case:
    label: str
    timings: list[Timing] = field(default_factory=list)

    def median(self, what: Callable[[Timing], float]) -> float:
        return statistics.median(what(t) for t in self.timings)

    def best(self, what: Callable[[Timing], float]) -> float:
        return min(what(t) for t in self.timings)


def _model_and_data() -> tuple[Any, list[dict[str, Any]]]:
    import torch

    class Regressor(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.hidden = torch.nn.Linear(4, 8)
            self.out = torch.nn.Linear(8, 1)

        def forward(self, x: Any, labels: Any = None) -> dict[str, Any]:
            pred = self.out(torch.relu(self.hidden(x))).squeeze(-1)
            return {"loss": torch.nn.functional.mse_loss(pred, labels)}

    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    return Regressor(), [{"x": row, "labels": row.sum()} for row in x]


def _recorder() -> Any:
    from transformers import TrainerCallback

    class Recorder(TrainerCallback):
        """What the Trainer passed to ``on_log``, to compare with what the store holds."""

        def __init__(self) -> None:
            self.points: dict[str, list[tuple[int, float]]] = {m: [] for m in METRICS}

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **_: Any) -> None:
            for name in METRICS:
                if name in logs:
                    self.points[name].append((state.global_step, float(logs[name])))

    return Recorder()


def _trainer(steps: int, report_to: str, callbacks: list[Any]) -> Any:
    from transformers import Trainer, TrainingArguments
    from transformers.trainer_callback import PrinterCallback

    model, data = _model_and_data()
    args = TrainingArguments(
        output_dir="out",
        max_steps=steps,
        logging_steps=1,
        per_device_train_batch_size=8,
        save_strategy="no",
        report_to=report_to,
        use_cpu=True,
        disable_tqdm=True,
    )
    trainer = Trainer(model=model, args=args, train_dataset=data, callbacks=callbacks)
    trainer.remove_callback(PrinterCallback)
    return trainer


def _tracelet_options(uri: str) -> dict[str, Any]:
    return {
        "project": "bench-tracelet",
        "backend": "mlflow",
        "config": {"mlflow": {"tracking_uri": uri}, **COLLECTORS_OFF},
    }


def run_case(label: str, steps: int, uri: str) -> tuple[Timing, str | None, Any]:
    """Train once for case ``label``: its timing, the MLflow run id (``None`` for the floor)
    and the recorder of what the Trainer reported."""
    import mlflow

    from tracelet_collectors.transformers import TraceletCallback

    recorder = _recorder()
    run = None
    callback = None
    if label == CALLBACK:
        callback = TraceletCallback(exp_name="bench-callback", **_tracelet_options(uri))
    if label == CAPTURE:
        run = tracelet.start_logging(exp_name="bench-capture", **_tracelet_options(uri))
    callbacks = [recorder] if callback is None else [callback, recorder]
    trainer = _trainer(steps, "mlflow" if label == HF else "none", callbacks)

    began = time.perf_counter()
    trainer.train()
    trained = time.perf_counter()
    if label == HF:
        mlflow.flush_async_logging()
    if run is not None:
        run.stop()
    stored = time.perf_counter()

    mlflow_id: str | None = None
    if label == HF:
        last = mlflow.last_active_run()
        mlflow_id = None if last is None else last.info.run_id
    else:
        ours = run if run is not None else None if callback is None else callback.run
        mlflow_id = None if ours is None else ours.links["mlflow"].id
    return Timing(trained - began, stored - began), mlflow_id, recorder


def read_back(uri: str, mlflow_id: str | None, recorder: Any) -> list[str]:
    """The problems of one run read back from MLflow (none expected)."""
    from mlflow import MlflowClient

    if mlflow_id is None:
        return ["no MLflow run found"]
    client = MlflowClient(uri)
    problems = []
    for name in METRICS:
        stored = sorted((m.step, m.value) for m in client.get_metric_history(mlflow_id, name))
        expected = sorted(recorder.points[name])
        if name == "epoch":  # reported twice at the last step, with the same value
            stored, expected = sorted(set(stored)), sorted(set(expected))
        if stored != expected:
            problems.append(
                f"run {mlflow_id}: {name} holds {len(stored)} points, the Trainer reported "
                f"{len(expected)} (or the steps or values differ)"
            )
    if client.get_run(mlflow_id).info.status != "FINISHED":
        problems.append(f"run {mlflow_id}: not FINISHED")
    return problems


def bench(sizes: Sizes, uri: str) -> list[str]:
    """Time every case; print the table and verdicts; return the problems found."""
    print(section(f"trainer.train(), {sizes.steps} steps, logging_steps=1"))
    for label in CASES:  # warm-up: first Trainer, first MLflow run of each kind
        run_case(label, max(sizes.steps // 10, 5), uri)
    cases = {label: Case(label) for label in CASES}
    problems: list[str] = []
    checked = 0
    for r in range(sizes.rounds):
        order = CASES if r % 2 == 0 else tuple(reversed(CASES))
        for label in order:
            timing, mlflow_id, recorder = run_case(label, sizes.steps, uri)
            cases[label].timings.append(timing)
            if label != FLOOR:
                problems += read_back(uri, mlflow_id, recorder)
                checked += 1

    floor = cases[FLOOR]

    def train(case: Case) -> float:
        return case.best(lambda t: t.train)

    def stored(case: Case) -> float:
        return case.best(lambda t: t.stored)

    hf_cost = train(cases[HF]) - train(floor)
    rows = []
    for label, case in cases.items():
        cost = train(case) - train(floor)
        rows.append(
            [
                label,
                fmt_float(case.median(lambda t: t.train), 3),
                fmt_float(train(case), 3),
                fmt_float(stored(case), 3),
                "-" if case is floor else fmt_float(cost, 3),
                "-" if case is floor else fmt_float(stored(case) - stored(floor), 3),
                "-" if case is floor else fmt_float(cost / sizes.steps * 1e3, 2),
                "-" if case is floor else f"{cost / hf_cost:.0%}" if hf_cost > 0 else "n/a",
            ]
        )
    print(
        f"{sizes.rounds} round(s) after a warm-up round, the order of the cases alternating; "
        "best round of each case unless marked median; cost = time minus the floor's."
    )
    print(
        table(
            [
                "case",
                "median train() s",
                "train() s",
                "until stored s",
                "cost s",
                "cost until stored s",
                "cost ms/step",
                "cost vs MLflowCallback",
            ],
            rows,
        )
    )
    for label in TRACELET_CASES:
        ours, theirs = train(cases[label]), train(cases[HF])
        verdict = "PASS" if ours <= theirs else "FAIL"
        print(
            f"target: {label}: train() not slower than with MLflowCallback: "
            f"{ours:.3f} s vs {theirs:.3f} s -> {verdict}"
        )
        share = (ours - train(floor)) / hf_cost if hf_cost > 0 else float("inf")
        verdict = "PASS" if share <= COST_TARGET else "FAIL"
        print(
            f"target: {label}: cost <= {COST_TARGET:.0%} of MLflowCallback's: "
            f"{share:.0%} -> {verdict}"
        )
    if not problems:
        print(
            f"read back with get_metric_history: {checked} runs, each of "
            f"{', '.join(METRICS)} at every step as the Trainer reported it, once"
        )
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    header("transformers", args.quick)
    env = {"MLFLOW_DISABLE_TELEMETRY": "true", "HF_HUB_OFFLINE": "1"}
    with clean_workdir(("TRACELET_", "MLFLOW_"), env) as workdir:
        t0 = time.perf_counter()
        import mlflow
        import transformers
        from mlflow import MlflowClient
        from transformers import Trainer  # noqa: F401  (the slow part of the import)

        t1 = time.perf_counter()
        uri = f"sqlite:///{workdir / 'mlflow.db'}"
        MlflowClient(uri).search_experiments()  # creates the store (schema migrations)
        # transformers' MLflowCallback reads these.
        os.environ["MLFLOW_TRACKING_URI"] = uri
        os.environ["MLFLOW_EXPERIMENT_NAME"] = "bench-hf"
        t2 = time.perf_counter()
        print(
            f"transformers {transformers.__version__}, MLflow {mlflow.__version__}; store {uri}; "
            f"fixed costs, outside every timing: imports {t1 - t0:.2f}s, new store {t2 - t1:.2f}s"
        )
        try:
            problems = bench(sizes, uri)
        finally:
            for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME"):
                os.environ.pop(name, None)
    return summary(problems)


if __name__ == "__main__":
    sys.exit(main())
