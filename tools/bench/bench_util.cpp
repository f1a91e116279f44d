// The shared porta-bench helpers: measurement summaries, rows, failures, devices and the table.
#include "tools/bench/bench_util.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace porta::bench {

Measure Summarize(const std::vector<double>& samples) {
  Measure measure;
  if (samples.empty()) return measure;
  measure.median = Median(samples);
  std::vector<double> deviations;
  for (double sample : samples) deviations.push_back(std::fabs(sample - measure.median));
  if (measure.median > 0.0) measure.spread = Median(deviations) / measure.median;
  return measure;
}

Measure MeasureOf(int repetitions, const std::function<double()>& sample) {
  std::vector<double> samples;
  for (int rep = 0; rep < repetitions; ++rep) samples.push_back(sample());
  return Summarize(samples);
}

bool MeasurePair(int repetitions, const std::function<double()>& a,
                 const std::function<double()>& b, Measure* a_out, Measure* b_out) {
  std::vector<double> a_samples, b_samples;
  for (int rep = 0; rep < repetitions; ++rep) {
    for (int turn = 0; turn < 2; ++turn) {
      const bool a_turn = (turn == 0) == (rep % 2 == 0);
      const double sample = a_turn ? a() : b();
      if (sample < 0.0) return false;
      (a_turn ? a_samples : b_samples).push_back(sample);
    }
  }
  *a_out = Summarize(a_samples);
  *b_out = Summarize(b_samples);
  return true;
}

bool LowerIsBetter(const std::string& unit) {
  return unit.rfind("us", 0) == 0 || unit.rfind("ms", 0) == 0 || unit == "s";
}

BenchRow MakeRow(std::string device, std::string name, std::string unit, const Measure& porta,
                 std::string baseline_name, const Measure& baseline, double target) {
  BenchRow row;
  row.device = std::move(device);
  row.name = std::move(name);
  row.unit = std::move(unit);
  row.porta = porta;
  row.baseline_name = std::move(baseline_name);
  row.baseline = baseline;
  if (porta.median > 0.0 && baseline.median > 0.0) {
    row.speedup =
        LowerIsBetter(row.unit) ? baseline.median / porta.median : porta.median / baseline.median;
  }
  row.target = target;
  return row;
}

bool RowSink::Wants(const std::string& device, const std::string& name) const {
  return !wants || wants(device, name);
}

bool RowSink::Start(const std::string& device, const std::string& name) const {
  if (!Wants(device, name)) return false;
  if (progress) progress(device, name);
  return true;
}

std::string FailureText(porta_status_t status, const char* call) {
  return std::string(call) + " failed: " + porta_status_string(status) + ": " +
         porta_last_error_message();
}

bool Check(porta_status_t status, const char* call, std::string* error) {
  if (status == PORTA_OK) return true;
  *error = FailureText(status, call);
  return false;
}

void Check(porta_status_t status, const char* call) {
  if (status != PORTA_OK) throw Failure(FailureText(status, call));
}

PortaObjects::~PortaObjects() {
  for (porta_buffer_t buffer : buffers) {
    if (buffer != nullptr) porta_buffer_free(buffer);
  }
  if (module != nullptr) porta_module_destroy(module);
  if (stream != nullptr) porta_stream_destroy(stream);
}

bool CreateStreamAndKernel(porta_device_t device, const porta_module_source_t& source,
                           const char* kernel_name, PortaObjects* objects, porta_kernel_t* kernel,
                           std::string* error) {
  porta_module_desc_t desc = PORTA_MODULE_DESC_INIT;
  desc.sources = &source;
  desc.source_count = 1;
  return Check(porta_stream_create(device, &objects->stream), "porta_stream_create", error) &&
         Check(porta_module_load(device, &desc, &objects->module), "porta_module_load", error) &&
         Check(porta_module_get_kernel(objects->module, kernel_name, kernel),
               "porta_module_get_kernel", error);
}

LaunchGraph::LaunchGraph(porta_stream_t stream, porta_kernel_t kernel,
                         const porta_launch_config_t& config, const porta_kernel_arg_t* args,
                         uint32_t arg_count, int count)
    : stream_(stream) {
  Check(porta_stream_begin_capture(stream), "porta_stream_begin_capture");
  for (int i = 0; i < count; ++i) {
    Check(porta_kernel_launch(stream, kernel, &config, args, arg_count), "porta_kernel_launch");
  }
  porta_graph_t graph = nullptr;
  Check(porta_stream_end_capture(stream, &graph), "porta_stream_end_capture");
  const porta_status_t status = porta_graph_instantiate(graph, &exec_);
  porta_graph_destroy(graph);
  Check(status, "porta_graph_instantiate");
}

LaunchGraph::~LaunchGraph() {
  if (exec_ != nullptr) porta_graph_exec_destroy(exec_);
}

void LaunchGraph::Replay() {
  Check(porta_graph_launch(exec_, stream_), "porta_graph_launch");
}

std::string DeviceLabel(const porta_device_info_t& info) {
  return std::string(info.backend) + ":" + std::to_string(info.backend_device_index);
}

std::vector<std::pair<porta_device_t, porta_device_info_t>> DevicesOf(porta_runtime_t runtime,
                                                                      const char* backend) {
  uint32_t count = 0;
  Check(porta_runtime_device_count(runtime, &count), "porta_runtime_device_count");
  std::vector<std::pair<porta_device_t, porta_device_info_t>> devices;
  for (uint32_t i = 0; i < count; ++i) {
    porta_device_t device = nullptr;
    porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
    Check(porta_runtime_device(runtime, i, &device), "porta_runtime_device");
    Check(porta_device_get_info(device, &info), "porta_device_get_info");
    if (backend == nullptr || std::strcmp(info.backend, backend) == 0) {
      devices.emplace_back(device, info);
    }
  }
  return devices;
}

namespace {

// Four significant digits without an exponent for the figures a bench row holds (0.0123 us to
// 250 GFLOP/s), so the columns stay readable.
std::string Number(double value) {
  char text[32];
  const double magnitude = std::fabs(value);
  const int decimals = magnitude >= 1000.0  ? 0
                       : magnitude >= 100.0 ? 1
                       : magnitude >= 10.0  ? 2
                       : magnitude >= 1.0   ? 3
                                            : 4;
  std::snprintf(text, sizeof(text), "%.*f", decimals, value);
  return text;
}

std::string Percent(const Measure& measure) {
  char text[16];
  std::snprintf(text, sizeof(text), "%.0f%%", 100.0 * measure.spread);
  return text;
}

// Cuts |text| to |width| characters so that long driver names keep the columns aligned.
std::string Cut(const std::string& text, size_t width) {
  return text.size() <= width ? text : text.substr(0, width);
}

}  // namespace

void PrintTableHeader(std::FILE* out) {
  std::fprintf(out, "%-12s %-40s %-9s %10s %5s %10s %5s %-26s %8s %s\n", "device", "benchmark",
               "unit", "porta", "+-", "baseline", "+-", "(baseline)", "speed-up", "target");
}

void PrintTableRow(std::FILE* out, const BenchRow& row) {
  const bool has_baseline = row.baseline.median > 0.0;
  std::string target = "-";
  if (row.target > 0.0) {
    char text[32];
    std::snprintf(text, sizeof(text), ">= %.2f %s", row.target,
                  !has_baseline               ? "(no baseline)"
                  : row.speedup >= row.target ? "met"
                                              : "MISSED");
    target = text;
  }
  char speedup[32] = "-";
  if (has_baseline) std::snprintf(speedup, sizeof(speedup), "%.2f", row.speedup);
  std::fprintf(out, "%-12s %-40s %-9s %10s %5s %10s %5s %-26s %8s %s\n",
               Cut(row.device, 12).c_str(), Cut(row.name, 40).c_str(), row.unit.c_str(),
               Number(row.porta.median).c_str(), Percent(row.porta).c_str(),
               has_baseline ? Number(row.baseline.median).c_str() : "-",
               has_baseline ? Percent(row.baseline).c_str() : "",
               Cut(row.baseline_name, 26).c_str(), speedup, target.c_str());
}

}  // namespace porta::bench
