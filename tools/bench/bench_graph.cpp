// Graph replay against separate launches: both sequences queue the same empty kernel on the same
// stream and end with a synchronize, so the difference is the per-launch cost a replay saves.
#include "tools/bench/bench_graph.h"

#include <string>
#include <vector>

namespace porta::bench {
namespace {

int32_t EmptyHostKernel(const porta_host_group_t* group) {
  return group == nullptr ? 1 : 0;
}

const porta_host_kernel_t kHostKernels[] = {{"empty", EmptyHostKernel}};

constexpr char kOpenClKernel[] = "__kernel void empty(void) {}\n";

// The shader's fixed work-group size, used on every device so that one launch shape is measured.
constexpr uint32_t kBlock = kEmptyShaderBlock;

// Destroys what one device's run created, however it ends.
struct GraphObjects {
  ~GraphObjects() {
    if (stream != nullptr) porta_stream_destroy(stream);
    if (module != nullptr) porta_module_destroy(module);
  }
  porta_stream_t stream = nullptr;
  porta_module_t module = nullptr;
};

const std::string& RowName() {
  static const std::string name =
      "graph replay of " + std::to_string(kGraphLaunches) + " empty launches + sync";
  return name;
}

void BenchDevice(porta_device_t device, const std::string& device_name, bool quick,
                 const RowSink& sink) {
  const porta_module_source_t sources[] = {
      {PORTA_FORMAT_HOST, kHostKernels, sizeof(kHostKernels), nullptr, nullptr, 0},
      {PORTA_FORMAT_OPENCL_C, kOpenClKernel, sizeof(kOpenClKernel) - 1, nullptr, nullptr, 0},
      {PORTA_FORMAT_SPIRV_SHADER, kEmptyShaderSpirv, kEmptyShaderSpirvSize, nullptr, nullptr, 0}};
  porta_module_desc_t desc = PORTA_MODULE_DESC_INIT;
  desc.sources = sources;
  desc.source_count = 3;
  GraphObjects objects;
  porta_kernel_t kernel = nullptr;
  Check(porta_stream_create(device, &objects.stream), "porta_stream_create");
  Check(porta_module_load(device, &desc, &objects.module), "porta_module_load");
  Check(porta_module_get_kernel(objects.module, "empty", &kernel), "porta_module_get_kernel");
  porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
  config.block[0] = kBlock;
  porta_stream_t stream = objects.stream;
  auto queue_launches = [&] {
    for (int i = 0; i < kGraphLaunches; ++i) {
      Check(porta_kernel_launch(stream, kernel, &config, nullptr, 0), "porta_kernel_launch");
    }
  };
  LaunchGraph graph(stream, kernel, config, nullptr, 0, kGraphLaunches);

  auto separate = [&] {
    const double start = NowSeconds();
    queue_launches();
    Check(porta_stream_synchronize(stream), "porta_stream_synchronize");
    return NowSeconds() - start;
  };
  auto replay = [&] {
    const double start = NowSeconds();
    graph.Replay();
    Check(porta_stream_synchronize(stream), "porta_stream_synchronize");
    return NowSeconds() - start;
  };
  // Warm both paths (first-launch compilation, pipeline creation), then interleave the samples
  // so that a change in machine load affects both alike.
  separate();
  replay();
  const int repetitions = quick ? 5 : 41;
  std::vector<double> separate_s, replay_s;
  for (int r = 0; r < repetitions; ++r) {
    separate_s.push_back(separate());
    replay_s.push_back(replay());
  }
  sink.row(MakeRow(device_name, RowName(), "us", Scale(Summarize(replay_s), 1e6),
                   std::to_string(kGraphLaunches) + " porta_kernel_launch + sync",
                   Scale(Summarize(separate_s), 1e6)));
}

}  // namespace

void RunGraphRows(porta_runtime_t runtime, bool quick, const RowSink& sink) {
  uint32_t count = 0;
  Check(porta_runtime_device_count(runtime, &count), "porta_runtime_device_count");
  constexpr uint32_t kFormats = PORTA_FORMAT_BIT(PORTA_FORMAT_HOST) |
                                PORTA_FORMAT_BIT(PORTA_FORMAT_OPENCL_C) |
                                PORTA_FORMAT_BIT(PORTA_FORMAT_SPIRV_SHADER);
  for (uint32_t d = 0; d < count; ++d) {
    porta_device_t device = nullptr;
    Check(porta_runtime_device(runtime, d, &device), "porta_runtime_device");
    porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
    Check(porta_device_get_info(device, &info), "porta_device_get_info");
    if ((info.kernel_formats & kFormats) == 0) continue;
    const std::string device_name = DeviceLabel(info);
    if (!sink.Start(device_name, RowName())) continue;
    BenchDevice(device, device_name, quick, sink);
  }
}

}  // namespace porta::bench
