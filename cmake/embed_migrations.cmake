# Writes OUT (a .cc file) holding every migrations/NNNN_name.sql as a string,
# so the coordinator applies its schema without reading files at run time.
# Usage: cmake -DMIGRATIONS_DIR=... -DOUT=... -P embed_migrations.cmake
file(GLOB files "${MIGRATIONS_DIR}/[0-9][0-9][0-9][0-9]_*.sql")
list(SORT files)
set(body "// Generated from migrations/*.sql by cmake/embed_migrations.cmake. Do not edit.\n")
string(APPEND body "#include \"server/store/migrations.h\"\n\nnamespace ladder::store {\n")
string(APPEND body "const std::vector<Migration>& EmbeddedMigrations() {\n")
string(APPEND body "  static const auto* m = new std::vector<Migration>{\n")
foreach(f ${files})
  get_filename_component(name "${f}" NAME_WE)
  string(SUBSTRING "${name}" 0 4 num)
  math(EXPR version "${num}")
  file(READ "${f}" sql)
  string(APPEND body "    {${version}, \"${name}\", R\"ladder_sql(${sql})ladder_sql\"},\n")
endforeach()
string(APPEND body "  };\n  return *m;\n}\n}  // namespace ladder::store\n")
file(WRITE "${OUT}.tmp" "${body}")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUT}.tmp" "${OUT}")
