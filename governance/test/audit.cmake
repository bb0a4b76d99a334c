# Audit chain, identity, verifier and SIEM sink unit tests (included by governance/CMakeLists.txt).
sallyport_add_test(governance_audit_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test/audit_canonical_test.cpp
          ${CMAKE_CURRENT_SOURCE_DIR}/test/identity_test.cpp
          ${CMAKE_CURRENT_SOURCE_DIR}/test/audit_chain_test.cpp
          ${CMAKE_CURRENT_SOURCE_DIR}/test/audit_verify_test.cpp
          ${CMAKE_CURRENT_SOURCE_DIR}/test/siem_sink_test.cpp
  LIBS sallyport_governance)
