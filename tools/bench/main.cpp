// porta-bench: measures what Porta adds on top of each device — launch overhead and copy
// bandwidth — and prints every figure beside a baseline measured in the same run, with the ratio.
// Rows of the backends that ship benchmark code (OpenCL, Vulkan, CUDA) follow the CPU rows.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "porta/porta.h"
#include "tools/bench/bench_cpu.h"
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

void PrintUsage(std::FILE* out) {
  std::fputs(
      "usage: porta-bench [--device FILTER] [--quick] [--json]\n"
      "\n"
      "Measures launch overhead and copy bandwidth through Porta next to a raw baseline taken in\n"
      "the same run, and prints the medians of several repetitions with the ratio Porta/baseline.\n"
      "For times (us) a ratio above 1 means Porta is slower; for bandwidths (GB/s) below 1.\n"
      "\n"
      "  --device FILTER  devices to measure, PORTA_DEVICES syntax (e.g. \"cpu\", \"opencl:0\")\n"
      "  --quick          short runs (used by the tests); also sets PORTA_BENCH_QUICK=1\n"
      "  --json           print one JSON document instead of a table\n"
      "  --help           print this text\n",
      out);
}

bool ParseOptions(int argc, char** argv, Options* options, bool* help) {
  for (int i = 1; i < argc; ++i) {
    const char* arg = argv[i];
    if (std::strcmp(arg, "--quick") == 0) {
      options->quick = true;
    } else if (std::strcmp(arg, "--json") == 0) {
      options->json = true;
    } else if (std::strcmp(arg, "--help") == 0 || std::strcmp(arg, "-h") == 0) {
      *help = true;
    } else if (std::strcmp(arg, "--device") == 0) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "porta-bench: --device needs a value\n");
        return false;
      }
      options->has_device_filter = true;
      options->device_filter = argv[++i];
    } else {
      std::fprintf(stderr, "porta-bench: unknown argument '%s'\n", arg);
      return false;
    }
  }
  return true;
}

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

void PrintTable(const std::vector<BenchRow>& rows) {
  std::printf("%-34s %-40s %12s %-10s %12s %-25s %8s\n", "device", "benchmark", "porta", "unit",
              "baseline", "(baseline)", "ratio");
  for (const BenchRow& row : rows) {
    std::printf("%-34.34s %-40s %12.3f %-10s %12.3f %-25s %8.2f\n", row.device.c_str(),
                row.name.c_str(), row.porta, row.unit.c_str(), row.baseline,
                row.baseline_name.c_str(), row.ratio);
  }
}

void PrintJson(const Options& options, const std::vector<BenchRow>& rows, bool cpu_ok,
               const std::string& cpu_error, const std::vector<BackendResult>& backends) {
  porta::tools::JsonWriter json(stdout);
  json.BeginObject();
  json.Key("porta_version");
  json.String(porta_version_string());
  json.Key("quick");
  json.Bool(options.quick);
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
    json.Key("device");
    json.String(row.device);
    json.Key("benchmark");
    json.String(row.name);
    json.Key("unit");
    json.String(row.unit);
    json.Key("porta");
    json.Double(row.porta);
    json.Key("baseline_name");
    json.String(row.baseline_name);
    json.Key("baseline");
    json.Double(row.baseline);
    json.Key("ratio");
    json.Double(row.ratio);
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
    json.Key("backend");
    json.String(result.backend);
    json.Key("exit_code");
    json.Int(result.exit_code);
    json.Key("output");
    json.String(result.output);
    json.EndObject();
  }
  json.EndArray();
  json.EndObject();
  json.Finish();
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  bool help = false;
  if (!ParseOptions(argc, argv, &options, &help)) {
    PrintUsage(stderr);
    return 2;
  }
  if (help) {
    PrintUsage(stdout);
    return 0;
  }
  if (options.quick) setenv("PORTA_BENCH_QUICK", "1", 1);

  porta_runtime_options_t runtime_options = PORTA_RUNTIME_OPTIONS_INIT;
  if (options.has_device_filter) runtime_options.device_filter = options.device_filter.c_str();
  porta_runtime_t runtime = nullptr;
  const porta_status_t status = porta_runtime_create(&runtime_options, &runtime);
  if (status != PORTA_OK) {
    std::fprintf(stderr, "porta-bench: porta_runtime_create failed: %s: %s\n",
                 porta_status_string(status), porta_last_error_message());
    return 1;
  }

  const porta::bench::CpuBenchConfig config = porta::bench::CpuBenchConfigFor(options.quick);
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
    if (!rows.empty()) PrintTable(rows);
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
