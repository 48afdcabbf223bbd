# Module doors (issue 14): the product links door libraries in which only the functions a
# module's header declares stay global (CMakeLists.txt hearth_module), and no module defines a
# global name without its prefix; this holds every module to both.
find_program(HEARTH_NM nm REQUIRED)
set(door_args)
foreach(m base engine embed grammar completion index lsp models runtime serve)
  list(APPEND door_args $<TARGET_FILE:hearth_${m}>:${m}_)
  if(NOT m STREQUAL "engine")
    list(APPEND door_args $<TARGET_FILE:hearth_${m}_private>:${m}_)
  endif()
endforeach()
# engine/'s private pieces, named after their files
list(APPEND door_args "$<TARGET_FILE:hearth_engine_private>:engine_,act_,attn_,attend_,batch_,bpe_,ctx_,float_,forward_,gemm_,gguf_,legacy_,model_,op_,pretok_,quant_,quantize_,spm_,threadpool_,tok_,tokenizer_,ucd_,utf8_stream_,vec_dot_,wpm_")
add_test(NAME module_doors COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/check_doors.sh ${HEARTH_NM}
  ${door_args})
