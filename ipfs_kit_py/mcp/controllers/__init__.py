"""Controllers: async (anyio) adapters the MCP tools and the HTTP API use to reach storage backends."""
