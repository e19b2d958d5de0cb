"""Train a small neural network and log the run with Tracelet.

A two-layer network learns to separate two interleaved half-moons, in plain Python (no
framework needed), with mini-batch SGD. Tracelet records the hyperparameters, the training
curve at every step, validation metrics every epoch, a histogram of the weights, a picture of
the decision boundary and the trained weights as an artifact — to the backends your settings
select (the local run folder by default; ``scripts/train`` adds MLflow).

    python examples/train.py [--epochs 20] [--backend local,mlflow] [--project examples]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import tempfile
from pathlib import Path

import tracelet
from tracelet.media import encode_png

Point = tuple[float, float]


def make_moons(n: int, noise: float, rng: random.Random) -> list[tuple[Point, int]]:
    """``n`` points on two interleaved half-circles, labelled 0 and 1."""
    data = []
    for i in range(n):
        label = i % 2
        angle = rng.uniform(0.0, math.pi)
        if label == 0:
            x, y = math.cos(angle), math.sin(angle)
        else:
            x, y = 1.0 - math.cos(angle), 0.5 - math.sin(angle)
        data.append(((x + rng.gauss(0, noise), y + rng.gauss(0, noise)), label))
    return data


class MLP:
    """2 inputs → ``hidden`` tanh units → 1 sigmoid output, trained by SGD on log-loss."""

    def __init__(self, hidden: int, rng: random.Random) -> None:
        scale = 1.0 / math.sqrt(2)
        self.w1 = [[rng.gauss(0, scale) for _ in range(2)] for _ in range(hidden)]
        self.b1 = [0.0] * hidden
        self.w2 = [rng.gauss(0, 1.0 / math.sqrt(hidden)) for _ in range(hidden)]
        self.b2 = 0.0

    def forward(self, x: Point) -> tuple[list[float], float]:
        h = [
            math.tanh(w[0] * x[0] + w[1] * x[1] + b) for w, b in zip(self.w1, self.b1, strict=True)
        ]
        z = sum(wi * hi for wi, hi in zip(self.w2, h, strict=True)) + self.b2
        return h, 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def predict(self, x: Point) -> float:
        return self.forward(x)[1]

    def sgd_step(self, batch: list[tuple[Point, int]], lr: float) -> float:
        """One gradient step on ``batch``; returns the batch's mean log-loss."""
        hidden = len(self.w2)
        gw1 = [[0.0, 0.0] for _ in range(hidden)]
        gb1 = [0.0] * hidden
        gw2 = [0.0] * hidden
        gb2 = 0.0
        loss = 0.0
        for x, y in batch:
            h, p = self.forward(x)
            loss -= math.log(p + 1e-12) if y else math.log(1.0 - p + 1e-12)
            dz = p - y
            gb2 += dz
            for j in range(hidden):
                gw2[j] += dz * h[j]
                dh = dz * self.w2[j] * (1.0 - h[j] * h[j])
                gw1[j][0] += dh * x[0]
                gw1[j][1] += dh * x[1]
                gb1[j] += dh
        scale = lr / len(batch)
        for j in range(hidden):
            self.w2[j] -= scale * gw2[j]
            self.w1[j][0] -= scale * gw1[j][0]
            self.w1[j][1] -= scale * gw1[j][1]
            self.b1[j] -= scale * gb1[j]
        self.b2 -= scale * gb2
        return loss / len(batch)

    def weights(self) -> dict[str, object]:
        return {"w1": self.w1, "b1": self.b1, "w2": self.w2, "b2": self.b2}


def evaluate(model: MLP, data: list[tuple[Point, int]]) -> tuple[float, float]:
    """Mean log-loss and accuracy."""
    loss = correct = 0.0
    for x, y in data:
        p = model.predict(x)
        loss -= math.log(p + 1e-12) if y else math.log(1.0 - p + 1e-12)
        correct += (p >= 0.5) == bool(y)
    return loss / len(data), correct / len(data)


def decision_map(model: MLP, data: list[tuple[Point, int]], size: int = 96) -> bytes:
    """A PNG of the decision regions (blue/orange) with the validation points drawn on top."""
    x0, x1, y0, y1 = -1.5, 2.5, -1.0, 1.5
    pixels = bytearray()
    for row in range(size):
        y = y1 - (y1 - y0) * row / (size - 1)
        for col in range(size):
            x = x0 + (x1 - x0) * col / (size - 1)
            p = model.predict((x, y))
            pixels += bytes((int(80 + 150 * p), int(120 + 40 * p), int(230 - 170 * p)))
    for (x, y), label in data:
        col = round((x - x0) / (x1 - x0) * (size - 1))
        row = round((y1 - y) / (y1 - y0) * (size - 1))
        if 0 <= col < size and 0 <= row < size:
            i = (row * size + col) * 3
            pixels[i : i + 3] = b"\x10\x10\x10" if label else b"\xff\xff\xff"
    return encode_png(bytes(pixels), size, size, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", default=None, help="backend name(s), comma-separated")
    parser.add_argument("--project", default="examples")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    data = make_moons(600, noise=0.12, rng=rng)
    train, val = data[:480], data[480:]
    model = MLP(args.hidden, rng)

    run = tracelet.start_logging(exp_name="moons-mlp", project=args.project, backend=args.backend)
    with run:
        run.log_params(
            {
                "model": {"kind": "mlp", "hidden": args.hidden, "activation": "tanh"},
                "optim": {"name": "sgd", "lr": args.lr, "batch_size": args.batch_size},
                "data": {"name": "two-moons", "train": len(train), "val": len(val)},
                "epochs": args.epochs,
                "seed": args.seed,
            }
        )
        run.set_tags({"example": "moons", "framework": "pure-python"})
        step = 0
        for epoch in range(args.epochs):
            rng.shuffle(train)
            for start in range(0, len(train), args.batch_size):
                loss = model.sgd_step(train[start : start + args.batch_size], args.lr)
                run.log_metric("train/loss", loss, step=step)
                step += 1
            val_loss, val_acc = evaluate(model, val)
            _, train_acc = evaluate(model, train)
            run.log_metrics(
                {"val/loss": val_loss, "val/accuracy": val_acc, "train/accuracy": train_acc},
                step=step,
            )
            run.log_metric("epoch", epoch, step=step)
            if epoch % 5 == 4 or epoch == args.epochs - 1:
                run.log_histogram("weights/w2", model.w2, step=step)
                run.log_image("decision_boundary", decision_map(model, val), step=step)
        run.log_text("summary", f"final val accuracy {val_acc:.3f}, loss {val_loss:.4f}", step=step)
        with tempfile.TemporaryDirectory() as tmp:
            weights = Path(tmp) / "model.json"
            weights.write_text(json.dumps(model.weights()))
            run.log_artifact(weights, name="model/weights.json")
            run.flush()

    print(f"Trained {args.epochs} epochs: val accuracy {val_acc:.3f}, val loss {val_loss:.4f}")
    print("The run is stored in:")
    for backend, location in run.locations().items():
        print(f"  {backend}: {location}")
    _print_commands(run)
    stats = run.stats()
    lost = {name: s for name, s in stats.items() if s.pending or s.failed or s.dropped}
    if lost:
        raise SystemExit(f"some records were not delivered: {lost}")


def _print_commands(run: tracelet.Run) -> None:
    """The commands that show the run: in the terminal, as an HTML page, in MLflow's UI."""
    print("Look at it with:")
    local = run.links["local"].path if "local" in run.links else None
    if local:
        folder = os.path.relpath(local)
        print(f"  {_venv_command('tracelet')} show {folder}          # curves in the terminal")
        print(f"  {_venv_command('tracelet')} report {folder} -o report.html  # one HTML page")
    mlflow_ui = run.locations().get("mlflow") or ""
    if mlflow_ui.startswith("mlflow ui "):  # a database store: MLflow's UI serves it
        print(f"  {_venv_command('mlflow')}{mlflow_ui.removeprefix('mlflow')}")


def _venv_command(name: str) -> str:
    """How to call the command ``name`` of this interpreter's venv from the user's shell (where
    the venv that ``scripts/train`` activated is not active): its path, relative when shorter."""
    script = Path(sys.executable).parent / name
    if not script.exists():
        return name
    relative = os.path.relpath(script)
    return str(script) if relative.startswith("..") else relative


if __name__ == "__main__":
    main()
