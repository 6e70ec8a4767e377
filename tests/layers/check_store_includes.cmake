# The layering rule of issue 10: no file under server/store includes a header
# from server/ outside server/store/ (nor anything else of the project above
# it); it may include server/store/, common/, the generated ladder/v1/ (proto)
# and system or third-party headers (<...>).
#
#   cmake -DSTORE_DIR=<dir> -P check_store_includes.cmake
#
# Fails naming every file:line that breaks the rule.
if(NOT STORE_DIR)
  message(FATAL_ERROR "STORE_DIR is not set")
endif()
file(GLOB files "${STORE_DIR}/*.h" "${STORE_DIR}/*.cc")
if(NOT files)
  message(FATAL_ERROR "no .h or .cc files in ${STORE_DIR}")
endif()
set(violations "")
foreach(f IN LISTS files)
  file(STRINGS "${f}" lines REGEX "^[ \t]*#[ \t]*include")
  foreach(line IN LISTS lines)
    if(line MATCHES "^[ \t]*#[ \t]*include[ \t]*\"([^\"]+)\"")
      set(inc "${CMAKE_MATCH_1}")
    elseif(line MATCHES "^[ \t]*#[ \t]*include[ \t]*<((server|worker|client|tests|bench|common)/[^>]+)>")
      set(inc "${CMAKE_MATCH_1}")
    else()
      continue()
    endif()
    if(NOT inc MATCHES "^(server/store/|common/|ladder/v1/)")
      get_filename_component(name "${f}" NAME)
      list(APPEND violations "${name}: #include \"${inc}\"")
    endif()
  endforeach()
endforeach()
if(violations)
  list(JOIN violations "\n  " shown)
  message(FATAL_ERROR "server/store may include only server/store/, common/ and ladder/v1/ "
                      "(proto) headers; found:\n  ${shown}")
endif()
list(LENGTH files n)
message(STATUS "store layering: ${n} files include nothing above server/store")
