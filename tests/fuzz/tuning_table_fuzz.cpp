// libFuzzer entry for the tuning table's row parser (kernels/core/tuning_table.cpp), which reads
// the shipped table, porta-tune's overlay files and porta_ops_set_tuning_overlay's text. Any text
// must parse or give an error naming the line; a parsed row's family is the one its text names,
// and every parameter value is within the range the parser promises.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/core/tuning.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The C string the callers pass: the input up to its first NUL.
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<porta::ops::TuningRow> rows;
  std::string error;
  if (porta::ops::ParseTuningTable(text.c_str(), &rows, &error)) {
    for (const porta::ops::TuningRow& row : rows) {
      if (row.line < 1 || row.key[4] != porta::ops::FamilyName(row.family)) __builtin_trap();
      if (row.params.values.empty()) __builtin_trap();
      for (const porta::ops::Param& param : row.params.values) {
        if (param.name.empty() || param.value < 0 || param.value > 65536) __builtin_trap();
      }
    }
  } else if (error.rfind("line ", 0) != 0) {
    __builtin_trap();
  }
  return 0;
}
