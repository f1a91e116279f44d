// porta-bench: measures what Porta adds on top of each device — launch overhead and copy
// bandwidth — and prints every figure beside a baseline measured in the same run, with the ratio.
// Rows of the backends that ship benchmark code (OpenCL, Vulkan, CUDA) follow the CPU rows.
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "porta/porta.h"
#include "tools/bench/bench_cpu.h"
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
  bool has_device_filter = false;
  std::string device_filter;
};

constexpr char kUsage[] =
    "usage: porta-bench [--device FILTER] [--quick] [--json]\n"
    "\n"
    "Measures launch overhead and copy bandwidth through Porta next to a raw baseline taken in\n"
    "the same run, and prints the medians of several repetitions with the ratio Porta/baseline.\n"
    "For times (us) a ratio above 1 means Porta is slower; for bandwidths (GB/s) below 1.\n"
    "\n"
    "  --device FILTER  devices to measure, PORTA_DEVICES syntax (e.g. \"cpu\", \"opencl:0\")\n"
    "  --quick          short runs (used by the tests); also sets PORTA_BENCH_QUICK=1\n"
    "  --json           print one JSON document instead of a table\n"
    "  --help           print this text\n";

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

void PrintJson(const Options& options, const std::vector<BenchRow>& rows, bool cpu_ok,
               const std::string& cpu_error, const std::vector<BackendResult>& backends) {
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
  for (const BenchRow& row : rows) {
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
                                      {"--device", nullptr, [&](const char* value) {
                                         options.has_device_filter = true;
                                         options.device_filter = value;
                                       }}});
  if (exit_now) return *exit_now;
  if (options.quick) setenv("PORTA_BENCH_QUICK", "1", 1);

  porta_runtime_t runtime = porta::tools::CreateRuntime(
      "porta-bench", nullptr, options.has_device_filter ? options.device_filter.c_str() : nullptr);
  if (runtime == nullptr) return 1;

  const porta::bench::BenchConfig config = porta::bench::CpuBenchConfigFor(options.quick);
  std::vector<BenchRow> rows;
  std::string cpu_error;
  const bool cpu_ok = porta::bench::RunCpuBench(runtime, config, &rows, &cpu_error);
  int exit_code = cpu_ok ? 0 : 1;

  if (options.json) {
    std::vector<BackendResult> backends;
    for (const BackendBench& bench : BackendBenches()) {
      backends.push_back(RunCaptured(bench, runtime));
      if (backends.back().exit_code != 0) exit_code = 1;
    }
    PrintJson(options, rows, cpu_ok, cpu_error, backends);
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
        std::fprintf(stderr, "porta-bench: the %s benchmark failed (exit code %d)\n", bench.backend,
                     code);
        exit_code = 1;
      }
    }
  }
  porta_runtime_destroy(runtime);
  return exit_code;
}
