"""Layered settings: call arguments > env vars > ``tracelet.yaml`` > defaults, per key.

Importing this package loads pydantic; :mod:`tracelet` itself does not, so ``import tracelet``
stays cheap. The public names:

* :class:`CoreSettings` — Tracelet's own keys;
* :class:`SectionModel` and :data:`CommaList` — for plugin authors' sections;
* :func:`resolve_settings` and :class:`ResolvedSettings` — what ``start_logging`` uses;
* :class:`TraceletSettings` — settings written in code, as earlier releases took them
  (:mod:`tracelet.settings.legacy`, which also reads their earlier key names).
"""

from tracelet.settings.legacy import TraceletSettings
from tracelet.settings.model import CommaList, CoreSettings, SectionModel, build_settings_class
from tracelet.settings.resolve import ResolvedSettings, resolve_settings
from tracelet.settings.sources import CONFIG_ENV, DEFAULT_CONFIG_FILE, ENV_PREFIX

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG_FILE",
    "ENV_PREFIX",
    "CommaList",
    "CoreSettings",
    "ResolvedSettings",
    "SectionModel",
    "TraceletSettings",
    "build_settings_class",
    "resolve_settings",
]
