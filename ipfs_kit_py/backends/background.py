"""The server's replication loop: retry due copies every ``sync_interval_seconds`` (default 60).

It runs only while ``ipfs-kit serve`` runs, as the principal ``replication``
(role writer), and does nothing (not even an audit event) while no copy is due.
"""

from __future__ import annotations

import logging

import anyio

logger = logging.getLogger("ipfs_kit.replication")


async def replication_loop(kit) -> None:
    worker = kit.as_principal("replication", "writer", None, interface="server")
    while True:
        interval = float(kit.backends.policy["sync_interval_seconds"])
        await anyio.sleep(max(interval, 0.5))
        try:
            # Copies waiting for a retry, or pins that a target has no copy of yet
            # (made before it became a target): either one is work for a sync.
            if kit.backends.names() and (kit.backends.state.due() or await anyio.to_thread.run_sync(
                    kit.backends.reconcile, kit.content)):
                result = await anyio.to_thread.run_sync(worker.backend_sync)
                logger.info("replication sync: %s pinned, %s failed, %s pending",
                            result["pinned"], result["failed"], result["pending"])
        except Exception:  # keep the loop alive; the failure is already in the audit log
            logger.exception("replication sync failed")
