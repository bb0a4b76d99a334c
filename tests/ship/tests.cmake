# Ship it (issue 11): the container image, the Kubernetes sidecar manifests, the Prometheus rules
# and the Grafana dashboard. Python unittest scripts; the checks that need the binary (ldd of the
# image's libraries, HEALTHCHECK, check-config, live /metrics) get it through SALLYPORT_BIN and
# skip without it. The Kubernetes schema check uses tests/ship/node_modules (npm ci in
# tests/ship) and skips when it is not installed.
set(SALLYPORT_SHIP_ENV "SALLYPORT_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
if(TARGET sallyport)
  list(APPEND SALLYPORT_SHIP_ENV "SALLYPORT_BIN=$<TARGET_FILE:sallyport>")
endif()

foreach(part dockerfile k8s observability)
  add_test(NAME ship_${part}
    COMMAND /usr/bin/python3 ${SALLYPORT_TESTS_DIR}/ship/test_${part}.py)
  set_tests_properties(ship_${part} PROPERTIES LABELS integration TIMEOUT 600
    ENVIRONMENT "${SALLYPORT_SHIP_ENV}")
endforeach()
