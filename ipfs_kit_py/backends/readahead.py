"""Sibling read-ahead for verified reads from backends.

Reading a file walks its DAG one block at a time; from a remote backend each
block would be one round trip. When a dag-pb node is fetched its links are
remembered; when one of those children is asked for, it and the following
siblings are fetched together (by the manager, concurrently, each verified)
and the extra ones kept, bounded by ``READ_AHEAD_BYTES``, until asked for.
A window is at most ``READ_AHEAD`` blocks and ``WINDOW_BYTES`` by the links'
sizes (Tsize), so large chunks do not overrun what is kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from ..core.cid import DAG_PB
from ..core.dagpb import decode_node
from ..errors import IpfsKitError

READ_AHEAD = 256
WINDOW_BYTES = 24 * 1024 * 1024
READ_AHEAD_BYTES = 64 * 1024 * 1024


class ReadAhead:
    """Remembered link lists and prefetched blocks; thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._position: OrderedDict = OrderedDict()  # child cid -> (backend, links, index)
        self._blocks: OrderedDict = OrderedDict()  # cid -> verified bytes
        self._bytes = 0

    def learn(self, cid, data: bytes, backend: str) -> None:
        if cid.codec.code != DAG_PB:
            return
        try:
            links = [(link.cid, link.tsize or 0) for link in decode_node(data).links]
        except IpfsKitError:
            return
        with self._lock:
            for index, (child, _size) in enumerate(links):
                self._position[child] = (backend, links, index)
            while len(self._position) > 100_000:
                self._position.popitem(last=False)

    def window(self, cid):
        with self._lock:
            entry = self._position.pop(cid, None)
        if entry is None:
            return None
        backend, links, index = entry
        window, total = [], 0
        for child, size in links[index:index + READ_AHEAD]:
            if window and total + size > WINDOW_BYTES:
                break
            window.append(child)
            total += size
        return backend, window

    def keep(self, blocks: dict) -> None:
        with self._lock:
            for cid, data in blocks.items():
                if cid in self._blocks:
                    continue
                self._blocks[cid] = data
                self._bytes += len(data)
                self._position.pop(cid, None)  # it will not need its own window
            while self._bytes > READ_AHEAD_BYTES and self._blocks:
                _, dropped = self._blocks.popitem(last=False)
                self._bytes -= len(dropped)

    def take(self, cid) -> bytes | None:
        with self._lock:
            data = self._blocks.pop(cid, None)
            if data is not None:
                self._bytes -= len(data)
            return data
