# State backend (issue 12): admit+settle round trips and added latency, local vs Redis, same run.
# bench/fleet_bench.sh starts the loopback redis-server the Redis half needs.
if(SALLYPORT_BUILD_BENCH AND TARGET sallyport_router)
  add_executable(fleet_bench ${CMAKE_CURRENT_LIST_DIR}/fleet_bench.cpp)
  target_link_libraries(fleet_bench PRIVATE sallyport_router sallyport_warnings benchmark::benchmark)
endif()
