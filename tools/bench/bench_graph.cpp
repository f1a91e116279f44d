// Graph replay against separate launches: both sequences queue the same empty kernel on the same
// stream and end with a synchronize, so the difference is the per-launch cost a replay saves.
#include "tools/bench/bench_graph.h"

#include <string>
#include <vector>

#include "tools/bench/bench_kernels.h"

namespace porta::bench {
namespace {

// Destroys the stream however the device's row ends.
struct StreamOwner {
  ~StreamOwner() {
    if (stream != nullptr) porta_stream_destroy(stream);
  }
  porta_stream_t stream = nullptr;
};

const std::string& RowName() {
  static const std::string name =
      "graph replay of " + std::to_string(kGraphLaunches) + " empty launches + sync";
  return name;
}

void BenchDevice(porta_device_t device, const porta_device_info_t& info, bool quick,
                 const RowSink& sink) {
  // The stream goes after the module and the graph (declared before them).
  StreamOwner owner;
  Check(porta_stream_create(device, &owner.stream), "porta_stream_create");
  const EmptyKernel empty(device, info);
  const porta_stream_t stream = owner.stream;
  auto queue_launches = [&] {
    for (int i = 0; i < kGraphLaunches; ++i) {
      Check(porta_kernel_launch(stream, empty.kernel(), &empty.config(), nullptr, 0),
            "porta_kernel_launch");
    }
  };
  LaunchGraph graph(stream, empty.kernel(), empty.config(), nullptr, 0, kGraphLaunches);

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
  sink.row(MakeRow(DeviceLabel(info), RowName(), "us", Scale(Summarize(replay_s), 1e6),
                   std::to_string(kGraphLaunches) + " porta_kernel_launch + sync",
                   Scale(Summarize(separate_s), 1e6)));
}

}  // namespace

void RunGraphRows(porta_runtime_t runtime, bool quick, const RowSink& sink) {
  for (const auto& [device, info] : DevicesOf(runtime, nullptr)) {
    if (EmptyKernel::FormatFor(info) == 0) continue;
    const std::string name = DeviceLabel(info);
    if (!sink.Start(name, RowName())) continue;
    try {
      BenchDevice(device, info, quick, sink);
    } catch (const Failure& failure) {
      sink.error(name + ": " + failure.text());
    }
  }
}

}  // namespace porta::bench
