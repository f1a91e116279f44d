// The caching-allocator rows of porta-bench (see bench_pool.h).
#include "tools/bench/bench_pool.h"

#include <string>

namespace porta::bench {
namespace {

constexpr uint64_t kBytes = uint64_t{1} << 20;
constexpr const char* kRow = "pool alloc_async+free_async 1 MiB";
// The goal: a pooled allocation and free at least 20 times faster than the backend's own.
constexpr double kTarget = 20.0;

// Destroys the stream however the device's row ends.
class StreamOwner {
 public:
  explicit StreamOwner(porta_device_t device) {
    Check(porta_stream_create(device, &stream_), "porta_stream_create");
  }
  ~StreamOwner() {
    if (stream_ != nullptr) porta_stream_destroy(stream_);
  }
  StreamOwner(const StreamOwner&) = delete;
  StreamOwner& operator=(const StreamOwner&) = delete;
  porta_stream_t get() const { return stream_; }

 private:
  porta_stream_t stream_ = nullptr;
};

// µs per alloc_async + free_async pair over |pairs| pairs on |stream|.
double PooledPairUs(porta_stream_t stream, int pairs) {
  const double start = NowSeconds();
  for (int i = 0; i < pairs; ++i) {
    porta_buffer_t buffer = nullptr;
    Check(porta_buffer_alloc_async(stream, kBytes, PORTA_MEMORY_DEVICE, &buffer),
          "porta_buffer_alloc_async");
    Check(porta_buffer_free_async(stream, buffer), "porta_buffer_free_async");
  }
  return (NowSeconds() - start) * 1e6 / pairs;
}

// µs per porta_buffer_alloc + porta_buffer_free pair over |pairs| pairs on |device|.
double RawPairUs(porta_device_t device, int pairs) {
  const double start = NowSeconds();
  for (int i = 0; i < pairs; ++i) {
    porta_buffer_t buffer = nullptr;
    Check(porta_buffer_alloc(device, kBytes, PORTA_MEMORY_DEVICE, &buffer), "porta_buffer_alloc");
    Check(porta_buffer_free(buffer), "porta_buffer_free");
  }
  return (NowSeconds() - start) * 1e6 / pairs;
}

}  // namespace

void RunPoolRows(porta_runtime_t runtime, bool quick, const RowSink& sink) {
  const int repetitions = quick ? 3 : 7;
  const int pooled_pairs = quick ? 200 : 20000;
  const int raw_pairs = quick ? 20 : 500;
  for (const auto& [device, info] : DevicesOf(runtime, nullptr)) {
    const std::string name = DeviceLabel(info);
    if (!sink.Start(name, kRow)) continue;
    try {
      StreamOwner stream(device);
      // One pair first, so that the pool holds the block and every timed allocation is a hit.
      PooledPairUs(stream.get(), 1);
      const Measure pooled =
          MeasureOf(repetitions, [&] { return PooledPairUs(stream.get(), pooled_pairs); });
      RawPairUs(device, 1);
      const Measure raw = MeasureOf(repetitions, [&] { return RawPairUs(device, raw_pairs); });
      Check(porta_stream_synchronize(stream.get()), "porta_stream_synchronize");
      sink.row(MakeRow(name, kRow, "us", pooled, "alloc+free", raw, kTarget));
    } catch (const Failure& failure) {
      sink.error(name + ": " + failure.text());
    }
  }
}

}  // namespace porta::bench
