# mphub_cxx_bindings(): C++ bindings to mphub's Rust runtime for your own
# libmultiprocess-annotated .capnp files, as an imported static library target.
#
#   find_package(mphub-cxx CONFIG REQUIRED)
#   mphub_cxx_bindings(
#     TARGET calc_bindings                 # the library target to link
#     SCHEMAS schema/calc.capnp            # files to generate (with their imports)
#     IMPORT_PATHS schema                  # where `import "/x.capnp"` looks (first: the root)
#     NAMESPACE calc::cxx                  # C++ namespace of the API (RemoteX, XCap, serve, ...)
#     GENERATE_TYPES                       # no header for the $Proxy.wrap names: generate them
#     [TYPES_NAMESPACE calc]               # one namespace for the generated types
#     [INCLUDE_DIRS include]               # or: where the $Proxy.include headers are
#     [HEADER calc])                       # header name: <mphub/cxx/calc.h> (default: first schema's stem)
#
# It writes a small cargo crate into the build folder (a staticlib whose build.rs runs
# mphub-cxx-build), builds it with cargo when the schemas change, and imports its
# library and headers. The crate uses the mphub sources and cargo target folder this
# package was exported from (MPHUB_CXX_SOURCE_DIR, MPHUB_CXX_TARGET_DIR) and their
# Cargo.lock, offline, so no dependency is fetched and built dependencies are reused.
include_guard(GLOBAL)

find_program(MPHUB_CXX_CARGO cargo HINTS "$ENV{CARGO_HOME}/bin" "$ENV{HOME}/.cargo/bin")

function(mphub_cxx_bindings)
  cmake_parse_arguments(ARG "GENERATE_TYPES" "TARGET;NAMESPACE;TYPES_NAMESPACE;HEADER"
                        "SCHEMAS;IMPORT_PATHS;INCLUDE_DIRS" ${ARGN})
  if(NOT ARG_TARGET)
    message(FATAL_ERROR "mphub_cxx_bindings: TARGET is required")
  endif()
  if(NOT ARG_SCHEMAS)
    message(FATAL_ERROR "mphub_cxx_bindings(${ARG_TARGET}): SCHEMAS is required")
  endif()
  if(NOT MPHUB_CXX_CARGO)
    message(FATAL_ERROR "mphub_cxx_bindings(${ARG_TARGET}): cargo not found (install Rust, or set MPHUB_CXX_CARGO)")
  endif()

  # Absolute paths: the crate's build.rs runs in another folder.
  set(schemas "")
  foreach(s IN LISTS ARG_SCHEMAS)
    get_filename_component(abs "${s}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    list(APPEND schemas "${abs}")
  endforeach()
  set(imports "")
  foreach(d IN LISTS ARG_IMPORT_PATHS)
    get_filename_component(abs "${d}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    list(APPEND imports "${abs}")
  endforeach()
  if(NOT imports)
    list(GET schemas 0 first)
    get_filename_component(root "${first}" DIRECTORY)
    list(APPEND imports "${root}")
  endif()
  list(GET imports 0 root)
  list(REMOVE_AT imports 0)

  string(MAKE_C_IDENTIFIER "${ARG_TARGET}" ident)
  string(TOLOWER "${ident}" ident)
  set(crate "mphub_bindings_${ident}")
  set(crate_dir "${CMAKE_CURRENT_BINARY_DIR}/${crate}")

  # build.rs: one mphub_cxx_build::Bindings call.
  set(calls "")
  foreach(s IN LISTS schemas)
    string(APPEND calls "        .file(r#\"${s}\"#)\n")
  endforeach()
  foreach(d IN LISTS imports)
    string(APPEND calls "        .import_path(r#\"${d}\"#)\n")
  endforeach()
  foreach(d IN LISTS ARG_INCLUDE_DIRS)
    get_filename_component(abs "${d}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    string(APPEND calls "        .include(r#\"${abs}\"#)\n")
  endforeach()
  if(ARG_NAMESPACE)
    string(APPEND calls "        .cpp_namespace(\"${ARG_NAMESPACE}\")\n")
  endif()
  if(ARG_HEADER)
    string(APPEND calls "        .stem(\"${ARG_HEADER}\")\n")
  endif()
  if(ARG_GENERATE_TYPES)
    if(ARG_TYPES_NAMESPACE)
      string(APPEND calls "        .generate_types(Some(\"${ARG_TYPES_NAMESPACE}\"))\n")
    else()
      string(APPEND calls "        .generate_types(None)\n")
    endif()
  endif()
  set(MPHUB_BINDINGS_CRATE "${crate}")
  set(MPHUB_BINDINGS_ROOT "${root}")
  set(MPHUB_BINDINGS_CALLS "${calls}")
  configure_file("${MPHUB_CXX_CMAKE_DIR}/bindings/Cargo.toml.in" "${crate_dir}/Cargo.toml" @ONLY)
  configure_file("${MPHUB_CXX_CMAKE_DIR}/bindings/build.rs.in" "${crate_dir}/build.rs" @ONLY)
  configure_file("${MPHUB_CXX_CMAKE_DIR}/bindings/lib.rs.in" "${crate_dir}/src/lib.rs" COPYONLY)
  # The same versions as the mphub build the package came from.
  configure_file("${MPHUB_CXX_SOURCE_DIR}/Cargo.lock" "${crate_dir}/Cargo.lock" COPYONLY)

  set(profile_dir "${MPHUB_CXX_TARGET_DIR}/${MPHUB_CXX_PROFILE}")
  set(lib "${profile_dir}/lib${crate}.a")
  set(include "${profile_dir}/${crate}/include")
  set(release_flag "")
  if(MPHUB_CXX_PROFILE STREQUAL "release")
    set(release_flag "--release")
  endif()
  file(MAKE_DIRECTORY "${include}")
  add_custom_command(
    OUTPUT "${lib}"
    COMMAND ${CMAKE_COMMAND} -E env "CARGO_TARGET_DIR=${MPHUB_CXX_TARGET_DIR}"
            "${MPHUB_CXX_CARGO}" build --offline --lib ${release_flag}
            --manifest-path "${crate_dir}/Cargo.toml"
    DEPENDS ${schemas} "${crate_dir}/Cargo.toml" "${crate_dir}/build.rs"
    COMMENT "mphub-cxx: generating and building C++ bindings ${ARG_TARGET}"
    USES_TERMINAL
    VERBATIM)
  add_custom_target(${ARG_TARGET}_cargo DEPENDS "${lib}")

  find_package(Threads REQUIRED)
  add_library(${ARG_TARGET} STATIC IMPORTED GLOBAL)
  set_target_properties(${ARG_TARGET} PROPERTIES
    IMPORTED_LOCATION "${lib}"
    INTERFACE_INCLUDE_DIRECTORIES "${include}"
    INTERFACE_COMPILE_FEATURES cxx_std_17
    INTERFACE_LINK_LIBRARIES "Threads::Threads;${CMAKE_DL_LIBS};m;rt;util")
  add_dependencies(${ARG_TARGET} ${ARG_TARGET}_cargo)
endfunction()
