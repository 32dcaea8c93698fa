"""``S3ControllerAnyio``: the anyio controller for an S3-compatible bucket (backend type ``s3``)."""

from __future__ import annotations

from .base import StorageControllerAnyio


class S3ControllerAnyio(StorageControllerAnyio):
    """``S3ControllerAnyio()`` uses the home's first ``s3`` backend; pass a name for another."""

    kind = "s3"
