# Redis client (issue 12): URL parsing, pipelining, deadlines, reconnect, against a scripted
# fake server on loopback (the real redis-server runs in tests/fleet/).
sallyport_add_test(redis_client_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/redis_client_test.cpp
  LIBS sallyport_router)
