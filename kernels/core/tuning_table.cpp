// The tuning table's text format (the shipped kernels/tuning/tuning_table.txt, porta-tune's
// overlay files and porta_ops_set_tuning_overlay): family and parameter names and the row parser.
// Kept apart from the dispatcher so that it builds on its own (tests/fuzz fuzzes it).
#include <cstdlib>
#include <cstring>

#include "kernels/core/tuning.h"

namespace porta::ops {
namespace {

constexpr const char* kFamilyNames[] = {"ew",     "reduce", "softmax",   "norm",
                                        "gather", "rope",   "attention", "matmul",
                                        "conv2d", "pool2d", "qmatvec",   "qdequant"};
static_assert(sizeof(kFamilyNames) / sizeof(kFamilyNames[0]) ==
              static_cast<size_t>(Family::kCount));

// Every matmul row names these; sg (the subgroup variant, 0 when absent) is optional.
constexpr const char* kMatmulParams[] = {"tm", "tn", "tk", "wm", "wn"};
constexpr const char* kQmatvecParams[] = {"wg", "rows", "mmax", "gemm", "mv"};

bool FamilyFromName(const std::string& name, Family* family) {
  for (int i = 0; i < static_cast<int>(Family::kCount); ++i) {
    if (name == kFamilyNames[i]) {
      *family = static_cast<Family>(i);
      return true;
    }
  }
  return false;
}

bool ParamAllowed(Family family, const std::string& name) {
  if (family == Family::kMatmul) {
    for (const char* allowed : kMatmulParams) {
      if (name == allowed) return true;
    }
    return name == "sg";
  }
  if (family == Family::kQmatvec) {
    for (const char* allowed : kQmatvecParams) {
      if (name == allowed) return true;
    }
    return false;
  }
  // Attention's direct (the direct variant, 0 when absent) is optional.
  if (family == Family::kAttention) return name == "wg" || name == "direct";
  return name == "wg";
}

// Splits a row into fields: whitespace separated, "double quoted" fields may hold spaces.
bool SplitFields(const std::string& line, std::vector<std::string>* fields, std::string* error) {
  size_t i = 0;
  while (i < line.size()) {
    if (line[i] == ' ' || line[i] == '\t' || line[i] == '\r') {
      ++i;
      continue;
    }
    if (line[i] == '#') break;
    std::string field;
    if (line[i] == '"') {
      const size_t end = line.find('"', i + 1);
      if (end == std::string::npos) {
        *error = "unterminated quote";
        return false;
      }
      field = line.substr(i + 1, end - i - 1);
      i = end + 1;
    } else {
      while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r' &&
             line[i] != '#') {
        field += line[i++];
      }
    }
    fields->push_back(field);
  }
  return true;
}

}  // namespace

const char* FamilyName(Family family) {
  const int index = static_cast<int>(family);
  return index >= 0 && index < static_cast<int>(Family::kCount) ? kFamilyNames[index] : "unknown";
}

int64_t Params::Get(const char* name, int64_t fallback) const {
  for (const Param& param : values) {
    if (param.name == name) return param.value;
  }
  return fallback;
}

void Params::Set(const char* name, int64_t value) {
  for (Param& param : values) {
    if (param.name == name) {
      param.value = value;
      return;
    }
  }
  values.push_back({name, value});
}

std::string Params::Text() const {
  std::string text;
  for (const Param& param : values) {
    if (!text.empty()) text += ' ';
    text += param.name + "=" + std::to_string(param.value);
  }
  return text;
}

bool ParseTuningTable(const char* text, std::vector<TuningRow>* rows, std::string* error) {
  rows->clear();
  if (text == nullptr) return true;
  int line_number = 0;
  const char* cursor = text;
  while (*cursor != '\0') {
    const char* end = std::strchr(cursor, '\n');
    const size_t length = end != nullptr ? static_cast<size_t>(end - cursor) : std::strlen(cursor);
    const std::string line(cursor, length);
    cursor += length + (end != nullptr ? 1 : 0);
    ++line_number;
    std::vector<std::string> fields;
    std::string why;
    if (!SplitFields(line, &fields, &why)) {
      *error = "line " + std::to_string(line_number) + ": " + why;
      return false;
    }
    if (fields.empty()) continue;
    auto fail = [&](const std::string& reason) {
      *error = "line " + std::to_string(line_number) + ": " + reason + " (row: " + line + ")";
      return false;
    };
    if (fields.size() < 8) {
      return fail(
          "a row needs backend, vendor, architecture, device, family, dtype, bucket and "
          "at least one parameter; it has " +
          std::to_string(fields.size()) + " fields");
    }
    TuningRow row;
    row.line = line_number;
    for (int i = 0; i < 7; ++i) row.key[i] = fields[i];
    if (!FamilyFromName(row.key[4], &row.family)) {
      return fail("unknown kernel family '" + row.key[4] +
                  "' (families: ew, reduce, softmax, norm, gather, rope, attention, matmul, "
                  "conv2d, pool2d, qmatvec, qdequant)");
    }
    static const char* const kDtypes[] = {"*", "f32", "f16", "bf16", "q4_0", "q4_1", "q8_0"};
    bool dtype_ok = false;
    for (const char* dtype : kDtypes) dtype_ok = dtype_ok || row.key[5] == dtype;
    if (!dtype_ok) {
      return fail("dtype '" + row.key[5] + "' is not one of *, f32, f16, bf16, q4_0, q4_1, q8_0");
    }
    static const char* const kBuckets[] = {"*", "small", "large", "gemv"};
    bool bucket_ok = false;
    for (const char* bucket : kBuckets) bucket_ok = bucket_ok || row.key[6] == bucket;
    if (!bucket_ok) {
      return fail("bucket '" + row.key[6] + "' is not one of *, small, large, gemv");
    }
    for (size_t i = 7; i < fields.size(); ++i) {
      const size_t equals = fields[i].find('=');
      if (equals == std::string::npos || equals == 0) {
        return fail("parameter '" + fields[i] + "' is not name=value");
      }
      const std::string name = fields[i].substr(0, equals);
      const std::string value = fields[i].substr(equals + 1);
      if (!ParamAllowed(row.family, name)) {
        return fail("family " + row.key[4] + " has no parameter '" + name + "'");
      }
      char* parsed_end = nullptr;
      const long long number = std::strtoll(value.c_str(), &parsed_end, 10);
      if (value.empty() || *parsed_end != '\0' || number < 0 || number > 65536) {
        return fail("parameter " + name + "=" + value + " is not an integer in [0, 65536]");
      }
      row.params.Set(name.c_str(), number);
    }
    if (row.family == Family::kMatmul) {
      for (const char* name : kMatmulParams) {
        if (row.params.Get(name, -1) < 0) return fail(std::string("matmul needs ") + name);
      }
    }
    rows->push_back(std::move(row));
  }
  return true;
}

}  // namespace porta::ops
