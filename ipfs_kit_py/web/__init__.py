"""The web dashboard and JSON API (``create_app(kit)``), served by ``ipfs-kit serve``."""

from .app import create_app

__all__ = ["create_app"]
