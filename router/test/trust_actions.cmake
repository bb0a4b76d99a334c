# Trust actions in the router: kernel quarantine flag on tier changes (issue 7).
sallyport_add_test(trust_actions_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/trust_actions_test.cpp
  LIBS sallyport_router)
