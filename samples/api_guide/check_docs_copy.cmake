# Script mode (cmake -P): fails unless docs/api_guide.md carries SOURCE verbatim between its
# "MARKER begin" and "MARKER end" markers (MARKER: api_guide.c unless given), so the guide's
# program is the tested one.
#   -DDOC=<docs/api_guide.md> -DSOURCE=<samples/api_guide/main.c> [-DMARKER=<name>]
if(NOT DEFINED MARKER)
  set(MARKER api_guide.c)
endif()
file(READ "${DOC}" doc)
file(READ "${SOURCE}" source)
string(FIND "${doc}" "<!-- ${MARKER} begin" begin)
string(FIND "${doc}" "<!-- ${MARKER} end -->" end)
if(begin EQUAL -1 OR end EQUAL -1 OR end LESS begin)
  message(FATAL_ERROR "${DOC} lacks the ${MARKER} begin/end markers")
endif()
math(EXPR length "${end} - ${begin}")
string(SUBSTRING "${doc}" ${begin} ${length} block)
string(FIND "${block}" "```c\n" fence)
if(fence EQUAL -1)
  message(FATAL_ERROR "${DOC}: no ```c block after the begin marker")
endif()
math(EXPR fence "${fence} + 5")
string(SUBSTRING "${block}" ${fence} -1 code)
string(REGEX REPLACE "```\n$" "" code "${code}")
if(NOT code STREQUAL source)
  message(FATAL_ERROR "the program in ${DOC} differs from ${SOURCE}; copy the file into the "
                      "guide between the ${MARKER} markers")
endif()
message(STATUS "${DOC} carries ${SOURCE} verbatim")
