if(TARGET sallyport)
  add_test(NAME trust_egress_integration
    COMMAND /usr/bin/python3 ${SALLYPORT_TESTS_DIR}/trust/test_trust_egress.py)
  set_tests_properties(trust_egress_integration PROPERTIES LABELS integration TIMEOUT 120
    ENVIRONMENT "SALLYPORT_BIN=$<TARGET_FILE:sallyport>;SALLYPORT_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endif()
# Root: the real kernel guard on an empty test cgroup; quarantine sets its flag, reset clears it.
if(TARGET sallyport)
  add_test(NAME trust_kernel_quarantine_integration
    COMMAND /usr/bin/python3 ${SALLYPORT_TESTS_DIR}/trust/test_kernel_quarantine.py)
  set_tests_properties(trust_kernel_quarantine_integration PROPERTIES LABELS "integration;root"
    TIMEOUT 120 RUN_SERIAL TRUE
    ENVIRONMENT "SALLYPORT_BIN=$<TARGET_FILE:sallyport>;SALLYPORT_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endif()
