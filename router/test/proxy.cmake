# Forward proxy tests, linked against the router library (the proxy is part of it).
add_library(sallyport_proxy_test_support STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/proxy_test_support.cpp)
target_link_libraries(sallyport_proxy_test_support PUBLIC sallyport_router
  sallyport_warnings GTest::gtest)
target_compile_definitions(sallyport_proxy_test_support PUBLIC
  SALLYPORT_PROXY_TEST_DIR="${CMAKE_CURRENT_SOURCE_DIR}")

# Pure parsers: request checks, ClientHello peek, DNS wire format.
sallyport_add_test(proxy_parsing_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/proxy_request_test.cpp
          ${CMAKE_CURRENT_SOURCE_DIR}/tls_peek_test.cpp
          ${CMAKE_CURRENT_SOURCE_DIR}/dns_client_test.cpp
  LIBS sallyport_proxy_test_support)

# The proxy on port 0 with loopback upstreams, driven by curl and raw sockets.
add_executable(forward_proxy_test ${CMAKE_CURRENT_SOURCE_DIR}/forward_proxy_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/forward_proxy_limits_test.cpp)
target_link_libraries(forward_proxy_test PRIVATE sallyport_proxy_test_support sallyport_warnings
  GTest::gtest GTest::gtest_main)
gtest_discover_tests(forward_proxy_test PROPERTIES LABELS integration TIMEOUT 120
  DISCOVERY_TIMEOUT 60)

# The same proxy with the real blocklist policy, once blocklist/ is part of the build.
if(TARGET sallyport_blocklist)
  add_executable(forward_proxy_real_policy_test
    ${CMAKE_CURRENT_SOURCE_DIR}/forward_proxy_real_policy_test.cpp)
  target_link_libraries(forward_proxy_real_policy_test PRIVATE sallyport_proxy_test_support
    sallyport_blocklist sallyport_warnings GTest::gtest GTest::gtest_main)
  gtest_discover_tests(forward_proxy_real_policy_test PROPERTIES LABELS integration TIMEOUT 120
    DISCOVERY_TIMEOUT 60)
endif()
