"""Error types every interface maps to a one-line user message.

The message of an ``IpfsKitError`` is written for the user: one line, says
what was wrong and what to do. Interfaces map the class to an exit code
(CLI), an HTTP status (web) or a tool error (MCP); anything that is *not* an
``IpfsKitError`` is a bug and is reported as an internal error.
"""

from __future__ import annotations


class IpfsKitError(Exception):
    """Base class. ``str(err)`` is a one-line, user-facing message."""

    exit_code = 1
    http_status = 400

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class InvalidInput(IpfsKitError):
    """An argument, file or document the caller gave is not valid."""

    exit_code = 2
    http_status = 400


class NotFound(IpfsKitError):
    """A CID, path, event, token or other named thing does not exist."""

    http_status = 404


class CorruptBlock(IpfsKitError):
    """A block's bytes do not hash to its CID."""

    http_status = 500


class PermissionDenied(IpfsKitError):
    """The caller's role does not allow the operation."""

    exit_code = 3
    http_status = 403


class Unauthenticated(IpfsKitError):
    """No, or an invalid, API token."""

    exit_code = 3
    http_status = 401


class BackendError(IpfsKitError):
    """A remote backend (kubo, S3, PostgreSQL, Redis) failed or is unreachable."""

    http_status = 502


class Conflict(IpfsKitError):
    """The operation conflicts with existing state (e.g. path exists)."""

    http_status = 409
