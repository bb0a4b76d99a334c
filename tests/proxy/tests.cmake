# Forward proxy integration: the side-by-side bench in a short, bounded run (300 tunnels per
# proxy) as a smoke test that sallyport, squid and tinyproxy all serve CONNECT on loopback.
# The full ForwardProxy behaviour tests live in router/test (forward_proxy_test, labelled
# integration).
if(TARGET proxy_load AND TARGET proxy_bench_driver)
  add_test(NAME proxy_bench_smoke
           COMMAND ${PROJECT_SOURCE_DIR}/bench/proxy_bench.sh ${PROJECT_BINARY_DIR})
  set_tests_properties(proxy_bench_smoke PROPERTIES LABELS integration TIMEOUT 240
    ENVIRONMENT "TUNNELS=300;MAX_SECONDS=30")
endif()
