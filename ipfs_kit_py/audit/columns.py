"""Columnar (polars) views of the audit log, for analytics.

One column per field in ``ALL_FIELDS`` order with fixed dtypes, so an empty
result has the same schema as a full one. ``details`` stays JSON text
(``pl.col("details").str.json_decode()`` when a query needs inside it).
"""

from __future__ import annotations

import io

import polars as pl

from .events import ALL_FIELDS

_FLOATS = {"timestamp", "duration_ms"}
_INTS = {"bytes", "seq"}
SCHEMA = {
    name: pl.Float64 if name in _FLOATS else pl.Int64 if name in _INTS else pl.Utf8
    for name in ALL_FIELDS
}


def frame_from_rows(rows: list[tuple]) -> pl.DataFrame:
    """Rows in ``ALL_FIELDS`` order (from SQLite) into a typed DataFrame."""
    if not rows:
        return pl.DataFrame(schema=SCHEMA)
    columns = list(zip(*rows, strict=True))
    return pl.DataFrame(
        [pl.Series(name, values, dtype=SCHEMA[name], strict=False) for name, values in zip(ALL_FIELDS, columns, strict=True)]
    )


def frame_from_csv(data: bytes) -> pl.DataFrame:
    """A PostgreSQL ``COPY ... CSV HEADER`` stream into a typed DataFrame.

    Optional text fields are never empty strings (the event model stores
    absent as NULL), so an empty CSV field is always NULL.
    """
    if not data:
        return pl.DataFrame(schema=SCHEMA)
    return pl.read_csv(io.BytesIO(data), schema=SCHEMA, infer_schema=False)
