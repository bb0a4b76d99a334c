# State backend (issue 12): the local adapter, the Redis backend over a fake command sink, and
# the Lua-free parts (keys, reply decoding). Included from governance/CMakeLists.txt.
sallyport_add_test(governance_state_backend_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test/state_backend_test.cpp
  LIBS sallyport_governance)
# Fleet trust scores and approval records: reply decoding and replication over a fake sink.
sallyport_add_test(governance_fleet_sync_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test/fleet_sync_test.cpp
  LIBS sallyport_governance)
