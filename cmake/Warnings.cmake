# Compiler warnings for the project's own targets only.
add_library(shadowfleet_warnings INTERFACE)
target_compile_options(shadowfleet_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual
  -Wno-missing-field-initializers)
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  # Makes the ABSL_GUARDED_BY / ABSL_EXCLUSIVE_LOCKS_REQUIRED annotations checkable.
  target_compile_options(shadowfleet_warnings INTERFACE -Wthread-safety)
endif()
if(SHADOWFLEET_WERROR)
  target_compile_options(shadowfleet_warnings INTERFACE -Werror)
endif()

# Declares a component library: shadowfleet_component(NAME SOURCES ... DEPS ...).
function(shadowfleet_component name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(sf_${name} STATIC ${ARG_SOURCES})
  target_include_directories(sf_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(sf_${name} PUBLIC ${ARG_DEPS} PRIVATE shadowfleet_warnings)
endfunction()
