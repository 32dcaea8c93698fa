"""``KuboControllerAnyio``: the anyio controller for a kubo node (backend type ``kubo``)."""

from __future__ import annotations

from .base import StorageControllerAnyio


class KuboControllerAnyio(StorageControllerAnyio):
    """``KuboControllerAnyio()`` uses the home's first ``kubo`` backend; pass a name for another."""

    kind = "kubo"
