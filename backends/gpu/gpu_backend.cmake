# porta_add_gpu_backend(NAME <name> API <type> API_HEADER <header> SOURCES <files...>
#                       INCLUDES <dirs...> [DEFINITIONS <definitions...>])
#
# A backend on the GPU layer (backends/gpu/, see gpu_api.h): porta_add_backend of the vendor's
# <SOURCES> (its table, loader and API map) plus the layer's sources, which are templates over the
# vendor's map and are compiled here for it: PORTA_GPU_API names the map's type (porta::cuda::Api)
# and PORTA_GPU_API_HEADER the header that declares it. <INCLUDES> are the vendor's header folders
# (SYSTEM: the vendor headers are not held to Porta's warning flags); <DEFINITIONS> what those
# headers need.
function(porta_add_gpu_backend)
  cmake_parse_arguments(ARG "" "NAME;API;API_HEADER" "SOURCES;INCLUDES;DEFINITIONS" ${ARGN})
  set(layer ${CMAKE_CURRENT_FUNCTION_LIST_DIR})
  porta_add_backend(NAME ${ARG_NAME} SOURCES ${ARG_SOURCES}
    ${layer}/gpu_device.cpp ${layer}/gpu_memory.cpp ${layer}/gpu_stream.cpp
    ${layer}/gpu_module.cpp ${layer}/gpu_graph.cpp)
  target_compile_definitions(porta_backend_${ARG_NAME} PRIVATE ${ARG_DEFINITIONS}
    PORTA_GPU_API=${ARG_API} "PORTA_GPU_API_HEADER=\"${ARG_API_HEADER}\"")
  target_include_directories(porta_backend_${ARG_NAME} SYSTEM PRIVATE ${ARG_INCLUDES})
endfunction()
