# Inference gateway unit tests: routing, key injection, SSE relay.
sallyport_add_test(gateway_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/gateway_routes_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/gateway_sse_relay_test.cpp
  LIBS sallyport_router)
