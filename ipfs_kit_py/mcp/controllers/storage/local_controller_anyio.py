"""``LocalControllerAnyio``: the anyio controller for a local blockstore directory (backend type ``local``)."""

from __future__ import annotations

from .base import StorageControllerAnyio


class LocalControllerAnyio(StorageControllerAnyio):
    """``LocalControllerAnyio()`` uses the home's first ``local`` backend; pass a name for another."""

    kind = "local"
