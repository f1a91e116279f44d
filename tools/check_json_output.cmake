# Script mode (cmake -P): runs TOOL with ARGS (comma-separated, since a list would not survive
# the command line) and fails unless it exits 0 and its stdout is one valid JSON document
# (checked by PYTHON's json module, which rejects anything malformed).
string(REPLACE "," ";" args "${ARGS}")
execute_process(COMMAND ${TOOL} ${args} RESULT_VARIABLE result OUTPUT_VARIABLE output)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${TOOL} ${ARGS} exited with ${result}")
endif()
string(RANDOM LENGTH 12 suffix)
set(file "${CMAKE_CURRENT_BINARY_DIR}/json_output_${suffix}.json")
file(WRITE "${file}" "${output}")
execute_process(COMMAND ${PYTHON} -c "import json,sys; json.load(open(sys.argv[1], encoding='utf-8'))" "${file}"
                RESULT_VARIABLE parse_result ERROR_VARIABLE parse_error)
file(REMOVE "${file}")
if(NOT parse_result EQUAL 0)
  message(FATAL_ERROR "output of ${TOOL} is not valid JSON: ${parse_error}\n${output}")
endif()
message(STATUS "valid JSON from ${TOOL} (${ARGS})")
