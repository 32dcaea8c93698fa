"""The MCP tools, one module per group; each tool is a thin adapter over one Kit/service method.

``all_specs()`` is the registry the unified server builds its tool list from.
"""

from __future__ import annotations

import importlib

from .common import ToolSpec, specs_in

# Order here is the order of tools/list.
GROUP_MODULES = ("content", "audit", "performance", "dashboard", "backends")


def all_specs() -> list[ToolSpec]:
    specs: list[ToolSpec] = []
    for group in GROUP_MODULES:
        specs.extend(specs_in(importlib.import_module(f"{__name__}.{group}")))
    names = [s.name for s in specs]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise RuntimeError(f"duplicate MCP tool names: {', '.join(sorted(duplicates))}")
    return specs


__all__ = ["GROUP_MODULES", "ToolSpec", "all_specs"]
