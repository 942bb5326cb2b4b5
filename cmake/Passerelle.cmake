# One helper per target kind, so each module's CMakeLists.txt reads as its dependency list.

# passerelle_library(NAME SRCS ... DEPS ... [PRIVATE_DEPS ...]): the static library
# passerelle_NAME. PRIVATE_DEPS are libraries only its .cc files include.
function(passerelle_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(passerelle_${name} STATIC ${ARG_SRCS})
  target_include_directories(passerelle_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(passerelle_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

# passerelle_test(NAME SRCS ... DEPS ...): one GoogleTest binary per module, registered with ctest.
function(passerelle_test name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    PASSERELLE_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    PASSERELLE_BINARY="$<TARGET_FILE:passerelle>")
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 600)
endfunction()
