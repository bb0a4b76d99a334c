# Inference gateway end to end: `sallyport run` with a TLS mock provider and the official
# openai / @anthropic-ai/sdk clients (tests/node_modules, installed by scripts/test).
if(TARGET sallyport)
  add_test(NAME gateway_integration
    COMMAND /usr/bin/python3 ${SALLYPORT_TESTS_DIR}/gateway/test_gateway.py)
  set_tests_properties(gateway_integration PROPERTIES LABELS integration TIMEOUT 600
    SKIP_RETURN_CODE 77
    ENVIRONMENT "SALLYPORT_GATEWAY_BIN=$<TARGET_FILE:sallyport>;SALLYPORT_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endif()
# Approval webhook + Responses API tool calls (issue 7): mock provider, webhook receiver, openai SDK.
if(TARGET sallyport)
  add_test(NAME gateway_approvals_responses
    COMMAND /usr/bin/python3 ${SALLYPORT_TESTS_DIR}/gateway/test_gov_approvals_responses.py)
  set_tests_properties(gateway_approvals_responses PROPERTIES LABELS integration TIMEOUT 300
    SKIP_RETURN_CODE 77
    ENVIRONMENT "SALLYPORT_GATEWAY_BIN=$<TARGET_FILE:sallyport>;SALLYPORT_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endif()
