# Kernel guard integration tests (root; never skipped: they fail loudly when not root).
# The binary under test: the real `sallyport` once router/main.cpp wires register_bpf_cli (until
# then its `bpf` commands are placeholders), else the bpf dev driver.
# Override at run time with SALLYPORT_BIN=/path/to/binary.
set(SALLYPORT_MAIN_HAS_BPF FALSE)
if(TARGET sallyport AND EXISTS ${PROJECT_SOURCE_DIR}/router/main.cpp)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/router/main.cpp)
  file(READ ${PROJECT_SOURCE_DIR}/router/main.cpp SALLYPORT_MAIN_SOURCE)
  string(FIND "${SALLYPORT_MAIN_SOURCE}" "register_bpf_cli" SALLYPORT_MAIN_BPF_AT)
  if(NOT SALLYPORT_MAIN_BPF_AT EQUAL -1)
    set(SALLYPORT_MAIN_HAS_BPF TRUE)
  endif()
endif()
if(SALLYPORT_MAIN_HAS_BPF)
  set(SALLYPORT_BPF_TEST_BIN $<TARGET_FILE:sallyport>)
elseif(TARGET sallyport-bpf-dev)
  set(SALLYPORT_BPF_TEST_BIN $<TARGET_FILE:sallyport-bpf-dev>)
endif()
if(DEFINED SALLYPORT_BPF_TEST_BIN)
  add_test(NAME bpf_guard_podsim
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/guard_test.sh)
  set_tests_properties(bpf_guard_podsim PROPERTIES LABELS "integration;root" TIMEOUT 240
    ENVIRONMENT "SALLYPORT_BIN=${SALLYPORT_BPF_TEST_BIN}" RUN_SERIAL TRUE)
endif()
