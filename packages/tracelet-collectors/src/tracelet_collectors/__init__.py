"""Tracelet's collectors (system, GPU, git, environment).

Nothing is registered yet: the collectors arrive with their own change. The distribution exists
so that the ``tracelet`` meta-distribution's dependency on it resolves.
"""

__version__ = "0.1.0"
