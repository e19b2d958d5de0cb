"""Module paths of earlier Tracelet releases (``tracelet.core.experiment``), kept so that their
imports keep working. Today's code lives in :mod:`tracelet` itself."""
