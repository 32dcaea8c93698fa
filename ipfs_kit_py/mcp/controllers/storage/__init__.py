"""Storage controllers, one per backend kind; anyio is the one recommended pattern.

```python
from ipfs_kit_py.mcp.controllers.storage.s3_controller_anyio import S3ControllerAnyio
controller = S3ControllerAnyio()          # the home's first S3 backend
info = await controller.health()
```

The sync classes in ``s3_controller``, ``kubo_controller`` and
``local_controller`` still work but warn (``DeprecationWarning``): they run
the anyio controller in a private event loop per call.
"""

from .base import StorageControllerAnyio, controller_for

__all__ = ["StorageControllerAnyio", "controller_for"]
