"""``PyTorchFramework``, as in earlier Tracelet releases: today's TensorBoard capture.

While a run is active with ``capture_tensorboard`` on (the default), the calls of every
``torch.utils.tensorboard`` and ``tensorboardX`` ``SummaryWriter`` also log into the run
(see docs/integrations/tensorboard.md); this class needs no setup for that.
"""

from __future__ import annotations

from typing import ClassVar

from tracelet.frameworks import CaptureFramework, logger


class PyTorchFramework(CaptureFramework):
    """The TensorBoard capture.

    Args:
        patch_tensorboard: Whether ``SummaryWriter`` calls should be captured. The run's
            ``capture_tensorboard`` setting decides; with ``False`` here while the setting is
            on, :meth:`start_tracking` warns that they still are.

    Raises:
        ImportError: ``tracelet-collectors`` is not installed.
    """

    module: ClassVar[str] = "tensorboard"
    setting: ClassVar[str] = "capture_tensorboard"
    captured: ClassVar[str] = "SummaryWriter calls"

    def __init__(self, patch_tensorboard: bool = True) -> None:
        super().__init__()
        self.patch_tensorboard = patch_tensorboard

    def start_tracking(self) -> None:
        """As :meth:`CaptureFramework.start_tracking`; with ``patch_tensorboard=False``, warns
        instead when the run captures anyway.

        Raises:
            RuntimeError: No run is active (or the experiment given has not started).
        """
        if self.patch_tensorboard:
            super().start_tracking()
            return
        run = self._run()
        if self._capturing(run) and run.settings is not None:
            logger.warning(
                "tracelet: PyTorchFramework(patch_tensorboard=False) cannot turn the capture "
                "off for run %r: SummaryWriter calls are captured; start the run with "
                "config={'capture_tensorboard': False} to leave them out",
                run.name,
            )
