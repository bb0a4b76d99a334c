# Audit integration tests: kill -9 recovery, rsyslog (TCP + TLS) and a flaky HTTP SIEM receiver.
# Everything runs on loopback; every process a test starts is killed by the script's EXIT trap.
if(TARGET sallyport_governance AND SALLYPORT_BUILD_TESTS)
  add_executable(audit_writer_driver ${CMAKE_CURRENT_LIST_DIR}/audit_writer_driver.cpp)
  target_link_libraries(audit_writer_driver PRIVATE sallyport_governance sallyport_warnings)

  add_test(NAME audit_kill9_recovery
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/kill9_test.sh $<TARGET_FILE:audit_writer_driver>)
  add_test(NAME audit_siem_http_flaky
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/http_sink_test.sh $<TARGET_FILE:audit_writer_driver>
                   ${CMAKE_CURRENT_LIST_DIR}/http_receiver.py)
  set_tests_properties(audit_kill9_recovery audit_siem_http_flaky
                       PROPERTIES LABELS integration TIMEOUT 120)

  find_program(SALLYPORT_RSYSLOGD rsyslogd PATHS /usr/sbin /sbin)
  if(SALLYPORT_RSYSLOGD)
    add_test(NAME audit_siem_rsyslog_tcp_tls
             COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/rsyslog_test.sh $<TARGET_FILE:audit_writer_driver>)
    set_tests_properties(audit_siem_rsyslog_tcp_tls PROPERTIES LABELS integration TIMEOUT 180)
  else()
    message(STATUS "rsyslogd not found: audit_siem_rsyslog_tcp_tls is not registered")
  endif()
endif()
