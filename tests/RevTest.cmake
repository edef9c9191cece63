# revive_add_test(NAME <name> COMMAND <cmd...> [TIMEOUT <s>] [LABELS <l...>] [ENV <k=v...>])
# Every test is its own process under CTest, with a timeout, so a crash or a hang in one
# cannot hide the others (as libuv's runner does).
function(revive_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT;WORKING_DIRECTORY" "COMMAND;LABELS;ENV" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 60)
  endif()
  if(NOT T_WORKING_DIRECTORY)
    set(T_WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  endif()
  add_test(NAME ${T_NAME} COMMAND ${T_COMMAND} WORKING_DIRECTORY ${T_WORKING_DIRECTORY})
  set(env
    "REVIVE_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
    "REVIVE_BUILD_DIR=${PROJECT_BINARY_DIR}"
    "REVIVE_FIXTURES=${PROJECT_SOURCE_DIR}/../shared/fixtures"
    "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:verify_asan_link_order=0"
    "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1"
    "LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/lsan.supp:print_suppressions=0"
    ${T_ENV})
  set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT} ENVIRONMENT "${env}")
  if(T_LABELS)
    set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}")
  endif()
endfunction()

# revive_add_cmocka_test(name sources... LIBS libs...): a cmocka unit test program.
function(revive_add_cmocka_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE PkgConfig::CMOCKA ${T_LIBS})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 60)
  endif()
  revive_add_test(NAME ${name} COMMAND ${name} TIMEOUT ${T_TIMEOUT} LABELS unit ${T_LABELS})
endfunction()
