# Fleet mode (issue 12): real redis-server (plain and TLS + ACL user) on loopback, several
# sallyport processes sharing one tenant's budget and rate limits, outage and restart behaviour.
if(TARGET sallyport)
  add_test(NAME fleet_integration
    COMMAND /usr/bin/python3 ${SALLYPORT_TESTS_DIR}/fleet/test_fleet.py)
  set_tests_properties(fleet_integration PROPERTIES LABELS integration TIMEOUT 300
    ENVIRONMENT "SALLYPORT_FLEET_BIN=$<TARGET_FILE:sallyport>;SALLYPORT_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endif()
