# Script mode (cmake -P): writes OUTPUT, the concatenation of FILES ('|'-separated), each
# followed by a newline. Composes the OpenCL C program text the driver builds at run time, since a
# driver cannot follow #include into the library's sources.
string(REPLACE "|" ";" files "${FILES}")
set(text "")
foreach(file IN LISTS files)
  file(READ "${file}" content)
  string(APPEND text "${content}\n")
endforeach()
file(WRITE "${OUTPUT}.tmp" "${text}")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
