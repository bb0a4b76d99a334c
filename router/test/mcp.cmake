# MCP gateway HTTP/SSE helpers (router/mcp_protocol.*): paths, header rules, SSE rewriting.
sallyport_add_test(mcp_protocol_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/mcp_protocol_test.cpp
  LIBS sallyport_router)
