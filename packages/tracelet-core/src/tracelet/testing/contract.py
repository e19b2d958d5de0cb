"""The backend contract: what every Tracelet backend must do, as a pytest test class.

Each test starts a real run on the backend under test, with no collector or capture running
(the run holds only what the test logs) and its journal in a temporary folder, stops it, and
reads it back through the harness. A failure names the check, what was expected, what was
stored and what to do (:mod:`tracelet.testing.checks`). The checks live in
:mod:`tracelet.testing.records_checks`, :mod:`tracelet.testing.artifact_checks`,
:mod:`tracelet.testing.media_checks` and :mod:`tracelet.testing.delivery_checks`.
"""

from __future__ import annotations

from tracelet.testing.artifact_checks import ArtifactChecks
from tracelet.testing.delivery_checks import DeliveryChecks
from tracelet.testing.media_checks import MediaChecks
from tracelet.testing.records_checks import RecordChecks


class BackendContract(RecordChecks, ArtifactChecks, MediaChecks, DeliveryChecks):
    """The tests every backend must pass. Subclass and provide the ``harness`` fixture."""
