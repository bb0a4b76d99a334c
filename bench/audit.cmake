# Audit log benchmarks (appends/s with group commit and per-record fsync, verify records/s).
if(TARGET sallyport_governance)
  add_executable(audit_bench ${CMAKE_CURRENT_LIST_DIR}/audit_bench.cpp)
  target_link_libraries(audit_bench PRIVATE sallyport_governance sallyport_warnings benchmark::benchmark)
endif()
