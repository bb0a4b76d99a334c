# Forward proxy benchmark: bench/proxy_bench.sh runs sallyport (via proxy_bench_driver), squid
# and tinyproxy side by side on loopback, with proxy_load as the client and a direct floor.
add_executable(proxy_load ${CMAKE_CURRENT_LIST_DIR}/proxy_load.cpp)
target_link_libraries(proxy_load PRIVATE sallyport_warnings Threads::Threads)

if(TARGET sallyport_router)
  add_executable(proxy_bench_driver ${CMAKE_CURRENT_LIST_DIR}/proxy_bench_driver.cpp)
  target_link_libraries(proxy_bench_driver PRIVATE sallyport_router sallyport_warnings)
endif()
