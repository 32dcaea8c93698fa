"""MCP interface of ipfs-kit: the unified server (``unified_mcp_server``) and its tools."""
