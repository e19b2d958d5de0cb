"""``LightningFramework``, as in earlier Tracelet releases: today's Lightning capture.

While a run is active with ``capture_lightning`` on (the default), every Lightning ``Trainer``
built without a ``TraceletLogger`` gets one, so ``self.log(...)`` values go into the run (see
docs/integrations/lightning.md); this class needs no setup for that.
"""

from __future__ import annotations

from typing import ClassVar

from tracelet.frameworks import CaptureFramework


class LightningFramework(CaptureFramework):
    """The Lightning capture.

    Raises:
        ImportError: ``tracelet-collectors`` is not installed.
    """

    module: ClassVar[str] = "lightning_capture"
    setting: ClassVar[str] = "capture_lightning"
    captured: ClassVar[str] = "Lightning Trainer metrics"
