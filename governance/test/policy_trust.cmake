# Tool policy, tool-call filtering, approvals and trust (issue 7, governance/ library logic).
sallyport_add_test(governance_policy_trust_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/tool_policy_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/tool_calls_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/tool_calls_stream_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/approval_store_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/approval_webhook_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/tool_calls_responses_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/trust_test.cpp
  LIBS sallyport_governance)
# The shipped example policies (config/policies/*.json) must always load.
target_compile_definitions(governance_policy_trust_test PRIVATE
  SALLYPORT_POLICY_DIR="${PROJECT_SOURCE_DIR}/config/policies")
