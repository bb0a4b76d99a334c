# Kernel guard benchmarks: syscall cost with no program vs the guard vs iptables -m owner.
# Run bench/bpf_bench.sh (root) for the side-by-side table.
if(TARGET sallyport_bpf)
  add_executable(sallyport_bpf_bench ${CMAKE_CURRENT_LIST_DIR}/bpf_guard_bench.cpp)
  target_link_libraries(sallyport_bpf_bench PRIVATE sallyport_warnings benchmark::benchmark)
  set_target_properties(sallyport_bpf_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
endif()
