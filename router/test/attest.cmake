# `sallyport attest` facts: blocklist digest, audit head, tool policy and config digests.
# attest_facts.cpp needs no Beast, so the test builds it directly instead of the router library.
sallyport_add_test(attest_facts_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/attest_facts_test.cpp ${PROJECT_SOURCE_DIR}/router/attest_facts.cpp
  LIBS sallyport_config sallyport_blocklist sallyport_governance sallyport_bpf)
target_compile_definitions(attest_facts_test PRIVATE SALLYPORT_VERSION="${PROJECT_VERSION}")
