# MCP gateway end to end: an MCP server and client from the official @modelcontextprotocol/sdk
# (tests/node_modules), sallyport in between. Loopback only; bounded by the timeout.
if(TARGET sallyport)
  add_test(NAME mcp_integration
    COMMAND /usr/bin/python3 ${SALLYPORT_TESTS_DIR}/mcp/test_mcp.py)
  set_tests_properties(mcp_integration PROPERTIES LABELS integration TIMEOUT 300
    SKIP_RETURN_CODE 77
    ENVIRONMENT "SALLYPORT_BIN=$<TARGET_FILE:sallyport>;SALLYPORT_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endif()
