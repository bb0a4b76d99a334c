# Load and soak (issue 10 item 4), short bounded versions: 2,000 idle CONNECT tunnels (RSS per
# tunnel, fds released), slowloris + slow-read clients dropped on time while a normal client is
# served, and a 60 s mixed soak (tunnels + gateway streams + audit) failing on RSS/fd growth.
# The full run (10,000 tunnels, 10 minutes) is bench/soak_run.sh.
if(TARGET sallyport)
  set(_sp_soak_env "SALLYPORT_BIN=$<TARGET_FILE:sallyport>;SALLYPORT_SOURCE_DIR=${PROJECT_SOURCE_DIR};SOAK_HOLD_SECONDS=5")
  add_test(NAME soak_tunnels_2000 COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/soak.py tunnels 2000)
  add_test(NAME soak_slow_clients COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/soak.py slow)
  add_test(NAME soak_mixed_60s COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/soak.py mixed 60)
  set_tests_properties(soak_tunnels_2000 soak_slow_clients PROPERTIES LABELS integration TIMEOUT 180
                       ENVIRONMENT "${_sp_soak_env}")
  set_tests_properties(soak_mixed_60s PROPERTIES LABELS integration TIMEOUT 240
                       ENVIRONMENT "${_sp_soak_env}")
endif()
