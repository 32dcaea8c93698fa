"""Deprecated sync controller for a kubo node: use ``kubo_controller_anyio.KuboControllerAnyio``."""

from __future__ import annotations

from .base import DeprecatedSyncController
from .kubo_controller_anyio import KuboControllerAnyio


class KuboController(DeprecatedSyncController):
    """Blocking wrapper over ``KuboControllerAnyio``; constructing it emits a DeprecationWarning."""

    replacement = KuboControllerAnyio
