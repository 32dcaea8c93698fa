"""ipfs-kit: content-addressed storage on IPFS with a tamper-evident audit log."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ipfs-kit")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["Kit", "__version__"]


def __getattr__(name: str):
    # Lazy so that `import ipfs_kit_py.core` stays light (no audit/cache imports).
    if name == "Kit":
        from .kit import Kit

        return Kit
    raise AttributeError(name)
