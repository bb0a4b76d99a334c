# Unit tests for the gateway's Beast-free governance logic: SSE parsing, usage extraction,
# budgets, rate limits, content safety, prompt shield and API error shapes.
# Included from governance/CMakeLists.txt, so CMAKE_CURRENT_SOURCE_DIR is governance/.
sallyport_add_test(governance_gateway_logic_test
  SOURCES
    ${CMAKE_CURRENT_SOURCE_DIR}/test/sse_test.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/test/usage_test.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/test/budget_test.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/test/rate_test.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/test/safety_test.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/test/shield_test.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/test/api_error_test.cpp
  LIBS sallyport_governance)
target_compile_definitions(governance_gateway_logic_test PRIVATE
  SALLYPORT_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
