# `sallyport demo` end to end (issue 11 item 3): the embedded rogue-agent replay must stop every
# attack and exit 0; the script must also notice when an attack is NOT stopped (exit non-zero).
# Root; never skipped: demo_test.sh fails loudly when not root (CI runs it as root).
if(TARGET sallyport)
  add_test(NAME demo_rogue_agent
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/demo_test.sh $<TARGET_FILE:sallyport>)
  set_tests_properties(demo_rogue_agent PROPERTIES LABELS "integration;root" TIMEOUT 300
    RUN_SERIAL TRUE ENVIRONMENT "SALLYPORT_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endif()
