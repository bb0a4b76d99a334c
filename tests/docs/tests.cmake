# Docs stay true to the code: the generated configuration reference matches config/schema.json,
# and every tagged config / policy example in docs/ and README.md passes the real checker.
add_test(NAME docs_config_reference_up_to_date
         COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/docs/gen_config_reference.py --check)
set_tests_properties(docs_config_reference_up_to_date PROPERTIES LABELS unit TIMEOUT 30)

if(TARGET sallyport)
  add_test(NAME docs_snippets_pass_checkers
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/check_snippets.py
                   $<TARGET_FILE:sallyport> ${PROJECT_SOURCE_DIR})
  set_tests_properties(docs_snippets_pass_checkers PROPERTIES LABELS integration TIMEOUT 120)
endif()

add_test(NAME docs_metrics_reference_complete
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/check_metrics_documented.py ${PROJECT_SOURCE_DIR})
set_tests_properties(docs_metrics_reference_complete PROPERTIES LABELS unit TIMEOUT 30)
