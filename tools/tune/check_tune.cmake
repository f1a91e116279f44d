# The porta-tune test (ctest porta_tune_cpu): tunes the CPU device with a small budget in a
# temporary cache folder and checks the JSON it prints, the tuning file it writes, --show,
# --export, --reset, a damaged file, and the exit code 2 with a message for bad arguments.
#   cmake -DTOOL=<porta-tune> -DWORK=<empty folder> -P check_tune.cmake

cmake_minimum_required(VERSION 3.25)
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
set(ENV{PORTA_CACHE_DIR} ${WORK})
set(ENV{PORTA_OPS_TUNING_FILE} on)

function(run_tool out_var code_var)
  execute_process(COMMAND ${TOOL} ${ARGN} OUTPUT_VARIABLE out ERROR_VARIABLE err
                  RESULT_VARIABLE code)
  set(${out_var} "${out}" PARENT_SCOPE)
  set(${code_var} "${code}" PARENT_SCOPE)
  set(last_stderr "${err}" PARENT_SCOPE)
endfunction()

# expect(MESSAGE CONDITION...): fails the test with MESSAGE unless if(CONDITION) holds.
function(expect message)
  if(NOT (${ARGN}))
    message(FATAL_ERROR "porta-tune test: ${message}")
  endif()
endfunction()

# Tuning: every bucket of ew is measured, passes the check, and gets a winner in the file.
run_tool(out code --devices cpu --ops ew --budget 30 --json)
if(NOT code EQUAL 0)
  message(FATAL_ERROR "porta-tune --json exited ${code}: ${last_stderr}\n${out}")
endif()
string(JSON device_count LENGTH "${out}" devices)
expect("expected one device in ${out}" device_count EQUAL 1)
string(JSON rows GET "${out}" devices 0 rows_written)
expect("expected a row per ew bucket, got ${rows}" rows GREATER_EQUAL 2)
string(JSON path GET "${out}" devices 0 tuning_file)
string(JSON bucket_count LENGTH "${out}" devices 0 buckets)
expect("expected the small and large buckets of ew, got ${bucket_count}" bucket_count EQUAL 2)
math(EXPR last "${bucket_count} - 1")
foreach(i RANGE ${last})
  string(JSON status GET "${out}" devices 0 buckets ${i} status)
  string(JSON winner GET "${out}" devices 0 buckets ${i} winner)
  string(JSON candidates LENGTH "${out}" devices 0 buckets ${i} candidates)
  expect("bucket ${i} ended '${status}'" status STREQUAL "done")
  expect("bucket ${i} measured ${candidates} candidates" candidates GREATER_EQUAL 2)
  string(JSON ok GET "${out}" devices 0 buckets ${i} candidates 0 ok)
  expect("bucket ${i}'s first candidate failed its check" ok)
  expect("bucket ${i}'s winner is '${winner}'" winner MATCHES "^wg=[0-9]+$")
endforeach()
expect("the tuning file ${path} was not written" EXISTS "${path}")
string(FIND "${path}" "${WORK}/tuning/" under)
expect("the tuning file ${path} is not under PORTA_CACHE_DIR" under EQUAL 0)
file(READ ${path} overlay)
string(FIND "${overlay}" "#! porta-tuning-overlay 1" has_magic)
string(FIND "${overlay}" "ew f32 small wg=" has_row)
expect("unexpected file:\n${overlay}" has_magic GREATER_EQUAL 0 AND has_row GREATER_EQUAL 0)
file(GLOB leftovers ${WORK}/tuning/*.tmp.*)
expect("temporary files left: ${leftovers}" NOT leftovers)

# --show: the file is loaded and its rows win.
run_tool(out code --devices cpu --ops ew --show --json)
expect("--show exited ${code}: ${last_stderr}" code EQUAL 0)
string(JSON state GET "${out}" devices 0 tuning_file state)
expect("--show says the file is ${state}" state STREQUAL "loaded")
string(JSON source GET "${out}" devices 0 choices 0 source)
expect("ew f32 small comes from '${source}'" source MATCHES "^overlay line [0-9]+$")
run_tool(out code --devices cpu --ops ew,matmul --show)
expect("--show (text) exited ${code}" code EQUAL 0)
string(FIND "${out}" "state: loaded" shown)
expect("--show text lacks the state:\n${out}" shown GREATER_EQUAL 0)

# --export: the rows, ready for the shipped table, without the header.
run_tool(out code --devices cpu --export)
expect("--export exited ${code}: ${last_stderr}" code EQUAL 0)
string(FIND "${out}" "ew f32 large wg=" exported)
string(FIND "${out}" "#!" header)
expect("--export printed:\n${out}" exported GREATER_EQUAL 0 AND header EQUAL -1)

# A damaged file is reported and ignored.
file(READ ${path} intact)
string(LENGTH "${intact}" length)
math(EXPR cut "${length} - 4")
string(SUBSTRING "${intact}" 0 ${cut} truncated)
file(WRITE ${path} "${truncated}")
run_tool(out code --devices cpu --ops ew --show --json)
string(JSON state GET "${out}" devices 0 tuning_file state)
string(JSON reason GET "${out}" devices 0 tuning_file reason)
string(JSON source GET "${out}" devices 0 choices 0 source)
expect("a truncated file is ${state}" state STREQUAL "ignored")
expect("the reason is '${reason}'" reason MATCHES "^corrupt")
expect("the truncated file's row was used: ${source}" NOT source MATCHES "^overlay")
run_tool(out code --devices cpu --export)
expect("--export of an ignored file exited ${code}" code EQUAL 1)

# --reset removes it.
run_tool(out code --devices cpu --reset)
expect("--reset exited ${code}: ${last_stderr}" code EQUAL 0)
expect("--reset left ${path}" NOT EXISTS "${path}")
run_tool(out code --devices cpu --show --json)
string(JSON state GET "${out}" devices 0 tuning_file state)
expect("after --reset the file is ${state}" state STREQUAL "absent")

# Bad arguments: exit code 2 and a message naming the problem.
foreach(case "--budget;abc;--budget" "--budget;-5;--budget" "--ops;nosuch;nosuch"
             "--show;--reset;separate" "--export;--json;--json" "--bogus;;--bogus"
             "--ops;;--ops: 1 required")
  list(GET case 0 first)
  list(GET case 1 second)
  list(GET case 2 needle)
  if(second STREQUAL "")
    run_tool(out code --devices cpu ${first})
  else()
    run_tool(out code --devices cpu ${first} ${second})
  endif()
  expect("'${first} ${second}' exited ${code}" code EQUAL 2)
  string(FIND "${last_stderr}" "${needle}" named)
  expect("'${first} ${second}' said: ${last_stderr}" named GREATER_EQUAL 0)
endforeach()
file(REMOVE_RECURSE ${WORK})
