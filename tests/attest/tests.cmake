# `sallyport attest`: CLI statement, verify, digest changes, GET /admin/attest (loopback only).
if(TARGET sallyport)
  add_test(NAME attest_integration
    COMMAND /usr/bin/python3 ${SALLYPORT_TESTS_DIR}/attest/test_attest.py)
  set_tests_properties(attest_integration PROPERTIES LABELS integration TIMEOUT 180
    ENVIRONMENT "SALLYPORT_BIN=$<TARGET_FILE:sallyport>;SALLYPORT_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endif()
