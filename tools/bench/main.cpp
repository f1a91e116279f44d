// porta-bench: measures what Porta adds on top of each device — launch overhead and copy
// bandwidth — and prints every figure beside a baseline measured in the same run, with the ratio.
// Rows of the backends that ship benchmark code (OpenCL, Vulkan, CUDA) follow the CPU rows, and
// the operator library's rows (matmul, memory-bound ops, attention on every device) come last.
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "porta/porta.h"
#include "tools/bench/bench_cpu.h"
#include "tools/bench/bench_ops.h"
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

struct Options {
  bool quick = false;
  bool json = false;
  bool ops_only = false;
  bool no_ops = false;
  bool has_device_filter = false;
  std::string device_filter;
};

constexpr char kUsage[] =
    "usage: porta-bench [--device FILTER] [--quick] [--json] [--ops | --no-ops]\n"
    "\n"
    "Measures launch overhead and copy bandwidth through Porta next to a raw baseline taken in\n"
    "the same run, and prints the medians of several repetitions with the ratio Porta/baseline.\n"
    "For times (us, ms) a ratio above 1 means Porta is slower; for rates (GB/s, GFLOP/s) below 1.\n"
    "\n"
    "The operator rows measure libporta_ops on every device, each result checked first: f32\n"
    "matmul (GFLOP/s; baseline OpenBLAS cblas_sgemm on the cpu device, CLBlast on OpenCL\n"
    "devices, none elsewhere), f16-weights matmul (no baseline), softmax, layernorm and add\n"
    "(GB/s of bytes read + written, beside a device-to-device copy moving as many bytes), and\n"
    "causal attention (ms, fused against matmul + softmax + matmul; ratio fused/composed).\n"
    "A result that disagrees with its reference, or a failing call, fails the run.\n"
    "\n"
    "  --device FILTER  devices to measure, PORTA_DEVICES syntax (e.g. \"cpu\", \"opencl:0\")\n"
    "  --quick          short runs and tiny shapes (used by the tests); also sets\n"
    "                   PORTA_BENCH_QUICK=1\n"
    "  --ops            only the operator rows\n"
    "  --no-ops         skip the operator rows (they take minutes on CPU-emulated devices)\n"
    "  --json           print one JSON document instead of a table\n"
    "  --help           print this text\n"
    "\n"
    "JSON: {\"porta_version\", \"quick\", \"device_filter\" (string or null), \"rows\" (the cpu\n"
    "rows), \"cpu_error\" (string or null), \"backend_benchmarks\" ([{\"backend\", \"exit_code\",\n"
    "\"output\" (that backend's table as text)}]), \"ops_rows\" (the operator rows),\n"
    "\"ops_errors\" and \"ops_notes\" (arrays of strings)}. A row is {\"device\", \"benchmark\",\n"
    "\"unit\", \"porta\", \"baseline_name\", \"baseline\", \"ratio\"} (ratio 0 without a\n"
    "baseline). Sections that --ops or --no-ops skip are empty.\n";

// A backend's benchmark entry point, as the backend engineers define it.
using BackendBenchFn = int (*)(porta_runtime_t runtime, std::FILE* out);

struct BackendBench {
  const char* backend;
  BackendBenchFn fn;
};

std::vector<BackendBench> BackendBenches() {
  std::vector<BackendBench> benches;
#ifdef PORTA_BENCH_HAS_OPENCL
  benches.push_back({"opencl", porta_bench_opencl});
#endif
#ifdef PORTA_BENCH_HAS_VULKAN
  benches.push_back({"vulkan", porta_bench_vulkan});
#endif
#ifdef PORTA_BENCH_HAS_CUDA
  benches.push_back({"cuda", porta_bench_cuda});
#endif
  return benches;
}

struct BackendResult {
  const char* backend;
  int exit_code;
  std::string output;
};

// Runs a backend's benchmark with its output captured in a temporary file, so that --json can
// carry it as a string and stdout stays one valid JSON document.
BackendResult RunCaptured(const BackendBench& bench, porta_runtime_t runtime) {
  BackendResult result{bench.backend, 0, ""};
  std::FILE* capture = std::tmpfile();
  if (capture == nullptr) {
    result.exit_code = 1;
    result.output = "porta-bench: could not create a temporary file to capture the output";
    return result;
  }
  result.exit_code = bench.fn(runtime, capture);
  std::fflush(capture);
  std::rewind(capture);
  char chunk[4096];
  size_t read = 0;
  while ((read = std::fread(chunk, 1, sizeof(chunk), capture)) > 0)
    result.output.append(chunk, read);
  std::fclose(capture);
  return result;
}

// The CPU table names its baseline on each row, since it differs per row.
constexpr porta::bench::Column kCpuColumns[] = {
    {porta::bench::Field::kDevice, 34, "device"},
    {porta::bench::Field::kName, 40, "benchmark"},
    {porta::bench::Field::kPorta, 12, "porta"},
    {porta::bench::Field::kUnit, 10, "unit"},
    {porta::bench::Field::kBaseline, 12, "baseline"},
    {porta::bench::Field::kBaselineName, 25, "(baseline)"},
    {porta::bench::Field::kRatio, 8, "ratio", 2}};

// What the operator rows reported, for --json.
struct OpsResults {
  std::vector<BenchRow> rows;
  std::vector<std::string> errors;
  std::vector<std::string> notes;
};

void JsonRow(porta::tools::JsonWriter& json, const BenchRow& row) {
  json.BeginObject();
  json.StringMember("device", row.device);
  json.StringMember("benchmark", row.name);
  json.StringMember("unit", row.unit);
  json.DoubleMember("porta", row.porta);
  json.StringMember("baseline_name", row.baseline_name);
  json.DoubleMember("baseline", row.baseline);
  json.DoubleMember("ratio", row.ratio);
  json.EndObject();
}

void JsonStrings(porta::tools::JsonWriter& json, const char* key,
                 const std::vector<std::string>& strings) {
  json.Key(key);
  json.BeginArray();
  for (const std::string& text : strings) json.String(text);
  json.EndArray();
}

void PrintJson(const Options& options, const std::vector<BenchRow>& rows, bool cpu_ok,
               const std::string& cpu_error, const std::vector<BackendResult>& backends,
               const OpsResults& ops) {
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
  json.Key("rows");
  json.BeginArray();
  for (const BenchRow& row : rows) JsonRow(json, row);
  json.EndArray();
  json.Key("cpu_error");
  if (cpu_ok) {
    json.Null();
  } else {
    json.String(cpu_error);
  }
  json.Key("backend_benchmarks");
  json.BeginArray();
  for (const BackendResult& result : backends) {
    json.BeginObject();
    json.StringMember("backend", result.backend);
    json.IntMember("exit_code", result.exit_code);
    json.StringMember("output", result.output);
    json.EndObject();
  }
  json.EndArray();
  json.Key("ops_rows");
  json.BeginArray();
  for (const BenchRow& row : ops.rows) JsonRow(json, row);
  json.EndArray();
  JsonStrings(json, "ops_errors", ops.errors);
  JsonStrings(json, "ops_notes", ops.notes);
  json.EndObject();
  json.Finish();
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  const std::optional<int> exit_now =
      porta::tools::ParseCommandLine("porta-bench", kUsage, argc, argv,
                                     {{"--quick", &options.quick},
                                      {"--json", &options.json},
                                      {"--ops", &options.ops_only},
                                      {"--no-ops", &options.no_ops},
                                      {"--device", nullptr, [&](const char* value) {
                                         options.has_device_filter = true;
                                         options.device_filter = value;
                                       }}});
  if (exit_now) return *exit_now;
  if (options.ops_only && options.no_ops) {
    std::fprintf(stderr, "porta-bench: --ops and --no-ops exclude each other\n");
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (options.quick) setenv("PORTA_BENCH_QUICK", "1", 1);

  porta_runtime_t runtime = porta::tools::CreateRuntime(
      "porta-bench", nullptr, options.has_device_filter ? options.device_filter.c_str() : nullptr);
  if (runtime == nullptr) return 1;

  const porta::bench::BenchConfig config = porta::bench::CpuBenchConfigFor(options.quick);
  std::vector<BenchRow> rows;
  std::string cpu_error;
  const bool cpu_ok =
      options.ops_only || porta::bench::RunCpuBench(runtime, config, &rows, &cpu_error);
  int exit_code = cpu_ok ? 0 : 1;

  if (options.json) {
    std::vector<BackendResult> backends;
    if (!options.ops_only) {
      for (const BackendBench& bench : BackendBenches()) {
        backends.push_back(RunCaptured(bench, runtime));
        if (backends.back().exit_code != 0) exit_code = 1;
      }
    }
    OpsResults ops;
    if (!options.no_ops) {
      const porta::bench::OpsSink sink{[&](const BenchRow& row) { ops.rows.push_back(row); },
                                       [&](const std::string& text) { ops.errors.push_back(text); },
                                       [&](const std::string& text) { ops.notes.push_back(text); }};
      if (!porta::bench::RunOpsBench(runtime, options.quick, sink)) exit_code = 1;
    }
    PrintJson(options, rows, cpu_ok, cpu_error, backends, ops);
  } else {
    if (options.ops_only) {
      std::printf("porta-bench %s%s: operator rows only\n", porta_version_string(),
                  options.quick ? " (quick)" : "");
    } else {
      std::printf("porta-bench %s%s: medians of %d repetitions\n\n", porta_version_string(),
                  options.quick ? " (quick)" : "", config.repetitions);
      if (rows.empty() && cpu_ok) std::printf("no cpu device passed the device filter\n");
      if (!rows.empty()) {
        porta::bench::PrintHeader(stdout, kCpuColumns);
        for (const BenchRow& row : rows) porta::bench::PrintRow(stdout, kCpuColumns, row);
      }
      if (!cpu_ok) std::fprintf(stderr, "porta-bench: cpu rows failed: %s\n", cpu_error.c_str());
      for (const BackendBench& bench : BackendBenches()) {
        std::printf("\n== %s ==\n", bench.backend);
        std::fflush(stdout);
        const int code = bench.fn(runtime, stdout);
        std::fflush(stdout);
        if (code != 0) {
          std::fprintf(stderr, "porta-bench: the %s benchmark failed (exit code %d)\n",
                       bench.backend, code);
          exit_code = 1;
        }
      }
    }
    if (!options.no_ops) {
      // Rows are printed as they are measured: a full run takes minutes.
      std::printf("\n== ops ==\n%s\n", porta::bench::OpsLegend());
      porta::bench::PrintHeader(stdout, porta::bench::OpsColumns());
      std::fflush(stdout);
      int errors = 0;
      const porta::bench::OpsSink sink{[](const BenchRow& row) {
                                         porta::bench::PrintRow(stdout, porta::bench::OpsColumns(),
                                                                row);
                                         std::fflush(stdout);
                                       },
                                       [&](const std::string& text) {
                                         ++errors;
                                         std::printf("error: %s\n", text.c_str());
                                         std::fflush(stdout);
                                       },
                                       [](const std::string& text) {
                                         std::printf("note: %s\n", text.c_str());
                                         std::fflush(stdout);
                                       }};
      if (!porta::bench::RunOpsBench(runtime, options.quick, sink)) {
        std::fprintf(stderr, "porta-bench: the operator rows failed (%d error%s above)\n", errors,
                     errors == 1 ? "" : "s");
        exit_code = 1;
      }
    }
  }
  porta_runtime_destroy(runtime);
  return exit_code;
}
