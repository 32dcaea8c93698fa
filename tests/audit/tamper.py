"""What an attacker with write access to the database can do to stored events.

Works on the storage layout directly (``audit_blocks``: a block's ``bodies``
are the events' JSON joined by newlines, ``links`` their prev_hash + hash,
128 hex characters each; the chain row's ``tail_*`` columns: the same for the newest events), through any ``query(sql, params) -> rows`` and
``execute(sql, params)`` pair: plain sqlite3 or psycopg, never the logger.
"""

from __future__ import annotations

import hashlib
import json

from ipfs_kit_py.audit.blocks import block_keys
from ipfs_kit_py.audit.events import EVENT_FIELDS

LINK = 128


def _split(links: str) -> list[str]:
    return [links[i:i + LINK] for i in range(0, len(links), LINK)]


class Tamper:
    def __init__(self, query, execute):
        self.query, self.execute = query, execute

    def _blocks(self) -> list[list]:
        """Every block, then the open tail (in the chain row: the newest events, not yet in a block)."""
        rows = self.query("SELECT first_seq, last_seq, bodies, links FROM audit_blocks ORDER BY first_seq")
        out = [[first, last, bytes(bodies).split(b"\n"), _split(links), "block"] for first, last, bodies, links in rows]
        for first, bodies, links in self.query("SELECT tail_first_seq, tail_bodies, tail_links FROM audit_chain"):
            if links:
                out.append([first, first + len(links) // LINK - 1, bytes(bodies).split(b"\n"), _split(links), "tail"])
        return out

    def _find(self, blocks: list[list], seq: int) -> tuple[list, int]:
        for block in blocks:
            if block[0] <= seq <= block[1]:
                return block, seq - block[0]
        raise KeyError(seq)

    def _save(self, block: list) -> None:
        if block[4] == "tail":
            self.execute("UPDATE audit_chain SET tail_bodies = ?, tail_links = ?",
                         (b"\n".join(block[2]), "".join(block[3])))
            return
        self.execute("UPDATE audit_blocks SET bodies = ?, links = ?, last_seq = ? WHERE first_seq = ?",
                     (b"\n".join(block[2]), "".join(block[3]), block[1], block[0]))

    def edit(self, seq: int, field: str, value) -> None:
        """Change one field of the stored event (its hash left as it was)."""
        block, i = self._find(self._blocks(), seq)
        values = json.loads(block[2][i])
        values[EVENT_FIELDS.index(field)] = value
        block[2][i] = json.dumps(values, separators=(",", ":"), ensure_ascii=False).encode()
        self._save(block)

    def delete(self, seq: int) -> None:
        """Remove one event: its whole block when it is alone, else its line and link (labels fixed up)."""
        block, i = self._find(self._blocks(), seq)
        if len(block[2]) == 1 and block[4] == "block":
            self.execute("DELETE FROM audit_blocks WHERE first_seq = ?", (block[0],))
            return
        del block[2][i], block[3][i]
        block[1] -= 1
        self._save(block)

    def swap(self, seq_a: int, seq_b: int) -> None:
        """Exchange two stored events (content, ids and hashes)."""
        blocks = self._blocks()
        (a, i), (b, j) = self._find(blocks, seq_a), self._find(blocks, seq_b)
        a[2][i], b[2][j] = b[2][j], a[2][i]
        a[3][i], b[3][j] = b[3][j], a[3][i]
        self._save(a)
        if b is not a:
            self._save(b)

    def set_hash(self, seq: int, digest: str) -> None:
        """Overwrite the stored hash of one event."""
        block, i = self._find(self._blocks(), seq)
        block[3][i] = block[3][i][:64] + digest
        self._save(block)

    def rewrite_from(self, seq: int, **changes) -> None:
        """Tamper like someone who knows the format: change an event and recompute every hash after it."""
        blocks = self._blocks()
        block, i = self._find(blocks, seq)
        values = json.loads(block[2][i])
        for name, value in changes.items():
            values[EVENT_FIELDS.index(name)] = value
        block[2][i] = json.dumps(values, separators=(",", ":"), ensure_ascii=False).encode()
        prev = block[3][i][:64]
        for b in blocks:
            for j, line in enumerate(b[2]):
                if b[0] + j < seq:
                    continue
                digest = hashlib.sha256(prev.encode("ascii") + line).hexdigest()
                b[3][j] = prev + digest
                prev = digest
            if b[1] >= seq:
                self._save(b)
                if b[4] == "block":  # and the block's value keys, as the format says
                    keys = block_keys([json.loads(line) for line in b[2]])
                    self.execute("UPDATE audit_blocks SET keys = ? WHERE first_seq = ?", (keys, b[0]))
        self.execute("UPDATE audit_chain SET head_hash = ? WHERE id = 1", (prev,))
