# Script mode (cmake -P), run by porta_compile_kernel (PortaKernels.cmake): compiles one GLSL
# compute kernel to SPIR-V whose entry point is named after the kernel. glslc always names the
# entry point "main" (its -fentry-point applies to HLSL only), so the module is disassembled, the
# entry point (and its debug name) renamed, reassembled and validated.
#
# Inputs: GLSLC, SPIRV_DIS, SPIRV_AS, SPIRV_VAL (tool paths), SOURCE (.comp), ENTRY (kernel
# name), OUTPUT (.spv to write), OPTIONS (further glslc options such as -D and -I, joined with
# '|'; may be empty).
foreach(var GLSLC SPIRV_DIS SPIRV_AS SPIRV_VAL SOURCE ENTRY OUTPUT)
  if(NOT ${var})
    message(FATAL_ERROR "PortaCompileGlsl.cmake: ${var} is not set")
  endif()
endforeach()

# Vulkan 1.0 SPIR-V (version 1.0) runs on every Vulkan 1.2 device Porta accepts. A kernel using
# subgroup operations (GL_KHR_shader_subgroup_*) needs SPIR-V 1.3, that is Vulkan 1.1, which those
# devices take as well.
set(target_env vulkan1.0)
file(STRINGS "${SOURCE}" subgroup_lines REGEX "^#extension GL_KHR_shader_subgroup")
if(subgroup_lines)
  set(target_env vulkan1.1)
endif()
set(stage "${OUTPUT}.stage")

function(run_tool what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "${what} failed for ${SOURCE}:\n${out}${err}")
  endif()
endfunction()

string(REPLACE "|" ";" options "${OPTIONS}")
run_tool(glslc ${GLSLC} --target-env=${target_env} -O ${options} "${SOURCE}" -o "${stage}.main.spv")
run_tool(spirv-dis ${SPIRV_DIS} "${stage}.main.spv" -o "${stage}.main.spvasm")
file(READ "${stage}.main.spvasm" assembly)
string(REGEX REPLACE "OpEntryPoint GLCompute (%[A-Za-z0-9_]+) \"main\""
                     "OpEntryPoint GLCompute \\1 \"${ENTRY}\"" renamed "${assembly}")
if(renamed STREQUAL assembly)
  message(FATAL_ERROR "${SOURCE}: no GLCompute entry point named \"main\" to rename")
endif()
string(REGEX REPLACE "OpName (%[A-Za-z0-9_]+) \"main\"" "OpName \\1 \"${ENTRY}\"" renamed
                     "${renamed}")
file(WRITE "${stage}.spvasm" "${renamed}")
run_tool(spirv-as ${SPIRV_AS} --target-env ${target_env} "${stage}.spvasm" -o "${stage}.spv")
run_tool(spirv-val ${SPIRV_VAL} --target-env ${target_env} "${stage}.spv")
file(REMOVE "${stage}.main.spv" "${stage}.main.spvasm" "${stage}.spvasm")
file(RENAME "${stage}.spv" "${OUTPUT}")
