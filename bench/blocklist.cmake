# Blocklist benchmarks: OISD big list load time, RSS after load, lookups/s vs a naive baseline.
# Included from bench/CMakeLists.txt (which already checks SALLYPORT_BUILD_BENCH).
if(TARGET sallyport_blocklist)
  add_executable(blocklist_bench ${CMAKE_CURRENT_LIST_DIR}/blocklist_bench.cpp)
  target_link_libraries(blocklist_bench PRIVATE sallyport_blocklist sallyport_warnings
                        benchmark::benchmark)
  target_compile_definitions(blocklist_bench PRIVATE
    SALLYPORT_SHARED_DATA="${SALLYPORT_SHARED_DATA}")
endif()
