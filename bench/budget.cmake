# Budget ledger throughput: reserve+settle round trips per second, in memory and with the
# journal (write-only and fsync per record), from 1, 2 and 4 threads sharing one ledger.
if(SALLYPORT_BUILD_BENCH AND TARGET sallyport_governance)
  add_executable(budget_bench ${CMAKE_CURRENT_LIST_DIR}/budget_bench.cpp)
  target_link_libraries(budget_bench PRIVATE sallyport_governance sallyport_warnings
    benchmark::benchmark)
endif()
