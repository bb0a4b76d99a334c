# Fault injection (issue 10 item 3): a misbehaving loopback upstream, a silent DNS resolver, a
# broken blocklist feed, a read-only state dir, a SIEM receiver that is down then back, a full
# audit disk (tmpfs mounted by the test; root only, skipped otherwise) and kill -9 under load.
# The fault table (fault → observed behaviour → data lost) is tests/faults/README.md.
if(TARGET sallyport)
  set(_sp_fault_env "SALLYPORT_BIN=$<TARGET_FILE:sallyport>;SALLYPORT_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
  add_test(NAME faults_upstream
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_upstream_faults.py)
  set_tests_properties(faults_upstream PROPERTIES LABELS integration TIMEOUT 180
                       ENVIRONMENT "${_sp_fault_env}")
  foreach(_case dns_timeout blocklist_feed_faults state_dir_readonly siem_down_then_back
                audit_disk_full kill9_under_load)
    add_test(NAME faults_${_case}
             COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_infra_faults.py ${_case})
    set_tests_properties(faults_${_case} PROPERTIES LABELS integration TIMEOUT 180
                         SKIP_RETURN_CODE 77 ENVIRONMENT "${_sp_fault_env}")
  endforeach()
endif()
