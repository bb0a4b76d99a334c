# Attestation statements (sallyport attest, /admin/attest): shape, signing, verification.
sallyport_add_test(governance_attestation_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test/attestation_test.cpp
  LIBS sallyport_governance)
