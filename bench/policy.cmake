# Tool policy evaluation (calls/s for a realistic rule set, with and without args regexes) and
# the streamed tool-call filter (chunks/s for a long tool-call stream).
if(TARGET sallyport_governance)
  add_executable(policy_bench ${CMAKE_CURRENT_LIST_DIR}/policy_bench.cpp)
  target_link_libraries(policy_bench PRIVATE sallyport_governance sallyport_warnings benchmark::benchmark)
  target_compile_definitions(policy_bench PRIVATE
    SALLYPORT_POLICY_DIR="${PROJECT_SOURCE_DIR}/config/policies")
endif()
