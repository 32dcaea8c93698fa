"""Deprecated sync controller for an S3-compatible bucket: use ``s3_controller_anyio.S3ControllerAnyio``."""

from __future__ import annotations

from .base import DeprecatedSyncController
from .s3_controller_anyio import S3ControllerAnyio


class S3Controller(DeprecatedSyncController):
    """Blocking wrapper over ``S3ControllerAnyio``; constructing it emits a DeprecationWarning."""

    replacement = S3ControllerAnyio
