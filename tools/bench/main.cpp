// porta-bench: measures what Porta adds on top of each device — launch overhead, copy bandwidth,
// the operator library's kernels — and prints every figure beside a baseline measured in the same
// run, in one table for all devices, each comparison stated as a speed-up (above 1: Porta faster)
// next to its target where the project has set one.
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "porta/porta.h"
#include "tools/bench/bench_cpu.h"
#include "tools/bench/bench_graph.h"
#include "tools/bench/bench_ops.h"
#include "tools/bench/bench_pool.h"
#include "tools/bench/bench_register.h"
#include "tools/bench/bench_util.h"
#include "tools/common/command_line.h"
#include "tools/common/json_writer.h"

#ifdef PORTA_BENCH_HAS_OPENCL
#include "bench_opencl.h"
#endif
#ifdef PORTA_BENCH_HAS_VULKAN
#include "bench_vulkan.h"
#endif
#ifdef PORTA_BENCH_HAS_CUDA
#include "bench_cuda.h"
#endif

namespace {

using porta::bench::BenchRow;
using porta::bench::RowSink;

struct Options {
  bool quick = false;
  bool json = false;
  bool ops_only = false;
  bool no_ops = false;
  bool has_device_filter = false;
  std::string device_filter;
  std::vector<std::string> filters;  // lower-case
};

constexpr char kUsage[] =
    "usage: porta-bench [--devices FILTER] [--filter TEXT] [--quick] [--json] [--ops | --no-ops]\n"
    "\n"
    "Measures Porta on every device next to a baseline taken in the same run and prints one\n"
    "table: each row's median and spread (+-: the median absolute deviation of the repetitions,\n"
    "relative to the median), the baseline's, and the speed-up = how many times faster Porta is "
    "than the baseline\n"
    "(baseline time / Porta time, or Porta rate / baseline rate): above 1 Porta is faster, below "
    "1\n"
    "slower, the same direction on every row. Where the project has set a goal, the target column\n"
    "shows the speed-up to reach and whether this run met it.\n"
    "\n"
    "Rows: launch overhead and copy bandwidth per backend (cpu against a direct call, a thread\n"
    "handoff and memcpy; OpenCL, Vulkan and CUDA against their raw APIs on the same device, with "
    "a\n"
    "graph replay of 100 launches against the raw API's launches), the buffer pool on every "
    "device\n"
    "(porta_buffer_alloc_async + free_async of 1 MiB against porta_buffer_alloc + free), copies\n"
    "of 64 MiB host to device and back from and to memory registered with porta_host_register\n"
    "against unregistered memory on every device (no gain expected on the cpu device), a graph\n"
    "replay of 100 launches against 100 porta_kernel_launch calls on every device, then\n"
    "the operator library on every device, each result checked first: f32 matmul (GFLOP/s;\n"
    "OpenBLAS cblas_sgemm on the cpu device, CLBlast on OpenCL), f16-weights matmul, "
    "block-quantized\n"
    "weights against the f32 product, softmax, layernorm and add (GB/s of bytes read + written,\n"
    "beside a device-to-device copy moving as many bytes), causal attention (ms, fused against\n"
    "matmul + softmax + matmul). A result that disagrees with its reference, or a failing call,\n"
    "fails the run.\n"
    "\n"
    "  --devices FILTER devices to measure, PORTA_DEVICES syntax (e.g. \"cpu\", \"opencl:0\")\n"
    "  --filter TEXT    only rows whose section, device or name contains TEXT (case-insensitive;\n"
    "                   several texts separated by commas: a row matching any is measured)\n"
    "  --quick          short runs and tiny shapes (used by the tests)\n"
    "  --ops            only the operator rows\n"
    "  --no-ops         skip the operator rows (they take minutes on CPU-emulated devices)\n"
    "  --json           print one JSON document instead of the table\n"
    "  --version        print the version\n"
    "  --help           print this text\n"
    "\n"
    "On a terminal a progress line on stderr names the row being measured.\n"
    "\n"
    "JSON: {\"porta_version\", \"quick\", \"device_filter\" (string or null), \"filter\" (array),\n"
    "\"speedup\" (what the ratio means), \"devices\" ([{\"device\", \"name\"}]), \"rows\", "
    "\"errors\"\n"
    "and \"notes\" (arrays of strings)}.\n"
    "A row is {\"section\", \"device\", \"benchmark\", \"unit\", \"porta\", \"porta_spread\",\n"
    "\"baseline_name\", \"baseline\" (null without one), \"baseline_spread\", \"speedup\" (null\n"
    "without a baseline), \"target\" (null without one), \"target_met\" (null without a target or\n"
    "baseline)}. Spreads are fractions (0.05 = +-5%).\n"
    "\n"
    "Exit status: 0 when every row ran, 1 when a call failed or a result was wrong, 2 for bad\n"
    "arguments.\n";

constexpr char kSpeedupMeaning[] =
    "how many times faster Porta is than the baseline (baseline time / Porta time, or Porta rate "
    "/ baseline rate): above 1 Porta is faster";

// One part of porta-bench: a named producer of rows.
struct Section {
  const char* name;
  void (*run)(porta_runtime_t runtime, bool quick, const RowSink& sink);
};

void RunOps(porta_runtime_t runtime, bool quick, const RowSink& sink) {
  porta::bench::RunOpsRows(runtime, quick, sink);
}

std::vector<Section> Sections(const Options& options) {
  std::vector<Section> sections;
  if (!options.ops_only) {
    sections.push_back({"cpu", porta::bench::RunCpuRows});
#ifdef PORTA_BENCH_HAS_OPENCL
    sections.push_back({"opencl", porta::bench::RunOpenClRows});
#endif
#ifdef PORTA_BENCH_HAS_VULKAN
    sections.push_back({"vulkan", porta::bench::RunVulkanRows});
#endif
#ifdef PORTA_BENCH_HAS_CUDA
    sections.push_back({"cuda", porta::bench::RunCudaRows});
#endif
    sections.push_back({"pool", porta::bench::RunPoolRows});
    sections.push_back({"register", porta::bench::RunRegisterRows});
    sections.push_back({"graph", porta::bench::RunGraphRows});
  }
  if (!options.no_ops) sections.push_back({"ops", RunOps});
  return sections;
}

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::vector<std::string> SplitFilter(const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const size_t end = comma == std::string::npos ? text.size() : comma;
    if (end > start) parts.push_back(Lower(text.substr(start, end - start)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return parts;
}

bool Matches(const Options& options, const std::string& section, const std::string& device,
             const std::string& name) {
  if (options.filters.empty()) return true;
  const std::string text = Lower(section + " " + device + " " + name);
  for (const std::string& filter : options.filters) {
    if (text.find(filter) != std::string::npos) return true;
  }
  return false;
}

// Everything a run produced, for the JSON document and the closing summary.
struct Results {
  std::vector<BenchRow> rows;
  std::vector<std::string> errors;
  std::vector<std::string> notes;
};

// The progress line: on a terminal only, on stderr, erased before anything else is printed.
class Progress {
 public:
  Progress() : enabled_(isatty(STDERR_FILENO) == 1) {}
  void Show(const std::string& text) {
    if (!enabled_) return;
    std::fprintf(stderr, "\r\033[K%.*s", 110, text.c_str());
    std::fflush(stderr);
    shown_ = true;
  }
  void Clear() {
    if (!shown_) return;
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
    shown_ = false;
  }

 private:
  bool enabled_;
  bool shown_ = false;
};

void JsonOptionalDouble(porta::tools::JsonWriter& json, const char* key, bool present,
                        double value) {
  json.Key(key);
  if (present) {
    json.Double(value);
  } else {
    json.Null();
  }
}

void JsonRow(porta::tools::JsonWriter& json, const BenchRow& row) {
  const bool has_baseline = row.baseline.median > 0.0;
  json.BeginObject();
  json.StringMember("section", row.section);
  json.StringMember("device", row.device);
  json.StringMember("benchmark", row.name);
  json.StringMember("unit", row.unit);
  json.DoubleMember("porta", row.porta.median);
  json.DoubleMember("porta_spread", row.porta.spread);
  json.StringMember("baseline_name", row.baseline_name);
  JsonOptionalDouble(json, "baseline", has_baseline, row.baseline.median);
  json.DoubleMember("baseline_spread", row.baseline.spread);
  JsonOptionalDouble(json, "speedup", has_baseline, row.speedup);
  JsonOptionalDouble(json, "target", row.target > 0.0, row.target);
  json.Key("target_met");
  if (row.target > 0.0 && has_baseline) {
    json.Bool(row.speedup >= row.target);
  } else {
    json.Null();
  }
  json.EndObject();
}

void JsonStrings(porta::tools::JsonWriter& json, const char* key,
                 const std::vector<std::string>& strings) {
  json.Key(key);
  json.BeginArray();
  for (const std::string& text : strings) json.String(text);
  json.EndArray();
}

void PrintJson(const Options& options,
               const std::vector<std::pair<std::string, std::string>>& devices,
               const Results& results) {
  porta::tools::JsonWriter json(stdout);
  json.BeginObject();
  json.StringMember("porta_version", porta_version_string());
  json.BoolMember("quick", options.quick);
  json.Key("device_filter");
  if (options.has_device_filter) {
    json.String(options.device_filter);
  } else {
    json.Null();
  }
  JsonStrings(json, "filter", options.filters);
  json.Key("devices");
  json.BeginArray();
  for (const auto& [label, name] : devices) {
    json.BeginObject();
    json.StringMember("device", label);
    json.StringMember("name", name);
    json.EndObject();
  }
  json.EndArray();
  json.StringMember("speedup", kSpeedupMeaning);
  json.Key("rows");
  json.BeginArray();
  for (const BenchRow& row : results.rows) JsonRow(json, row);
  json.EndArray();
  JsonStrings(json, "errors", results.errors);
  JsonStrings(json, "notes", results.notes);
  json.EndObject();
  json.Finish();
}

// The devices the rows name, with what they are.
std::vector<std::pair<std::string, std::string>> DeviceNames(porta_runtime_t runtime) {
  std::vector<std::pair<std::string, std::string>> names;
  for (const auto& [device, info] : porta::bench::DevicesOf(runtime, nullptr)) {
    names.emplace_back(porta::bench::DeviceLabel(info), info.name);
  }
  return names;
}

void PrintSummary(const Results& results) {
  int targets = 0;
  int met = 0;
  for (const BenchRow& row : results.rows) {
    if (row.target <= 0.0 || row.baseline.median <= 0.0) continue;
    ++targets;
    if (row.speedup >= row.target) ++met;
  }
  std::printf("\n%zu row%s; %d with a target: %d met, %d missed; %zu error%s\n",
              results.rows.size(), results.rows.size() == 1 ? "" : "s", targets, met, targets - met,
              results.errors.size(), results.errors.size() == 1 ? "" : "s");
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  const std::optional<int> exit_now = porta::tools::ParseCommandLine(
      "porta-bench", kUsage, argc, argv,
      {{"--quick", &options.quick},
       {"--json", &options.json},
       {"--ops", &options.ops_only},
       {"--no-ops", &options.no_ops},
       {"--devices", nullptr,
        [&](const char* value) {
          options.has_device_filter = true;
          options.device_filter = value;
        }},
       {"--filter", nullptr, [&](const char* value) { options.filters = SplitFilter(value); }}});
  if (exit_now) return *exit_now;
  if (options.ops_only && options.no_ops) {
    std::fprintf(stderr, "porta-bench: --ops and --no-ops exclude each other\n");
    std::fputs(kUsage, stderr);
    return 2;
  }

  porta_runtime_t runtime = porta::tools::CreateRuntime(
      "porta-bench", nullptr, options.has_device_filter ? options.device_filter.c_str() : nullptr);
  if (runtime == nullptr) return 1;

  std::vector<std::pair<std::string, std::string>> devices;
  try {
    devices = DeviceNames(runtime);
  } catch (const porta::bench::Failure& failure) {
    std::fprintf(stderr, "porta-bench: %s\n", failure.text().c_str());
    porta_runtime_destroy(runtime);
    return 1;
  }
  Results results;
  Progress progress;
  std::string section_name;
  const bool table = !options.json;
  const RowSink sink{
      [&](const BenchRow& measured) {
        BenchRow row = measured;
        row.section = section_name;
        if (table) {
          progress.Clear();
          porta::bench::PrintTableRow(stdout, row);
          std::fflush(stdout);
        }
        results.rows.push_back(std::move(row));
      },
      [&](const std::string& text) {
        const std::string line = section_name + ": " + text;
        if (table) {
          progress.Clear();
          std::printf("error: %s\n", line.c_str());
          std::fflush(stdout);
        }
        results.errors.push_back(line);
      },
      [&](const std::string& text) {
        const std::string line = section_name + ": " + text;
        if (table) {
          progress.Clear();
          std::printf("note: %s\n", line.c_str());
          std::fflush(stdout);
        }
        results.notes.push_back(line);
      },
      [&](const std::string& device, const std::string& name) {
        return Matches(options, section_name, device, name);
      },
      [&](const std::string& device, const std::string& name) {
        progress.Show("porta-bench: " + section_name + ": " + device + ": " + name + " ...");
      }};

  if (table) {
    std::printf(
        "porta-bench %s%s: medians of repeated runs (+-: median absolute deviation, relative)\n"
        "speed-up: %s; target: the speed-up set as the goal\n\n",
        porta_version_string(), options.quick ? " (quick)" : "", kSpeedupMeaning);
    for (const auto& [label, name] : devices)
      std::printf("%-12s %s\n", label.c_str(), name.c_str());
    std::printf("\n");
    porta::bench::PrintTableHeader(stdout);
    std::fflush(stdout);
  }
  for (const Section& section : Sections(options)) {
    section_name = section.name;
    try {
      section.run(runtime, options.quick, sink);
    } catch (const porta::bench::Failure& failure) {
      sink.error(failure.text());
    }
  }
  progress.Clear();
  if (table) {
    PrintSummary(results);
  } else {
    PrintJson(options, devices, results);
  }
  porta_runtime_destroy(runtime);
  return results.errors.empty() ? 0 : 1;
}
