# Module doors (issue 14): the product links door libraries in which only the module's prefixed
# names stay global (CMakeLists.txt hearth_module); this holds every door to that.
find_program(HEARTH_NM nm REQUIRED)
set(door_args)
foreach(m base engine embed completion index lsp models runtime serve)
  list(APPEND door_args $<TARGET_FILE:hearth_${m}>:${m}_)
endforeach()
add_test(NAME module_doors COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/check_doors.sh ${HEARTH_NM}
  ${door_args})
