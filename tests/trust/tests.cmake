if(TARGET sallyport)
  add_test(NAME trust_egress_integration
    COMMAND /usr/bin/python3 ${SALLYPORT_TESTS_DIR}/trust/test_trust_egress.py)
  set_tests_properties(trust_egress_integration PROPERTIES LABELS integration TIMEOUT 120
    ENVIRONMENT "SALLYPORT_BIN=$<TARGET_FILE:sallyport>;SALLYPORT_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endif()
