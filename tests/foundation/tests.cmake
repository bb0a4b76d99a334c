if(TARGET sallyport)
  add_test(NAME foundation_integration
    COMMAND /usr/bin/python3 ${SALLYPORT_TESTS_DIR}/foundation/test_foundation.py)
  set_tests_properties(foundation_integration PROPERTIES LABELS integration TIMEOUT 300
    ENVIRONMENT "SALLYPORT_BIN=$<TARGET_FILE:sallyport>;SALLYPORT_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endif()
