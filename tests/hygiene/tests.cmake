# Secret hygiene (issue 10 item 5): real-looking secrets through every error path must not reach
# a log line, audit record, metric or error body; constant-time admin token compare; plaintext
# non-loopback admin binds refused; 0600 key/state files; TOCTOU-safe config/policy/key reads.
if(TARGET sallyport)
  add_test(NAME hygiene_secrets COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_hygiene.py)
  set_tests_properties(hygiene_secrets PROPERTIES LABELS integration TIMEOUT 180
    ENVIRONMENT "SALLYPORT_BIN=$<TARGET_FILE:sallyport>;SALLYPORT_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endif()
