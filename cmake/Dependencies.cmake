# Every dependency comes from a Debian 12 package (see scripts/install-deps). Some packages ship
# broken or no CMake configs; those are found through pkg-config or find_library instead.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(nlohmann_json 3.11 CONFIG REQUIRED)
find_package(yaml-cpp CONFIG REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(fmt CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)
find_package(ZLIB REQUIRED)
find_package(OpenSSL REQUIRED)

# The httplib shared library is built with OpenSSL, zlib and brotli; the pkg-config target
# carries the matching feature macros, which change class layouts.
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)

# XGBoost, for the learnt risk models. Debian's CMake config for it names a binary from another
# package, so the library is found directly and wrapped in an imported target. It brings its
# own OpenMP runtime; no -fopenmp is needed.
find_path(XGBOOST_INCLUDE_DIR xgboost/c_api.h REQUIRED)
find_library(XGBOOST_LIBRARY xgboost REQUIRED)
add_library(shadowfleet::xgboost UNKNOWN IMPORTED)
set_target_properties(shadowfleet::xgboost PROPERTIES
  IMPORTED_LOCATION ${XGBOOST_LIBRARY}
  INTERFACE_INCLUDE_DIRECTORIES ${XGBOOST_INCLUDE_DIR})

if(SHADOWFLEET_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
endif()
if(SHADOWFLEET_BUILD_BENCHMARKS)
  find_package(benchmark CONFIG REQUIRED)
endif()
