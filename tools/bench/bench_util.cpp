#include "tools/bench/bench_util.h"

#include <utility>

namespace porta::bench {

double MedianOf(int repetitions, const std::function<double()>& sample) {
  std::vector<double> samples;
  for (int rep = 0; rep < repetitions; ++rep) samples.push_back(sample());
  return Median(samples);
}

BenchRow MakeRow(std::string device, std::string name, std::string unit, double porta,
                 std::string baseline_name, double baseline) {
  BenchRow row;
  row.device = std::move(device);
  row.name = std::move(name);
  row.unit = std::move(unit);
  row.porta = porta;
  row.baseline_name = std::move(baseline_name);
  row.baseline = baseline;
  row.ratio = baseline > 0.0 ? porta / baseline : 0.0;
  return row;
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

namespace {

bool IsNumber(Field field) {
  return field == Field::kPorta || field == Field::kBaseline || field == Field::kRatio;
}

const std::string& Text(const BenchRow& row, Field field) {
  switch (field) {
    case Field::kDevice:
      return row.device;
    case Field::kName:
      return row.name;
    case Field::kUnit:
      return row.unit;
    default:
      return row.baseline_name;
  }
}

double Number(const BenchRow& row, Field field) {
  switch (field) {
    case Field::kPorta:
      return row.porta;
    case Field::kBaseline:
      return row.baseline;
    default:
      return row.ratio;
  }
}

}  // namespace

void PrintHeader(std::FILE* out, std::span<const Column> columns) {
  for (size_t i = 0; i < columns.size(); ++i) {
    const Column& column = columns[i];
    std::fprintf(out, IsNumber(column.field) ? "%s%*s" : "%s%-*s", i == 0 ? "" : " ", column.width,
                 column.header);
  }
  std::fputc('\n', out);
}

void PrintRow(std::FILE* out, std::span<const Column> columns, const BenchRow& row) {
  for (size_t i = 0; i < columns.size(); ++i) {
    const Column& column = columns[i];
    const char* separator = i == 0 ? "" : " ";
    if (IsNumber(column.field)) {
      std::fprintf(out, "%s%*.*f", separator, column.width, column.decimals,
                   Number(row, column.field));
    } else if (column.field == Field::kDevice) {
      std::fprintf(out, "%s%-*.*s", separator, column.width, column.width,
                   Text(row, column.field).c_str());
    } else {
      std::fprintf(out, "%s%-*s", separator, column.width, Text(row, column.field).c_str());
    }
  }
  std::fputc('\n', out);
}

}  // namespace porta::bench
