// porta-stress: a bounded-time, multi-thread stress run of the runtime on every device the filter
// (PORTA_DEVICES) selects. Four phases share the time budget: threads x streams round trips with
// events between each thread's streams on every device at once; events across devices; destroy
// races (objects destroyed on one thread while others use other objects of the same device, and
// stale handles used concurrently); and timing queries that must answer at once while the device
// is busy. Every copied byte is checked. Built plain and under ThreadSanitizer (docs/testing.md).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "conformance/kernels/test_kernels.h"
#include "porta/porta.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  double seconds = 8.0;
  int threads = 8;
  int streams = 2;
};

// Failures of every thread, reported at the end (the first few in full).
class Failures {
 public:
  void Add(const std::string& text) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (texts_.size() < 20) texts_.push_back(text);
    ++count_;
  }
  // Records |status| unless it is PORTA_OK; returns whether it was.
  bool Check(porta_status_t status, const std::string& what) {
    if (status == PORTA_OK) return true;
    Add(what + ": " + porta_status_string(status) + ": " + porta_last_error_message());
    return false;
  }
  size_t count() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return count_;
  }
  void Print() const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const std::string& text : texts_) std::fprintf(stderr, "  FAIL %s\n", text.c_str());
    if (count_ > texts_.size()) std::fprintf(stderr, "  ... %zu more\n", count_ - texts_.size());
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> texts_;
  size_t count_ = 0;
};

struct Device {
  porta_device_t handle = nullptr;
  std::string label;
  uint64_t capabilities = 0;
  porta_module_t module = nullptr;
  porta_kernel_t vector_add = nullptr;  // null when no format of the test kernel fits
};

std::vector<float> RandomFloats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-100.0f, 100.0f);
  std::vector<float> out(n);
  for (float& value : out) value = dist(rng);
  return out;
}

void RunThreads(int count, const std::function<void(int)>& body) {
  std::vector<std::thread> threads;
  for (int t = 0; t < count; ++t) threads.emplace_back(body, t);
  for (std::thread& thread : threads) thread.join();
}

// Phase 1: on every device at once, |threads| threads with |streams| streams each. Per
// iteration a thread allocates, uploads, adds (or copies) on one stream, records an event that
// the next stream waits on, copies the result there and back to the host, records an event that
// the first stream waits on, asks for the time between the two events (which must not block),
// and frees the buffers and events while the work is still queued. Every few iterations it
// synchronizes and checks every element.
uint64_t RoundTrips(const std::vector<Device>& devices, const Options& options,
                    Clock::time_point end, Failures* failures) {
  std::atomic<uint64_t> iterations{0};
  const int workers = options.threads * static_cast<int>(devices.size());
  RunThreads(workers, [&](int worker) {
    const Device& device = devices[worker % devices.size()];
    const int t = worker / static_cast<int>(devices.size());
    std::vector<porta_stream_t> streams(options.streams, nullptr);
    for (porta_stream_t& stream : streams) {
      if (!failures->Check(porta_stream_create(device.handle, &stream), device.label + " stream")) {
        return;
      }
    }
    const bool timing = (device.capabilities & PORTA_CAP_TIMESTAMPS) != 0;
    struct Pending {
      std::string where;
      std::vector<float> a, b, out;
    };
    constexpr size_t kInFlight = 6;
    std::deque<Pending> pending;
    // Synchronizes every stream and checks the iterations queued since the last time.
    auto settle = [&] {
      bool synced = true;
      for (porta_stream_t stream : streams) {
        synced = failures->Check(porta_stream_synchronize(stream), device.label + " synchronize") &&
                 synced;
      }
      for (const Pending& p : pending) {
        if (!synced) break;
        for (size_t k = 0; k < p.out.size(); ++k) {
          const float expected = device.vector_add != nullptr ? p.a[k] + p.b[k] : p.a[k];
          if (std::fabs(p.out[k] - expected) > 1e-5f * std::max(1.0f, std::fabs(expected))) {
            failures->Add(p.where + ": element " + std::to_string(k) + " is " +
                          std::to_string(p.out[k]) + ", expected " + std::to_string(expected));
            break;
          }
        }
        iterations.fetch_add(1);
      }
      pending.clear();
      return synced;
    };
    for (uint32_t i = 0; Clock::now() < end; ++i) {
      const std::string where =
          device.label + " thread " + std::to_string(t) + " iteration " + std::to_string(i);
      porta_stream_t first = streams[i % streams.size()];
      porta_stream_t second = streams[(i + 1) % streams.size()];
      const uint32_t n = 1024 + 61 * ((t * 7 + i) % 64);
      const uint64_t bytes = uint64_t{n} * sizeof(float);
      // The inputs stay alive with the outputs until the streams are synchronized: a copy from
      // host memory reads it when it runs.
      pending.push_back({where, RandomFloats(n, t * 100003u + i),
                         RandomFloats(n, t * 100003u + i + 50000u), std::vector<float>(n, -1.0f)});
      const std::vector<float>& a = pending.back().a;
      const std::vector<float>& b = pending.back().b;
      std::vector<float>& out = pending.back().out;
      porta_buffer_t buffers[4] = {};
      porta_event_t events[2] = {};
      bool ok = true;
      for (porta_buffer_t& buffer : buffers) {
        ok = ok &&
             failures->Check(porta_buffer_alloc(device.handle, bytes, PORTA_MEMORY_DEVICE, &buffer),
                             where + " alloc");
      }
      for (porta_event_t& event : events) {
        ok = ok &&
             failures->Check(porta_event_create(
                                 device.handle,
                                 timing ? PORTA_EVENT_DEFAULT : PORTA_EVENT_DISABLE_TIMING, &event),
                             where + " event_create");
      }
      ok = ok &&
           failures->Check(porta_copy_host_to_device(first, buffers[0], 0, a.data(), bytes),
                           where + " h2d a") &&
           failures->Check(porta_copy_host_to_device(first, buffers[1], 0, b.data(), bytes),
                           where + " h2d b");
      if (ok && device.vector_add != nullptr) {
        porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
        config.block[0] = 64;
        config.grid[0] = (n + 63) / 64;
        const porta_kernel_arg_t args[] = {
            porta_arg_buffer(buffers[0], 0), porta_arg_buffer(buffers[1], 0),
            porta_arg_buffer(buffers[2], 0), porta_arg_scalar(&n, 4)};
        ok = failures->Check(porta_kernel_launch(first, device.vector_add, &config, args, 4),
                             where + " launch");
      } else if (ok) {
        ok =
            failures->Check(porta_copy_device_to_device(first, buffers[2], 0, buffers[0], 0, bytes),
                            where + " d2d");
      }
      ok = ok && failures->Check(porta_event_record(events[0], first), where + " record 0") &&
           failures->Check(porta_stream_wait_event(second, events[0]), where + " wait 0") &&
           failures->Check(porta_copy_device_to_device(second, buffers[3], 0, buffers[2], 0, bytes),
                           where + " d2d c") &&
           failures->Check(porta_copy_device_to_host(second, out.data(), buffers[3], 0, bytes),
                           where + " d2h") &&
           failures->Check(porta_event_record(events[1], second), where + " record 1") &&
           failures->Check(porta_stream_wait_event(first, events[1]), where + " wait 1");
      if (ok && timing) {
        float ms = 0.0f;
        const porta_status_t status = porta_event_elapsed_ms(events[0], events[1], &ms);
        if (status != PORTA_OK && status != PORTA_NOT_READY) {
          failures->Check(status, where + " elapsed_ms");
        }
      }
      // Freed while the copies may still be queued: the queued work keeps the memory.
      for (porta_buffer_t buffer : buffers) {
        if (buffer != nullptr) failures->Check(porta_buffer_free(buffer), where + " free");
      }
      for (porta_event_t event : events) {
        if (event != nullptr) failures->Check(porta_event_destroy(event), where + " event_destroy");
      }
      // Up to kInFlight iterations stay queued (the inputs were captured by the copies; the
      // outputs stay alive in |pending|) before the streams are synchronized and checked.
      if (!ok || pending.size() == kInFlight || Clock::now() >= end) {
        ok = settle() && ok;
      }
      if (!ok) break;
    }
    settle();
    for (porta_stream_t stream : streams) porta_stream_destroy(stream);
  });
  return iterations.load();
}

// Phase 2: a chain through every device. Each thread uploads to device d, reads back to the
// host on d's stream and records an event; the stream of device d+1 waits on it (the runtime
// blocks the host for a foreign event), uploads the bytes read back, and so on around the ring;
// the last read must equal the first upload.
uint64_t CrossDevice(const std::vector<Device>& devices, const Options& options,
                     Clock::time_point end, Failures* failures) {
  std::atomic<uint64_t> iterations{0};
  RunThreads(options.threads, [&](int t) {
    std::vector<porta_stream_t> streams(devices.size(), nullptr);
    bool ok = true;
    for (size_t d = 0; d < devices.size(); ++d) {
      ok = ok && failures->Check(porta_stream_create(devices[d].handle, &streams[d]),
                                 devices[d].label + " stream");
    }
    for (uint32_t i = 0; ok && Clock::now() < end; ++i) {
      const std::string where =
          "cross-device thread " + std::to_string(t) + " iteration " + std::to_string(i);
      const uint64_t bytes = 4096 + 16 * ((t + i) % 256);
      std::vector<std::vector<uint8_t>> stages(devices.size() + 1, std::vector<uint8_t>(bytes));
      std::mt19937 rng(t * 7919u + i);
      for (uint8_t& byte : stages[0]) byte = static_cast<uint8_t>(rng());
      std::vector<porta_event_t> events(devices.size(), nullptr);
      std::vector<porta_buffer_t> buffers(devices.size(), nullptr);
      for (size_t d = 0; ok && d < devices.size(); ++d) {
        const std::string at = where + " " + devices[d].label;
        ok = failures->Check(
                 porta_buffer_alloc(devices[d].handle, bytes, PORTA_MEMORY_DEVICE, &buffers[d]),
                 at + " alloc") &&
             failures->Check(
                 porta_event_create(devices[d].handle, PORTA_EVENT_DISABLE_TIMING, &events[d]),
                 at + " event_create");
        if (ok && d > 0) {
          ok = failures->Check(porta_stream_wait_event(streams[d], events[d - 1]),
                               at + " wait on the previous device's event");
        }
        ok = ok &&
             failures->Check(
                 porta_copy_host_to_device(streams[d], buffers[d], 0, stages[d].data(), bytes),
                 at + " h2d") &&
             failures->Check(
                 porta_copy_device_to_host(streams[d], stages[d + 1].data(), buffers[d], 0, bytes),
                 at + " d2h") &&
             failures->Check(porta_event_record(events[d], streams[d]), at + " record");
      }
      if (ok) ok = failures->Check(porta_event_wait(events.back(), UINT64_MAX), where + " wait");
      for (size_t d = 0; d < devices.size(); ++d) {
        if (buffers[d] != nullptr) porta_buffer_free(buffers[d]);
        if (events[d] != nullptr) porta_event_destroy(events[d]);
        failures->Check(porta_stream_synchronize(streams[d]), where + " synchronize");
      }
      if (ok && stages.back() != stages.front()) {
        failures->Add(where + ": the bytes that went around the devices changed");
        ok = false;
      }
      if (ok) iterations.fetch_add(1);
    }
    for (porta_stream_t stream : streams) {
      if (stream != nullptr) porta_stream_destroy(stream);
    }
  });
  return iterations.load();
}

// Phase 3: destroy races. Each thread creates a stream, an event and a buffer, uses them,
// destroys them and publishes the dead handles; every thread also calls the runtime with handles
// other threads have just destroyed (and destroys them again), which must answer
// PORTA_ERROR_INVALID_HANDLE while the other objects of the device keep working.
uint64_t DestroyRaces(const std::vector<Device>& devices, const Options& options,
                      Clock::time_point end, Failures* failures) {
  constexpr size_t kSlots = 64;
  struct Dead {
    std::atomic<porta_stream_t> stream{nullptr};
    std::atomic<porta_event_t> event{nullptr};
    std::atomic<porta_buffer_t> buffer{nullptr};
  };
  std::vector<Dead> dead(kSlots);
  std::atomic<uint64_t> iterations{0};
  const int workers = options.threads * static_cast<int>(devices.size());
  RunThreads(workers, [&](int worker) {
    const Device& device = devices[worker % devices.size()];
    for (uint32_t i = 0; Clock::now() < end; ++i) {
      const std::string where = device.label + " destroy worker " + std::to_string(worker) +
                                " iteration " + std::to_string(i);
      porta_stream_t stream = nullptr;
      porta_event_t event = nullptr;
      porta_buffer_t buffer = nullptr;
      const uint64_t size = 256 + 4 * (i % 128);
      const uint8_t value = static_cast<uint8_t>(worker * 37 + i);
      std::vector<uint8_t> read(size, static_cast<uint8_t>(~value));
      bool ok =
          failures->Check(porta_stream_create(device.handle, &stream), where + " stream") &&
          failures->Check(porta_event_create(device.handle, PORTA_EVENT_DEFAULT, &event),
                          where + " event") &&
          failures->Check(porta_buffer_alloc(device.handle, size, PORTA_MEMORY_DEVICE, &buffer),
                          where + " alloc") &&
          failures->Check(porta_fill_buffer(stream, buffer, 0, size, &value, 1), where + " fill") &&
          failures->Check(porta_copy_device_to_host(stream, read.data(), buffer, 0, size),
                          where + " d2h") &&
          failures->Check(porta_event_record(event, stream), where + " record") &&
          failures->Check(porta_event_wait(event, UINT64_MAX), where + " event_wait");
      if (ok && std::any_of(read.begin(), read.end(), [&](uint8_t b) { return b != value; })) {
        failures->Add(where + ": the filled bytes did not come back");
      }
      // Queued work may remain on other threads' objects; these go now, in a varying order.
      if (buffer != nullptr) failures->Check(porta_buffer_free(buffer), where + " free");
      if (i % 2 == 0 && event != nullptr) {
        failures->Check(porta_event_destroy(event), where + " event_destroy");
      }
      if (stream != nullptr) failures->Check(porta_stream_destroy(stream), where + " destroy");
      if (i % 2 == 1 && event != nullptr) {
        failures->Check(porta_event_destroy(event), where + " event_destroy");
      }
      Dead& slot = dead[(worker * 13 + i) % kSlots];
      slot.stream.store(stream);
      slot.event.store(event);
      slot.buffer.store(buffer);
      // Stale handles of any thread, used while their slots are overwritten concurrently.
      const Dead& other = dead[(worker * 7 + i * 5) % kSlots];
      auto expect_invalid = [&](porta_status_t status, const char* what) {
        if (status != PORTA_ERROR_INVALID_HANDLE) {
          failures->Add(where + ": " + what + " on a destroyed handle returned " +
                        porta_status_string(status) + " instead of PORTA_ERROR_INVALID_HANDLE");
        }
      };
      if (porta_stream_t s = other.stream.load()) {
        expect_invalid(porta_stream_query(s), "porta_stream_query");
        expect_invalid(porta_stream_destroy(s), "porta_stream_destroy");
      }
      if (porta_event_t e = other.event.load()) {
        expect_invalid(porta_event_query(e), "porta_event_query");
        expect_invalid(porta_event_destroy(e), "porta_event_destroy");
      }
      if (porta_buffer_t b = other.buffer.load()) {
        uint64_t stale_size = 0;
        expect_invalid(porta_buffer_size(b, &stale_size), "porta_buffer_size");
        expect_invalid(porta_buffer_free(b), "porta_buffer_free");
      }
      if (!ok) break;
      iterations.fetch_add(1);
    }
  });
  return iterations.load();
}

// Phase 4: while one stream of a device is kept busy by other threads, timing two completed
// events of another stream must answer at once (PORTA_OK), and timing a pending event must answer
// PORTA_NOT_READY, never wait for the device.
uint64_t TimingWhileBusy(const std::vector<Device>& devices, const Options& options,
                         Clock::time_point end, Failures* failures) {
  std::atomic<uint64_t> iterations{0};
  std::vector<const Device*> timed;
  for (const Device& device : devices) {
    if (device.capabilities & PORTA_CAP_TIMESTAMPS) timed.push_back(&device);
  }
  if (timed.empty()) return 0;
  const int workers = std::max(2, options.threads) * static_cast<int>(timed.size());
  RunThreads(workers, [&](int worker) {
    const Device& device = *timed[worker % timed.size()];
    const bool busy_worker = (worker / timed.size()) % 2 == 0;
    porta_stream_t stream = nullptr;
    porta_event_t events[2] = {};
    porta_buffer_t buffers[2] = {};
    constexpr uint64_t kBytes = uint64_t{16} << 20;
    bool ok = failures->Check(porta_stream_create(device.handle, &stream), "timing stream");
    for (porta_event_t& event : events) {
      ok = ok && failures->Check(porta_event_create(device.handle, PORTA_EVENT_DEFAULT, &event),
                                 "timing event");
    }
    for (porta_buffer_t& buffer : buffers) {
      ok = ok &&
           failures->Check(porta_buffer_alloc(device.handle, kBytes, PORTA_MEMORY_DEVICE, &buffer),
                           "timing alloc");
    }
    const uint8_t zero = 0;
    ok = ok && failures->Check(porta_fill_buffer(stream, buffers[1], 0, kBytes, &zero, 1), "fill");
    for (uint32_t i = 0; ok && Clock::now() < end; ++i) {
      const std::string where = device.label + " timing worker " + std::to_string(worker) +
                                " iteration " + std::to_string(i);
      if (busy_worker) {
        // Keeps the device busy with large copies.
        for (int k = 0; ok && k < 16; ++k) {
          ok = failures->Check(porta_copy_device_to_device(stream, buffers[k % 2], 0,
                                                           buffers[(k + 1) % 2], 0, kBytes),
                               where + " busy copy");
        }
        ok = ok && failures->Check(porta_stream_synchronize(stream), where + " synchronize");
        continue;
      }
      ok = failures->Check(porta_event_record(events[0], stream), where + " record start") &&
           failures->Check(porta_fill_buffer(stream, buffers[0], 0, 64, &zero, 1),
                           where + " fill") &&
           failures->Check(porta_event_record(events[1], stream), where + " record end") &&
           failures->Check(porta_event_wait(events[1], UINT64_MAX), where + " wait");
      if (!ok) break;
      float ms = -1.0f;
      const Clock::time_point before = Clock::now();
      const porta_status_t status = porta_event_elapsed_ms(events[0], events[1], &ms);
      const double taken_ms =
          std::chrono::duration<double, std::milli>(Clock::now() - before).count();
      if (status != PORTA_OK) {
        ok = failures->Check(status, where + " elapsed_ms of two completed events");
      } else if (!(ms >= 0.0f)) {
        failures->Add(where + ": elapsed_ms of two completed events is " + std::to_string(ms));
      }
      // Not a speed assertion: a call that waits for the device's other work takes as long as
      // that work (hundreds of milliseconds here); answering from the two completed events takes
      // microseconds. The bound is far above any scheduling delay of a loaded machine.
      if (taken_ms > 250.0) {
        failures->Add(where + ": elapsed_ms of two completed events blocked for " +
                      std::to_string(taken_ms) + " ms while other streams were busy");
      }
      iterations.fetch_add(1);
    }
    if (stream != nullptr) {
      porta_stream_synchronize(stream);
      porta_stream_destroy(stream);
    }
    for (porta_event_t event : events) {
      if (event != nullptr) porta_event_destroy(event);
    }
    for (porta_buffer_t buffer : buffers) {
      if (buffer != nullptr) porta_buffer_free(buffer);
    }
  });
  return iterations.load();
}

double DefaultSeconds() {
  const char* text = std::getenv("PORTA_STRESS_SECONDS");
  if (text == nullptr || text[0] == '\0') return 8.0;
  char* endp = nullptr;
  const double value = std::strtod(text, &endp);
  return endp != text && *endp == '\0' && value > 0.0 ? value : -1.0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  options.seconds = DefaultSeconds();
  CLI::App app("porta-stress: multi-thread stress run on every device PORTA_DEVICES selects");
  app.add_option("--seconds", options.seconds,
                 "total run time, shared by the four phases (default $PORTA_STRESS_SECONDS or 8)")
      ->check(CLI::Range(0.1, 3600.0));
  app.add_option("--threads", options.threads, "threads per device (default 8)")
      ->check(CLI::Range(1, 64));
  app.add_option("--streams", options.streams, "streams per thread in the round trips (default 2)")
      ->check(CLI::Range(2, 16));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  }
  if (!(options.seconds > 0.0)) {
    std::fprintf(stderr, "porta-stress: PORTA_STRESS_SECONDS must be a positive number\n");
    return 2;
  }

  porta_runtime_t runtime = nullptr;
  if (porta_runtime_create(nullptr, &runtime) != PORTA_OK) {
    std::fprintf(stderr, "porta-stress: porta_runtime_create failed: %s\n",
                 porta_last_error_message());
    return 1;
  }
  uint32_t count = 0;
  porta_runtime_device_count(runtime, &count);
  std::vector<Device> devices;
  for (uint32_t i = 0; i < count; ++i) {
    Device device;
    porta_runtime_device(runtime, i, &device.handle);
    porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
    porta_device_get_info(device.handle, &info);
    device.label = std::string(info.backend) + ":" + std::to_string(info.backend_device_index);
    device.capabilities = info.capabilities;
    const std::vector<porta_module_source_t> sources = porta_cts::TestModuleSources("vector_add");
    porta_module_desc_t desc = PORTA_MODULE_DESC_INIT;
    desc.sources = sources.data();
    desc.source_count = static_cast<uint32_t>(sources.size());
    if (!sources.empty() && porta_module_load(device.handle, &desc, &device.module) == PORTA_OK) {
      porta_module_get_kernel(device.module, "vector_add", &device.vector_add);
    }
    devices.push_back(device);
  }
  if (devices.empty()) {
    std::fprintf(stderr, "porta-stress: no device (PORTA_DEVICES=%s)\n",
                 std::getenv("PORTA_DEVICES") ? std::getenv("PORTA_DEVICES") : "");
    porta_runtime_destroy(runtime);
    return 1;
  }

  struct Phase {
    const char* name;
    uint64_t (*run)(const std::vector<Device>&, const Options&, Clock::time_point, Failures*);
  };
  const Phase phases[] = {{"round trips", RoundTrips},
                          {"cross-device", CrossDevice},
                          {"destroy races", DestroyRaces},
                          {"timing while busy", TimingWhileBusy}};
  const auto slice = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(options.seconds / std::size(phases)));
  std::printf("porta-stress: %zu device(s), %d threads, %d streams per thread, %.1f s\n",
              devices.size(), options.threads, options.streams, options.seconds);
  for (const Device& device : devices) {
    std::printf("  %s%s\n", device.label.c_str(),
                device.vector_add != nullptr ? " (vector_add)" : " (copies only)");
  }
  Failures failures;
  bool ran_nothing = false;
  for (const Phase& phase : phases) {
    const uint64_t done = phase.run(devices, options, Clock::now() + slice, &failures);
    std::printf("  %-18s %8llu iterations\n", phase.name, static_cast<unsigned long long>(done));
    // Timing needs a device with timestamps; every other phase must have run.
    const bool needs_timestamps = phase.run == TimingWhileBusy;
    const bool any_timestamps = std::any_of(devices.begin(), devices.end(), [](const Device& d) {
      return (d.capabilities & PORTA_CAP_TIMESTAMPS) != 0;
    });
    if (done == 0 && (!needs_timestamps || any_timestamps)) ran_nothing = true;
  }
  for (Device& device : devices) {
    if (device.module != nullptr) porta_module_destroy(device.module);
  }
  porta_runtime_destroy(runtime);
  if (failures.count() > 0 || ran_nothing) {
    std::fprintf(stderr, "porta-stress: FAILED (%zu failure(s)%s)\n", failures.count(),
                 ran_nothing ? ", a phase completed no iteration" : "");
    failures.Print();
    return 1;
  }
  std::printf("porta-stress: PASSED\n");
  return 0;
}
