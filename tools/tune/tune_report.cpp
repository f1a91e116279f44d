// porta-tune's output: the summaries of a tuning run (text and JSON) and the --show, --reset and
// --export commands.
#include "tools/tune/tune_report.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "tools/common/json_writer.h"

namespace porta::tune {
namespace {

std::vector<std::string> ShowDtypes(const std::string& family) {
  if (family == "qmatvec" || family == "qdequant") return {"q4_0", "q4_1", "q8_0"};
  return {"f32", "f16", "bf16"};
}

const char* StateName(porta_ops_tuning_file_state_t state) {
  switch (state) {
    case PORTA_OPS_TUNING_FILE_OFF:
      return "off";
    case PORTA_OPS_TUNING_FILE_ABSENT:
      return "absent";
    case PORTA_OPS_TUNING_FILE_LOADED:
      return "loaded";
    case PORTA_OPS_TUNING_FILE_IGNORED:
      return "ignored";
  }
  return "unknown";
}

}  // namespace

std::vector<std::string> Split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, separator)) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

std::vector<std::string> Buckets(const std::string& family) {
  if (family == "matmul") return {"large", "small", "gemv"};
  if (family == "qmatvec") return {"gemv", "small"};
  return {"small", "large"};
}

std::string Failure(const char* what) {
  return std::string(what) + ": " + porta_last_error_message();
}

// The rows of a tuning file (its non-comment lines).
std::vector<std::string> FileRows(const std::string& path) {
  std::vector<std::string> rows;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    rows.push_back(line);
  }
  return rows;
}

std::string Ms(double ms) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.3f ms", ms);
  return text;
}

void PrintTuneText(const std::vector<DeviceResult>& results, bool interrupted) {
  for (const DeviceResult& device : results) {
    std::printf("%s\n", device.label.c_str());
    if (!device.error.empty()) std::printf("  error: %s\n", device.error.c_str());
    for (const BucketResult& bucket : device.buckets) {
      std::printf("  %-8s %-4s %-6s %-12s ", bucket.family.c_str(), bucket.dtype.c_str(),
                  bucket.bucket.c_str(), bucket.shape.c_str());
      const CandidateResult* winner = bucket.Winner();
      const CandidateResult* table = bucket.Table();
      if (winner == nullptr) {
        std::printf(
            "%s%s\n", bucket.status.c_str(),
            bucket.candidates.empty() ? "" : (": " + bucket.candidates.back().error).c_str());
        continue;
      }
      std::printf("winner %s %s", winner->params.c_str(), Ms(winner->median_ms).c_str());
      if (table != nullptr && table->ok) {
        std::printf("; %s: %s %s, %.2fx", bucket.table_source.c_str(), table->params.c_str(),
                    Ms(table->median_ms).c_str(), table->median_ms / winner->median_ms);
      }
      std::printf(" (%zu of %zu candidates, %s)\n", bucket.Passed(), bucket.candidates.size(),
                  bucket.status.c_str());
    }
    for (const auto& [family, seconds] : device.family_seconds) {
      std::printf("  %s took %.1f s\n", family.c_str(), seconds);
    }
    std::printf("  tuning file: %s (%u rows)\n", device.path.c_str(), device.rows_written);
  }
  if (interrupted) std::printf("interrupted: the tuning file holds the families finished\n");
}

void PrintTuneJson(const std::vector<DeviceResult>& results, double budget_s, double seconds,
                   bool interrupted) {
  porta::tools::JsonWriter json(stdout);
  json.BeginObject();
  json.DoubleMember("budget_s", budget_s);
  json.DoubleMember("seconds", seconds);
  json.BoolMember("interrupted", interrupted);
  json.Key("devices");
  json.BeginArray();
  for (const DeviceResult& device : results) {
    json.BeginObject();
    json.StringMember("device", device.label);
    json.StringMember("backend", device.backend);
    json.StringMember("tuning_file", device.path);
    json.UintMember("rows_written", device.rows_written);
    json.DoubleMember("seconds", device.seconds);
    if (!device.error.empty()) json.StringMember("error", device.error);
    json.Key("family_seconds");
    json.BeginObject();
    for (const auto& [family, seconds] : device.family_seconds) json.DoubleMember(family, seconds);
    json.EndObject();
    json.Key("buckets");
    json.BeginArray();
    for (const BucketResult& bucket : device.buckets) {
      json.BeginObject();
      json.StringMember("family", bucket.family);
      json.StringMember("dtype", bucket.dtype);
      json.StringMember("bucket", bucket.bucket);
      json.StringMember("shape", bucket.shape);
      json.StringMember("status", bucket.status);
      json.StringMember("table_params", bucket.table_params);
      json.StringMember("table_source", bucket.table_source);
      const CandidateResult* winner = bucket.Winner();
      if (winner != nullptr) {
        json.StringMember("winner", winner->params);
        json.DoubleMember("winner_ms", winner->median_ms);
      } else {
        json.Key("winner");
        json.Null();
      }
      json.Key("candidates");
      json.BeginArray();
      for (const CandidateResult& c : bucket.candidates) {
        json.BeginObject();
        json.StringMember("params", c.params);
        json.BoolMember("ok", c.ok);
        json.DoubleMember("first_ms", c.first_ms);
        if (c.ok) {
          json.DoubleMember("median_ms", c.median_ms);
          json.DoubleMember("nmse", c.nmse);
        } else {
          json.StringMember("error", c.error);
        }
        json.EndObject();
      }
      json.EndArray();
      json.EndObject();
    }
    json.EndArray();
    json.EndObject();
  }
  json.EndArray();
  json.EndObject();
  json.Finish();
}

int Show(std::vector<Device>& devices, const std::vector<std::string>& ops, bool as_json) {
  porta::tools::JsonWriter json(stdout);
  if (as_json) {
    json.BeginObject();
    json.Key("devices");
    json.BeginArray();
  }
  int exit_code = 0;
  for (Device& dev : devices) {
    if (as_json) {
      json.BeginObject();
      json.StringMember("device", dev.label);
      json.StringMember("backend", dev.info.backend);
      json.Key("tuning_file");
      json.BeginObject();
      json.StringMember("path", dev.file.path);
      json.StringMember("state", StateName(dev.file.state));
      json.StringMember("reason", dev.file.reason);
      json.UintMember("rows", dev.file.row_count);
      json.EndObject();
      json.Key("choices");
      json.BeginArray();
    } else {
      std::printf("%s\n  tuning file: %s\n  state: %s", dev.label.c_str(), dev.file.path,
                  StateName(dev.file.state));
      if (dev.file.state == PORTA_OPS_TUNING_FILE_LOADED) {
        std::printf(" (%u rows)\n", dev.file.row_count);
      } else {
        std::printf(": %s\n", dev.file.reason);
      }
      std::printf("  %-9s %-5s %-6s %-40s %s\n", "family", "dtype", "bucket", "parameters", "from");
    }
    for (const std::string& family : ops) {
      for (const std::string& dtype : ShowDtypes(family)) {
        for (const std::string& bucket : Buckets(family)) {
          porta_ops_tuning_choice_t choice = PORTA_OPS_TUNING_CHOICE_INIT;
          if (porta_ops_tuning_choice(dev.loaded, family.c_str(), dtype.c_str(), bucket.c_str(),
                                      &choice) != PORTA_OK) {
            std::fprintf(stderr, "porta-tune: %s\n", Failure("porta_ops_tuning_choice").c_str());
            exit_code = 1;
            continue;
          }
          if (as_json) {
            json.BeginObject();
            json.StringMember("family", family);
            json.StringMember("dtype", dtype);
            json.StringMember("bucket", bucket);
            json.StringMember("params", choice.params);
            json.StringMember("source", choice.source);
            json.EndObject();
          } else {
            std::printf("  %-9s %-5s %-6s %-40s %s\n", family.c_str(), dtype.c_str(),
                        bucket.c_str(), choice.params, choice.source);
          }
        }
      }
    }
    if (as_json) {
      json.EndArray();
      json.EndObject();
    }
  }
  if (as_json) {
    json.EndArray();
    json.EndObject();
    json.Finish();
  }
  return exit_code;
}

int Reset(std::vector<Device>& devices, bool as_json) {
  porta::tools::JsonWriter json(stdout);
  if (as_json) json.BeginArray();
  int exit_code = 0;
  for (Device& dev : devices) {
    const bool ok = porta_ops_tuning_file_remove(dev.loaded) == PORTA_OK;
    const std::string error = ok ? "" : Failure("porta_ops_tuning_file_remove");
    if (!ok) exit_code = 1;
    if (as_json) {
      json.BeginObject();
      json.StringMember("device", dev.label);
      json.StringMember("tuning_file", dev.file.path);
      json.BoolMember("removed", ok);
      if (!ok) json.StringMember("error", error);
      json.EndObject();
    } else if (ok) {
      std::printf("%s: removed %s\n", dev.label.c_str(),
                  dev.file.path[0] != '\0' ? dev.file.path : "(no cache folder)");
    } else {
      std::fprintf(stderr, "porta-tune: %s: %s\n", dev.label.c_str(), error.c_str());
    }
  }
  if (as_json) json.Finish();
  return exit_code;
}

int Export(std::vector<Device>& devices) {
  int exported = 0;
  for (Device& dev : devices) {
    if (dev.file.state != PORTA_OPS_TUNING_FILE_LOADED) {
      std::fprintf(stderr, "porta-tune: %s: nothing to export: %s\n", dev.label.c_str(),
                   dev.file.reason);
      continue;
    }
    std::printf("# %s, driver %s: measured by porta-tune (porta_ops %s)\n", dev.label.c_str(),
                dev.info.driver_version, porta_version_string());
    for (const std::string& row : FileRows(dev.file.path)) std::printf("%s\n", row.c_str());
    ++exported;
  }
  return exported > 0 ? 0 : 1;
}

}  // namespace porta::tune
