"""Tracelet's collectors, registered through the ``tracelet`` entry-point group.

So far: ``git`` (:mod:`tracelet_collectors.git`). The system, GPU and environment collectors
are still to come; their settings validate but collect nothing yet.
"""

__version__ = "0.1.0"
