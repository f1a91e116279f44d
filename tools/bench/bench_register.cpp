// The host memory registration rows of porta-bench (see bench_register.h).
#include "tools/bench/bench_register.h"

#include <cstdlib>
#include <cstring>
#include <string>

namespace porta::bench {
namespace {

constexpr uint64_t kPage = 4096;
constexpr const char* kToDeviceRow = "copy h2d from registered host memory";
constexpr const char* kToHostRow = "copy d2h into registered host memory";

// Page-aligned host memory, touched once so that no page fault lands in a timed copy.
class HostMemory {
 public:
  explicit HostMemory(uint64_t size)
      : data_(std::aligned_alloc(kPage, (size + kPage - 1) / kPage * kPage)) {
    if (data_ == nullptr) throw Failure("aligned_alloc of " + std::to_string(size) + " bytes");
    std::memset(data_, 0x5a, size);
  }
  ~HostMemory() { std::free(data_); }
  HostMemory(const HostMemory&) = delete;
  HostMemory& operator=(const HostMemory&) = delete;
  void* get() const { return data_; }

 private:
  void* data_;
};

// Registers a range for the life of the object.
class Registered {
 public:
  Registered(porta_device_t device, void* ptr, uint64_t size) : device_(device), ptr_(ptr) {
    Check(porta_host_register(device, ptr, size, PORTA_HOST_REGISTER_DEFAULT),
          "porta_host_register");
  }
  ~Registered() { porta_host_unregister(device_, ptr_); }
  Registered(const Registered&) = delete;
  Registered& operator=(const Registered&) = delete;

 private:
  porta_device_t device_;
  void* ptr_;
};

// Seconds for |copies| copies of |bytes| between |host| and |buffer| and a synchronize.
double CopySeconds(porta_stream_t stream, porta_buffer_t buffer, void* host, uint64_t bytes,
                   int copies, bool to_device) {
  const double start = NowSeconds();
  for (int i = 0; i < copies; ++i) {
    if (to_device) {
      Check(porta_copy_host_to_device(stream, buffer, 0, host, bytes), "porta_copy_host_to_device");
    } else {
      Check(porta_copy_device_to_host(stream, host, buffer, 0, bytes), "porta_copy_device_to_host");
    }
  }
  Check(porta_stream_synchronize(stream), "porta_stream_synchronize");
  return NowSeconds() - start;
}

}  // namespace

void RunRegisterRows(porta_runtime_t runtime, bool quick, const RowSink& sink) {
  const int repetitions = quick ? 3 : 7;
  const int copies = 4;
  const uint64_t bytes = quick ? uint64_t{4} << 20 : uint64_t{64} << 20;
  const double gigabytes = static_cast<double>(bytes) * copies / 1e9;
  for (const auto& [device, info] : DevicesOf(runtime, nullptr)) {
    const std::string name = DeviceLabel(info);
    const bool want_to_device = sink.Start(name, kToDeviceRow);
    const bool want_to_host = sink.Start(name, kToHostRow);
    if (!want_to_device && !want_to_host) continue;
    try {
      PortaObjects objects;
      Check(porta_stream_create(device, &objects.stream), "porta_stream_create");
      Check(porta_buffer_alloc(device, bytes, PORTA_MEMORY_DEVICE, &objects.buffers[0]),
            "porta_buffer_alloc");
      HostMemory plain(bytes);
      HostMemory pinned(bytes);
      Registered registered(device, pinned.get(), bytes);
      for (const bool to_device : {true, false}) {
        if (!(to_device ? want_to_device : want_to_host)) continue;
        auto rate = [&](void* host) {
          CopySeconds(objects.stream, objects.buffers[0], host, bytes, 1, to_device);
          return RateOf(gigabytes, MeasureOf(repetitions, [&] {
                          return CopySeconds(objects.stream, objects.buffers[0], host, bytes,
                                             copies, to_device);
                        }));
        };
        const Measure from_registered = rate(pinned.get());
        const Measure from_plain = rate(plain.get());
        sink.row(MakeRow(name, to_device ? kToDeviceRow : kToHostRow, "GB/s", from_registered,
                         "unregistered", from_plain));
      }
    } catch (const Failure& failure) {
      sink.error(name + ": " + failure.text());
    }
  }
}

}  // namespace porta::bench
