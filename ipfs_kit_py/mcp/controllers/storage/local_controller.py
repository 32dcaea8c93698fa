"""Deprecated sync controller for a local blockstore directory: use ``local_controller_anyio.LocalControllerAnyio``."""

from __future__ import annotations

from .base import DeprecatedSyncController
from .local_controller_anyio import LocalControllerAnyio


class LocalController(DeprecatedSyncController):
    """Blocking wrapper over ``LocalControllerAnyio``; constructing it emits a DeprecationWarning."""

    replacement = LocalControllerAnyio
