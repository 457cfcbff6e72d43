# Copied by ../CMakeLists.txt into the staging source tree (build dir) next to
# mphub/test/test.capnp; see the comment there for why.
add_library(mphub_test_proxies STATIC)
target_capnp_sources(mphub_test_proxies "${CMAKE_CURRENT_SOURCE_DIR}" mphub/test/test.capnp
  IMPORT_PATHS "${MPHUB_MP_INCLUDE_DIR}")
target_include_directories(mphub_test_proxies PUBLIC "${MPHUB_CPP_INCLUDE_DIR}")
target_link_libraries(mphub_test_proxies PUBLIC Libmultiprocess::multiprocess Threads::Threads)
