# The one place that turns kernel sources into the binary formats Porta devices accept. The CTS
# (conformance/kernels), the operator library (kernels/) and the samples all call
# porta_compile_kernel; the embedding of the results into C++ is porta_embed_files
# (PortaHelpers.cmake).
#
#   spirv-shader  GLSL compute -> Vulkan SPIR-V 1.0 (glslc), entry point renamed from "main" to
#                 ENTRY, validated (spirv-val)
#   spirv-kernel  OpenCL C 1.2 -> OpenCL-flavour SPIR-V 1.2 for Level Zero (clang-15 to spir64
#                 bitcode, llvm-spirv-15, spirv-val)
#   cubin         CUDA C++ -> fatbin with SASS for sm_75, sm_80, sm_90 and compute_75 PTX (nvcc)
#   ptx           CUDA C++ -> compute_75 PTX (nvcc). compute_75 is the oldest target CUDA 13
#                 supports, and the driver JIT-compiles PTX for any newer GPU.
#   hsaco         HIP (CUDA spelling, through a portability header) -> AMD code-object bundle
#                 (hipcc, HIP_PLATFORM=amd) for PORTA_HIP_OFFLOAD_ARCHS
#
# A missing tool skips only the formats that need it, with one message per format, unless the
# format is listed in PORTA_REQUIRE_KERNEL_FORMATS: then it is a configure error.

find_program(PORTA_GLSLC glslc)
find_program(PORTA_SPIRV_DIS spirv-dis)
find_program(PORTA_SPIRV_AS spirv-as)
find_program(PORTA_SPIRV_VAL spirv-val)
find_program(PORTA_CLANG_SPIR NAMES clang-15)
find_program(PORTA_LLVM_SPIRV NAMES llvm-spirv-15)
find_program(PORTA_NVCC nvcc
  HINTS ENV CUDA_PATH ENV CUDA_HOME
  PATHS /usr/local/cuda
  PATH_SUFFIXES bin)
find_program(PORTA_HIPCC hipcc HINTS ENV ROCM_PATH ENV HIP_PATH PATHS /opt/rocm PATH_SUFFIXES bin)

# Which tools each format needs, and the package that has them (for the skip message).
set(_porta_tools_spirv-shader PORTA_GLSLC PORTA_SPIRV_DIS PORTA_SPIRV_AS PORTA_SPIRV_VAL)
set(_porta_package_spirv-shader "glslc and spirv-tools")
set(_porta_tools_spirv-kernel PORTA_CLANG_SPIR PORTA_LLVM_SPIRV PORTA_SPIRV_VAL)
set(_porta_package_spirv-kernel "clang-15, llvm-spirv-15 and spirv-tools")
set(_porta_tools_cubin PORTA_NVCC)
set(_porta_package_cubin "a CUDA toolkit (nvcc; set CUDA_PATH)")
set(_porta_tools_ptx PORTA_NVCC)
set(_porta_package_ptx "a CUDA toolkit (nvcc; set CUDA_PATH)")
set(_porta_tools_hsaco PORTA_HIPCC)
set(_porta_package_hsaco "hipcc")

# PORTA_REQUIRE_KERNEL_FORMATS: formats that must be built. A required format whose tools are
# missing fails the configure instead of being skipped, so that a build (CI's, for one) cannot
# lose a precompiled format without anyone noticing. Empty by default: a plain build builds what
# its tools allow. kernels/CMakeLists.txt also refuses a required format PORTA_OPS_FORMATS leaves
# out.
set(PORTA_KERNEL_FORMAT_NAMES spirv-shader opencl-c spirv-kernel cubin ptx hsaco)
set(PORTA_REQUIRE_KERNEL_FORMATS "" CACHE STRING
    "Kernel formats that must be built (a list; a missing tool is then a configure error)")
foreach(format IN LISTS PORTA_REQUIRE_KERNEL_FORMATS)
  if(NOT format IN_LIST PORTA_KERNEL_FORMAT_NAMES)
    string(REPLACE ";" ", " known "${PORTA_KERNEL_FORMAT_NAMES}")
    message(FATAL_ERROR "Porta: PORTA_REQUIRE_KERNEL_FORMATS names '${format}', which is not a "
                        "kernel format (${known})")
  endif()
  # opencl-c is embedded as text: it needs no tool.
  set(missing "")
  foreach(tool IN LISTS _porta_tools_${format})
    if(NOT ${tool})
      list(APPEND missing ${tool})
    endif()
  endforeach()
  if(missing)
    string(REPLACE ";" ", " missing "${missing}")
    message(FATAL_ERROR "Porta: PORTA_REQUIRE_KERNEL_FORMATS requires ${format} kernels, but "
                        "${_porta_package_${format}} not found (${missing} NOTFOUND): install "
                        "the tools, or point those cache variables at them, or drop ${format} "
                        "from PORTA_REQUIRE_KERNEL_FORMATS")
  endif()
endforeach()

# AMD targets: the ones Debian's device libraries cover (CDNA2, CDNA3's first part, RDNA2), plus
# gfx942 (MI300) and gfx1100 (RDNA3) when the installed hipcc knows them. Probed once, cached.
if(PORTA_HIPCC AND NOT DEFINED PORTA_HIP_OFFLOAD_ARCHS)
  set(archs gfx90a gfx940 gfx1030)
  set(probe_dir ${CMAKE_BINARY_DIR}/CMakeFiles/porta_hip_probe)
  file(MAKE_DIRECTORY ${probe_dir})
  file(WRITE ${probe_dir}/probe.hip "extern \"C\" __global__ void probe(int* p) { *p = 1; }\n")
  foreach(arch IN ITEMS gfx942 gfx1100)
    execute_process(
      COMMAND ${CMAKE_COMMAND} -E env HIP_PLATFORM=amd ${PORTA_HIPCC} --genco -O2
              --offload-arch=${arch} -o ${probe_dir}/probe_${arch}.hsaco ${probe_dir}/probe.hip
      RESULT_VARIABLE result OUTPUT_QUIET ERROR_QUIET)
    if(result EQUAL 0)
      list(APPEND archs ${arch})
    else()
      message(STATUS "Porta: hipcc cannot build ${arch}; HIP kernels leave it out")
    endif()
  endforeach()
  set(PORTA_HIP_OFFLOAD_ARCHS "${archs}" CACHE STRING "AMD GPU targets of the HIP kernels")
endif()

# porta_kernel_format_available(<format> <out-var>): TRUE when the tools of <format> were found;
# otherwise FALSE, and a message (once per format) names the missing package.
function(porta_kernel_format_available format out_var)
  if(NOT DEFINED _porta_tools_${format})
    message(FATAL_ERROR "porta_kernel_format_available: unknown format '${format}'")
  endif()
  foreach(tool IN LISTS _porta_tools_${format})
    if(NOT ${tool})
      get_property(told GLOBAL PROPERTY PORTA_KERNEL_FORMAT_MISSING_${format})
      if(NOT told)
        message(STATUS "Porta: ${format} kernels are not built: ${_porta_package_${format}} "
                       "not found")
        set_property(GLOBAL PROPERTY PORTA_KERNEL_FORMAT_MISSING_${format} TRUE)
      endif()
      set(${out_var} FALSE PARENT_SCOPE)
      return()
    endif()
  endforeach()
  set(${out_var} TRUE PARENT_SCOPE)
endfunction()

# porta_compile_kernel(FORMAT <format> SOURCE <file> OUTPUT <file>
#                      [ENTRY <name>] [DEFINES <NAME=VALUE>...] [INCLUDE_DIRS <dirs>...]
#                      [FORCE_INCLUDES <files>...] [DEPENDS <files>...] [RESULT_VARIABLE <var>])
#
# Adds the custom command that builds OUTPUT from SOURCE in <format> (see the top of this file).
# ENTRY is required for spirv-shader (the name the entry point gets). DEFINES become -D options,
# INCLUDE_DIRS -I options, FORCE_INCLUDES are included before the source (spirv-kernel only, for
# headers the runtime OpenCL build prepends as text). DEPENDS lists further files whose change
# rebuilds OUTPUT. RESULT_VARIABLE is set to TRUE when the command was added, FALSE when the
# format's tools are missing (then nothing is added).
function(porta_compile_kernel)
  cmake_parse_arguments(ARG "" "FORMAT;SOURCE;OUTPUT;ENTRY;RESULT_VARIABLE"
                        "DEFINES;INCLUDE_DIRS;FORCE_INCLUDES;DEPENDS" ${ARGN})
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "porta_compile_kernel: unknown arguments ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  foreach(required FORMAT SOURCE OUTPUT)
    if(NOT ARG_${required})
      message(FATAL_ERROR "porta_compile_kernel: ${required} is required")
    endif()
  endforeach()
  porta_kernel_format_available(${ARG_FORMAT} available)
  if(ARG_RESULT_VARIABLE)
    set(${ARG_RESULT_VARIABLE} ${available} PARENT_SCOPE)
  endif()
  if(NOT available)
    return()
  endif()

  set(source ${ARG_SOURCE})
  if(NOT IS_ABSOLUTE "${source}")
    set(source ${CMAKE_CURRENT_SOURCE_DIR}/${source})
  endif()
  set(defines "")
  foreach(define IN LISTS ARG_DEFINES)
    list(APPEND defines -D${define})
  endforeach()
  set(includes "")
  foreach(dir IN LISTS ARG_INCLUDE_DIRS)
    list(APPEND includes -I${dir})
  endforeach()
  get_filename_component(name ${ARG_OUTPUT} NAME)

  if(ARG_FORMAT STREQUAL "spirv-shader")
    if(NOT ARG_ENTRY)
      message(FATAL_ERROR "porta_compile_kernel: spirv-shader needs ENTRY (${source})")
    endif()
    set(script ${PROJECT_SOURCE_DIR}/cmake/PortaCompileGlsl.cmake)
    # Lists cross into the script joined with '|' (a ';' would split the -D argument).
    string(JOIN "|" glslc_options ${defines} ${includes})
    add_custom_command(
      OUTPUT ${ARG_OUTPUT}
      COMMAND ${CMAKE_COMMAND} -DGLSLC=${PORTA_GLSLC} -DSPIRV_DIS=${PORTA_SPIRV_DIS}
              -DSPIRV_AS=${PORTA_SPIRV_AS} -DSPIRV_VAL=${PORTA_SPIRV_VAL} -DSOURCE=${source}
              -DENTRY=${ARG_ENTRY} -DOUTPUT=${ARG_OUTPUT} "-DOPTIONS=${glslc_options}"
              -P ${script}
      DEPENDS ${source} ${script} ${ARG_DEPENDS}
      COMMENT "glslc: ${name} (entry ${ARG_ENTRY})"
      VERBATIM)
  elseif(ARG_FORMAT STREQUAL "spirv-kernel")
    set(bitcode ${ARG_OUTPUT}.bc)
    set(force "")
    foreach(file IN LISTS ARG_FORCE_INCLUDES)
      list(APPEND force -include ${file})
    endforeach()
    # SPIR-V is capped at 1.2, the version OpenCL 2.2 consumes and every Level Zero driver
    # accepts (left alone, llvm-spirv-15 emits 1.4 for some no-wrap flags). No SLP vectorization:
    # llvm-spirv-15 mistranslates some of the vector code it makes (spirv-val then reports "ID has
    # not been defined"), and the device's own compiler vectorizes anyway.
    add_custom_command(
      OUTPUT ${ARG_OUTPUT}
      COMMAND ${PORTA_CLANG_SPIR} -c -target spir64 -cl-std=CL1.2 -O2 -fno-slp-vectorize -emit-llvm
              -Xclang -finclude-default-header ${defines} ${includes} ${force}
              -o ${bitcode} ${source}
      COMMAND ${PORTA_LLVM_SPIRV} --spirv-max-version=1.2 ${bitcode} -o ${ARG_OUTPUT}
      COMMAND ${PORTA_SPIRV_VAL} --target-env opencl2.1 ${ARG_OUTPUT}
      DEPENDS ${source} ${ARG_FORCE_INCLUDES} ${ARG_DEPENDS}
      BYPRODUCTS ${bitcode}
      COMMENT "clang-15 + llvm-spirv-15: ${name}"
      VERBATIM)
  elseif(ARG_FORMAT STREQUAL "cubin")
    add_custom_command(
      OUTPUT ${ARG_OUTPUT}
      COMMAND ${PORTA_NVCC} -fatbin -O3 ${defines} ${includes}
              -gencode arch=compute_75,code=sm_75
              -gencode arch=compute_80,code=sm_80
              -gencode arch=compute_90,code=sm_90
              -gencode arch=compute_75,code=compute_75
              -o ${ARG_OUTPUT} ${source}
      DEPENDS ${source} ${ARG_DEPENDS}
      COMMENT "nvcc: ${name} (sm_75, sm_80, sm_90, compute_75)"
      VERBATIM)
  elseif(ARG_FORMAT STREQUAL "ptx")
    add_custom_command(
      OUTPUT ${ARG_OUTPUT}
      COMMAND ${PORTA_NVCC} -ptx -arch=compute_75 ${defines} ${includes} -o ${ARG_OUTPUT}
              ${source}
      DEPENDS ${source} ${ARG_DEPENDS}
      COMMENT "nvcc: ${name} (PTX, compute_75)"
      VERBATIM)
  elseif(ARG_FORMAT STREQUAL "hsaco")
    set(offload "")
    foreach(arch IN LISTS PORTA_HIP_OFFLOAD_ARCHS)
      list(APPEND offload --offload-arch=${arch})
    endforeach()
    # hipcc picks the NVIDIA platform by itself when it sees a CUDA toolkit; these kernels are
    # for AMD GPUs, so the platform is set explicitly.
    add_custom_command(
      OUTPUT ${ARG_OUTPUT}
      COMMAND ${CMAKE_COMMAND} -E env HIP_PLATFORM=amd ${PORTA_HIPCC} --genco -O2 ${offload}
              ${defines} ${includes} -o ${ARG_OUTPUT} ${source}
      DEPENDS ${source} ${ARG_DEPENDS}
      COMMENT "hipcc: ${name} (${PORTA_HIP_OFFLOAD_ARCHS})"
      VERBATIM)
  endif()
endfunction()
