# MCP gateway protocol logic (governance/mcp_policy.*): classification, tools/list filtering,
# tools/call checks, shield on tool results.
sallyport_add_test(governance_mcp_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/mcp_policy_test.cpp
  LIBS sallyport_governance)
