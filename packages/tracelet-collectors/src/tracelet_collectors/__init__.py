"""Tracelet's collectors, registered through the ``tracelet`` entry-point group.

Collectors: ``system`` and ``gpu`` (sampled on a thread), ``git`` and ``environment`` (read
once, on a thread); captures: TensorBoard writers and Lightning (``TraceletLogger``). See
:mod:`tracelet_collectors.plugin` for what is registered and docs/collectors.md for the keys.
"""

__version__ = "0.1.0"
