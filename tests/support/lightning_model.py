"""A tiny Lightning model for the capture tests, built for either Lightning package; it keeps
what it gave to ``self.log`` so the tests can compare it with what the run stored."""

from __future__ import annotations

import importlib
from typing import Any

#: Batches per epoch of :func:`loader` (64 samples, 8 per batch).
BATCHES = 8


def lightning(package: str) -> Any:
    """``lightning.pytorch`` or ``pytorch_lightning``, imported."""
    return importlib.import_module(package)


def loader() -> Any:
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 2, generator=g)
    return DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=8)


def model(package: str, **hparams: Any) -> Any:
    import torch
    from torch.nn.functional import mse_loss

    base = lightning(package).LightningModule

    class Tiny(base):  # type: ignore[misc, valid-type]
        def __init__(self, lr: float = 0.1, hidden: int = 4, note: str = "tiny") -> None:
            super().__init__()
            self.save_hyperparameters()
            self.layer = torch.nn.Linear(2, 1)
            self.given: dict[str, list[tuple[int, float]]] = {"train/loss": []}
            self.batch_losses: dict[str, list[float]] = {"val": [], "test": []}

        def training_step(self, batch: Any, *_: Any) -> Any:
            x, y = batch
            loss = mse_loss(self.layer(x), y)
            self.log("train/loss", loss)  # a tensor, as usual
            self.given["train/loss"].append((self.global_step, loss.item()))
            return loss

        def validation_step(self, batch: Any, *_: Any) -> None:
            x, y = batch
            loss = mse_loss(self.layer(x), y)
            self.log("val/loss", loss)  # averaged over the epoch by Lightning
            if not self.trainer.sanity_checking:
                self.batch_losses["val"].append(loss.item())

        def test_step(self, batch: Any, *_: Any) -> None:
            x, y = batch
            loss = mse_loss(self.layer(x), y)
            self.log("test/loss", loss)
            self.batch_losses["test"].append(loss.item())

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    return Tiny(**hparams)


def trainer(package: str, root: Any, **kwargs: Any) -> Any:
    """A quiet 2-epoch CPU trainer that logs every step."""
    options: dict[str, Any] = {
        "max_epochs": 2,
        "log_every_n_steps": 1,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "accelerator": "cpu",
        "default_root_dir": str(root),
        **kwargs,
    }
    return lightning(package).Trainer(**options)
