# Inference gateway added latency vs a direct call to a mock provider (p50/p99, json and stream,
# 1/16/64 clients) and gateway RSS. Run: build/<dir>/sallyport_gateway_bench <gateway binary>
# (bench/gateway_bench.sh picks the binary).
add_executable(sallyport_gateway_bench ${CMAKE_CURRENT_LIST_DIR}/gateway_bench.cpp)
target_link_libraries(sallyport_gateway_bench PRIVATE sallyport_warnings Threads::Threads)
set_target_properties(sallyport_gateway_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR})
