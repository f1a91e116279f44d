# Script mode (cmake -P): fails when a tool reaches past the public API. Every C/C++ file under
# TOOLS may include the public headers (porta/...), the installed plugin SDK (porta/sdk/...), the
# tools' own files (tools/...), system and third-party headers; never a file of hal/, backends/,
# kernels/, conformance/, tests/ or samples/, nor a path with "..". Every CMakeLists.txt under
# TOOLS may link Porta::backend_sdk, never a backend's own target (porta_backend_<name>,
# porta_plugin_<name>) nor a folder of hal/ or backends/.
set(internal "(hal|backends|kernels|conformance|tests|samples)/")
set(problems "")
file(GLOB_RECURSE sources ${TOOLS}/*.c ${TOOLS}/*.cc ${TOOLS}/*.cpp ${TOOLS}/*.h ${TOOLS}/*.hpp)
foreach(file IN LISTS sources)
  file(STRINGS ${file} includes REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<]")
  foreach(line IN LISTS includes)
    if(line MATCHES "[\"<]${internal}" OR line MATCHES "[\"<][^\">]*\\.\\./")
      string(STRIP "${line}" line)
      list(APPEND problems "${file}: ${line}")
    endif()
  endforeach()
endforeach()
file(GLOB_RECURSE lists ${TOOLS}/CMakeLists.txt)
foreach(file IN LISTS lists)
  file(STRINGS ${file} lines)
  foreach(line IN LISTS lines)
    string(REGEX REPLACE "#.*" "" code "${line}")
    string(REGEX MATCHALL "porta_(backend|plugin)_[A-Za-z0-9_\${}]+" targets "${code}")
    list(REMOVE_ITEM targets porta_backend_sdk)
    if(targets OR code MATCHES "(PROJECT_SOURCE_DIR|CMAKE_SOURCE_DIR)}/${internal}")
      string(STRIP "${line}" line)
      list(APPEND problems "${file}: ${line}")
    endif()
  endforeach()
endforeach()
if(problems)
  list(JOIN problems "\n  " text)
  message(FATAL_ERROR "tools reach past the public headers and the installed SDK:\n  ${text}")
endif()
list(LENGTH sources source_count)
list(LENGTH lists list_count)
message(STATUS "${source_count} sources and ${list_count} CMakeLists.txt under ${TOOLS} use the "
               "public headers and the installed SDK only")
