// porta-bench: measures what Porta adds on top of each device — launch overhead, copy bandwidth,
// the operator library's kernels — and prints every figure beside a baseline measured in the same
// run, in one table for all devices (built-in backends and plugins alike), each comparison stated
// as a speed-up (above 1: Porta faster) next to its target where the project has set one. It
// reaches devices through porta.h and porta_ops.h only; the raw-API baselines of the built-in
// backends open their vendor libraries themselves.
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "porta/porta.h"
#include "tools/bench/bench_generic.h"
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
  std::vector<std::string> plugins;  // --plugin, in order
};

constexpr char kUsage[] =
    "usage: porta-bench [--devices FILTER] [--plugin PATH]... [--filter TEXT] [--quick] [--json]\n"
    "                   [--ops | --no-ops]\n"
    "\n"
    "Measures Porta on every device, built-in backends and plugins alike, next to a baseline\n"
    "taken in the same run, and prints one table: each row's median and spread (+-: the median\n"
    "absolute deviation of the repetitions, relative to the median), the baseline's, and the\n"
    "speed-up = how many times faster Porta is than the baseline (baseline time / Porta time, or\n"
    "Porta rate / baseline rate): above 1 Porta is faster, below 1 slower, the same direction on\n"
    "every row. A row without a baseline shows \"-\" and names its baseline \"none\". Where the\n"
    "project has set a goal, the target column shows the speed-up to reach and whether this run\n"
    "met it.\n"
    "\n"
    "Rows, by section (a row's \"section\" in --json; --filter matches it too):\n"
    "  generic   on every device, through porta.h alone: launch throughput and launch +\n"
    "            synchronize of an empty kernel in a format the device accepts (host, cubin,\n"
    "            hsaco, ptx, spirv-shader, opencl-c or spirv-kernel), event record + wait,\n"
    "            copies host to device, device to host and device to device, and a fill, of\n"
    "            64 MiB. Baselines: a host-format kernel's direct call and a thread handoff;\n"
    "            memcpy and a host fill of the same bytes (the ceiling of a device in host\n"
    "            memory, a reference only for a discrete one); none for the other rows\n"
    "  opencl, vulkan, cuda\n"
    "            the built-in backends' launches, copies and graph replays against their raw\n"
    "            APIs on the same device (graph replays also against the raw API's own\n"
    "            command buffer: Vulkan's, and OpenCL's cl_khr_command_buffer where the\n"
    "            driver has it)\n"
    "  pool      on every device: porta_buffer_alloc_async + free_async of 1 MiB against\n"
    "            porta_buffer_alloc + free\n"
    "  register  on every device: 64 MiB copies from and to memory registered with\n"
    "            porta_host_register against unregistered memory\n"
    "  graph     on every device: a graph replay of 100 empty launches against 100\n"
    "            porta_kernel_launch calls\n"
    "  ops       the operator library on every device it supports, each result checked first:\n"
    "            f32 matmul (GFLOP/s; OpenBLAS cblas_sgemm on the cpu device, CLBlast on\n"
    "            OpenCL), f16-weights matmul, block-quantized weights against the f32 product,\n"
    "            softmax, layernorm and add (GB/s of bytes read + written, beside a\n"
    "            device-to-device copy moving as many bytes), causal attention (ms, fused against\n"
    "            matmul + softmax + matmul)\n"
    "A result that disagrees with its reference, or a failing call, fails the run.\n"
    "\n"
    "  --devices FILTER devices to measure, PORTA_DEVICES syntax (e.g. \"cpu\", \"opencl:0\", a\n"
    "                   plugin's backend name)\n"
    "  --plugin PATH    also load this backend plugin (a shared library, or a folder of\n"
    "                   lib*.so files) and measure its devices; repeatable. Plugins named by\n"
    "                   PORTA_PLUGIN_PATH are measured too. A plugin named here that does not\n"
    "                   load, or has no device, fails the run with the runtime's reason\n"
    "  --filter TEXT    only rows whose section, device or name contains TEXT (case-insensitive;\n"
    "                   several texts separated by commas: a row matching any is measured)\n"
    "  --quick          short runs and small sizes (1 MiB copies; used by the tests)\n"
    "  --ops            only the operator rows\n"
    "  --no-ops         skip the operator rows (they take minutes on CPU-emulated devices)\n"
    "  --json           print one JSON document instead of the table\n"
    "  --version        print the version\n"
    "  --help           print this text\n"
    "\n"
    "On a terminal a progress line on stderr names the row being measured.\n"
    "\n"
    "JSON: {\"porta_version\", \"quick\", \"device_filter\" (string or null), \"filter\" (array),\n"
    "\"plugins\" (array), \"speedup\" (what the ratio means),\n"
    "\"devices\" ([{\"device\", \"name\", \"backend\"}]), \"rows\", \"errors\" and \"notes\"\n"
    "(arrays of strings)}.\n"
    "A row is {\"section\", \"device\", \"benchmark\", \"unit\", \"porta\", \"porta_spread\",\n"
    "\"baseline_name\", \"baseline\" (null without one), \"baseline_spread\", \"speedup\" (null\n"
    "without a baseline), \"target\" (null without one), \"target_met\" (null without a target or\n"
    "baseline)}. Spreads are fractions (0.05 = +-5%).\n"
    "\n"
    "Exit status: 0 when every row ran, 1 when a call failed, a result was wrong or a --plugin\n"
    "did not load or has no device, 2 for bad arguments.\n";

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
    sections.push_back({"generic", porta::bench::RunGenericRows});
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

// A device as the table's heading and the JSON document list it.
struct DeviceName {
  std::string label;  // "backend:index", the rows' device column
  std::string name;
  std::string backend;
};

void PrintJson(const Options& options, const std::vector<DeviceName>& devices,
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
  JsonStrings(json, "plugins", options.plugins);
  json.Key("devices");
  json.BeginArray();
  for (const DeviceName& device : devices) {
    json.BeginObject();
    json.StringMember("device", device.label);
    json.StringMember("name", device.name);
    json.StringMember("backend", device.backend);
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
std::vector<DeviceName> DeviceNames(porta_runtime_t runtime) {
  std::vector<DeviceName> names;
  for (const auto& [device, info] : porta::bench::DevicesOf(runtime, nullptr)) {
    names.push_back({porta::bench::DeviceLabel(info), info.name, info.backend});
  }
  return names;
}

// Whether the runtime's report |source| (a plugin file) came from --plugin |path|: the file
// itself, or a file inside the folder |path|.
bool FromPath(const std::string& source, const std::string& path) {
  return source == path || source.rfind(path + "/", 0) == 0;
}

// Says what became of the plugins: each --plugin path that found no plugin, or whose plugin did
// not load or has no device, is an error (the run was asked to measure it); any other plugin
// (PORTA_PLUGIN_PATH, the system plugin folder) that did not load is a note. Built-in backends
// without devices are not mentioned: porta-info lists them with their reasons.
void ReportPlugins(porta_runtime_t runtime, const std::vector<std::string>& plugins,
                   const RowSink& sink) {
  uint32_t count = 0;
  porta::bench::Check(porta_runtime_backend_count(runtime, &count), "porta_runtime_backend_count");
  std::vector<porta_backend_report_t> reports;
  for (uint32_t i = 0; i < count; ++i) {
    porta_backend_report_t report = PORTA_BACKEND_REPORT_INIT;
    porta::bench::Check(porta_runtime_backend_report(runtime, i, &report),
                        "porta_runtime_backend_report");
    if (std::strcmp(report.source, "built-in") != 0) reports.push_back(report);
  }
  for (const std::string& path : plugins) {
    bool found = false;
    for (const porta_backend_report_t& report : reports) {
      if (!FromPath(report.source, path)) continue;
      found = true;
      if (report.loaded == 0) {
        sink.error("--plugin " + path + ": " + report.source + " did not load: " + report.reason);
      } else if (report.device_count == 0) {
        sink.error("--plugin " + path + ": backend \"" + report.name + "\" (" + report.source +
                   ") has no device" + (report.reason[0] != '\0' ? ": " : "") + report.reason);
      }
    }
    if (!found) sink.error("--plugin " + path + ": no plugin there (a folder without lib*.so)");
  }
  for (const porta_backend_report_t& report : reports) {
    bool named = false;
    for (const std::string& path : plugins) named = named || FromPath(report.source, path);
    if (!named && report.loaded == 0) {
      sink.note(std::string("plugin ") + report.source + " did not load: " + report.reason);
    }
  }
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
       {"--plugin", nullptr, [&](const char* value) { options.plugins.emplace_back(value); }},
       {"--filter", nullptr, [&](const char* value) { options.filters = SplitFilter(value); }}});
  if (exit_now) return *exit_now;
  if (options.ops_only && options.no_ops) {
    std::fprintf(stderr, "porta-bench: --ops and --no-ops exclude each other\n");
    std::fputs(kUsage, stderr);
    return 2;
  }

  for (const std::string& path : options.plugins) {
    if (path.empty() || path.find(':') != std::string::npos) {
      std::fprintf(stderr,
                   "porta-bench: --plugin \"%s\": give one file or folder per --plugin (not empty, "
                   "no ':')\n",
                   path.c_str());
      std::fputs(kUsage, stderr);
      return 2;
    }
  }
  std::string plugin_paths;
  for (const std::string& path : options.plugins) {
    plugin_paths += (plugin_paths.empty() ? "" : ":") + path;
  }
  porta_runtime_t runtime = porta::tools::CreateRuntime(
      "porta-bench", plugin_paths.c_str(),
      options.has_device_filter ? options.device_filter.c_str() : nullptr);
  if (runtime == nullptr) return 1;

  std::vector<DeviceName> devices;
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
    for (const DeviceName& device : devices)
      std::printf("%-12s %s\n", device.label.c_str(), device.name.c_str());
    std::printf("\n");
    porta::bench::PrintTableHeader(stdout);
    std::fflush(stdout);
  }
  section_name = "plugins";
  try {
    ReportPlugins(runtime, options.plugins, sink);
  } catch (const porta::bench::Failure& failure) {
    sink.error(failure.text());
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
