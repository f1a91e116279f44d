// The gate (see gate.h): the probe that decides whether a device can run it, and the Gate class.
#include "conformance/gate.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <mutex>
#include <thread>

#include "conformance/cts.h"
#include "conformance/kernels/test_kernels.h"

namespace porta_cts {
namespace {

// The states the gate kernel writes to word 1 of its slot (kernels/README.md).
constexpr uint32_t kSpinning = 1;
constexpr uint32_t kOpened = 2;
constexpr uint32_t kTimedOut = 3;
constexpr uint64_t kSlotBytes = 256;
constexpr uint64_t kBufferBytes = Gate::kMaxCloses * kSlotBytes;
// The probe's open check may take this long before it counts as "the kernel never saw the host".
constexpr auto kProbeBound = std::chrono::seconds(2);
// Calibration doubles the spin until one closed gate takes at least this much longer than a
// gate of one round (whose time is the launch and synchronize overhead: 20 ms and more on
// lavapipe).
constexpr double kCalibrationSeconds = 0.03;
// Why a device whose gate kernel ran but left no state behind cannot run the gate.
constexpr const char* kWritesNotVisible =
    "the gate kernel's writes to a mapped host-visible buffer did not reach the host, even after "
    "porta_stream_synchronize";
// The most gate kernels one Close() queues.
constexpr double kMaxLaunches = 1000;
// The largest `rounds` the kernels take (kernels/README.md).
constexpr uint32_t kMaxRounds = 1u << 30;

// The host and a running kernel share the words, so the host side goes through atomics.
uint32_t LoadWord(uint32_t* word) {
  return std::atomic_ref<uint32_t>(*word).load();
}
void StoreWord(uint32_t* word, uint32_t value) {
  std::atomic_ref<uint32_t>(*word).store(value);
}

std::string StatusText(const char* call, porta_status_t status) {
  return std::string(call) + " returned " + porta_status_string(status) + ": " +
         porta_last_error_message();
}

}  // namespace

namespace internal {

// The gate module and its mapped buffer, shared by the probe and Gate. Slots are 256 bytes apart
// (Vulkan's largest storage-buffer offset alignment).
struct GateObjects {
  ModuleHandle module;
  porta_kernel_t kernel = nullptr;
  BufferHandle buffer;
  uint32_t* words = nullptr;

  GateObjects() = default;
  GateObjects(const GateObjects&) = delete;
  GateObjects& operator=(const GateObjects&) = delete;
  // Unmaps the buffer; the handles then free it and the module, which queued gate kernels keep
  // alive until they complete.
  ~GateObjects() {
    if (words != nullptr) porta_buffer_unmap(buffer.get());
  }

  // Loads the kernel and maps a zeroed buffer; on failure |error| says which call failed.
  bool Create(porta_device_t device, std::string* error) {
    porta_status_t status = LoadTestKernel(device, "gate", &module, &kernel);
    if (status != PORTA_OK) {
      *error = StatusText("loading test kernel gate", status);
      return false;
    }
    status = porta_buffer_alloc(device, kBufferBytes, PORTA_MEMORY_HOST_VISIBLE, buffer.out());
    if (status != PORTA_OK) {
      *error = StatusText("porta_buffer_alloc(PORTA_MEMORY_HOST_VISIBLE)", status);
      return false;
    }
    void* mapped = nullptr;
    status = porta_buffer_map(buffer.get(), 0, kBufferBytes, &mapped);
    if (status != PORTA_OK) {
      *error = StatusText("porta_buffer_map", status);
      return false;
    }
    words = static_cast<uint32_t*>(mapped);
    for (uint64_t i = 0; i < kBufferBytes / 4; ++i) StoreWord(&words[i], 0);
    return true;
  }

  // Resets slot |slot| to closed and queues one gate kernel on it.
  porta_status_t Launch(porta_stream_t stream, uint32_t slot, uint32_t rounds) {
    StoreWord(OpenWord(slot), 0);
    StoreWord(OpenWord(slot) + 1, 0);
    return Relaunch(stream, slot, rounds);
  }

  // Queues one more gate kernel on slot |slot| as it is.
  porta_status_t Relaunch(porta_stream_t stream, uint32_t slot, uint32_t rounds) {
    const porta_kernel_arg_t args[] = {porta_arg_buffer(buffer.get(), slot * kSlotBytes),
                                       porta_arg_scalar(&rounds, sizeof(rounds))};
    const porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
    return porta_kernel_launch(stream, kernel, &config, args, 2);
  }

  uint32_t* OpenWord(uint32_t slot) { return &words[slot * kSlotBytes / 4]; }
  uint32_t State(uint32_t slot) { return LoadWord(&words[slot * kSlotBytes / 4 + 1]); }
};

}  // namespace internal

namespace {

using internal::GateObjects;

GateSupport Unavailable(std::string tag, std::string reason) {
  GateSupport support;
  support.kind = GateSupport::Kind::kUnavailable;
  support.skip_tag = std::move(tag);
  support.reason = std::move(reason);
  return support;
}

GateSupport Broken(std::string reason) {
  GateSupport support;
  support.kind = GateSupport::Kind::kBroken;
  support.reason = "the gate is broken on this device: " + std::move(reason);
  return support;
}

GateSupport Probe(porta_device_t device) {
  porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
  porta_status_t status = porta_device_get_info(device, &info);
  if (status != PORTA_OK) return Broken(StatusText("porta_device_get_info", status));
  if ((info.capabilities & PORTA_CAP_HOST_VISIBLE_MEMORY) == 0) {
    return Unavailable("PORTA_CAP_HOST_VISIBLE_MEMORY",
                       "the device declares no PORTA_CAP_HOST_VISIBLE_MEMORY: the gate kernel "
                       "watches a mapped host-visible buffer that the host writes");
  }
  const porta_kernel_format_t format = TestKernelFormatFor(info, "gate");
  if (format == 0) {
    return Unavailable("kernel format",
                       "no format of test kernel gate built here is accepted by the device: " +
                           KernelFormatList(info));
  }
  GateObjects objects;
  std::string error;
  if (!objects.Create(device, &error)) return Broken(error);
  StreamHandle stream;
  status = porta_stream_create(device, stream.out());
  if (status != PORTA_OK) return Broken(StatusText("porta_stream_create", status));

  // Calibration: closed gates nobody opens, each of which must end by itself as timed out. The
  // first run is not timed (it may compile a pipeline); the second, of one round, measures the
  // overhead that the later runs' spin is counted above.
  const auto run_closed = [&](uint32_t rounds, double* seconds) -> std::string {
    const auto start = std::chrono::steady_clock::now();
    porta_status_t launched = objects.Launch(stream.get(), 0, rounds);
    if (launched != PORTA_OK) return StatusText("porta_kernel_launch(gate)", launched);
    launched = porta_stream_synchronize(stream.get());
    if (launched != PORTA_OK) return StatusText("porta_stream_synchronize", launched);
    *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const uint32_t state = objects.State(0);
    if (state == kTimedOut) return "";
    if (state == 0) return kWritesNotVisible;
    return "a gate nobody opened, with rounds = " + std::to_string(rounds) + ", ended in state " +
           std::to_string(state) + " instead of " + std::to_string(kTimedOut) + " (timed out)";
  };
  const auto failed = [](const std::string& error) {
    if (error == kWritesNotVisible) return Unavailable("a kernel that writes mapped memory", error);
    return Broken(error);
  };
  double overhead = 0;
  for (int run = 0; run < 2; ++run) {
    error = run_closed(1, &overhead);
    if (!error.empty()) return failed(error);
  }
  uint32_t rounds = 1;
  double spin = 0;
  while (spin < kCalibrationSeconds && rounds < kMaxRounds) {
    rounds *= 2;
    double seconds = 0;
    error = run_closed(rounds, &seconds);
    if (!error.empty()) return failed(error);
    spin = seconds - overhead;
  }
  double per_second = rounds / std::max(spin, 1e-9);
  const auto bound = [&](std::chrono::seconds duration) {
    const double wanted = std::ceil(per_second * static_cast<double>(duration.count()));
    return static_cast<uint32_t>(std::clamp(wanted, 1.0, static_cast<double>(kMaxRounds)));
  };

  // A device may end a kernel before its bound (lavapipe ends a shader's loops after 65535
  // iterations): a closed gate of kProbeBound that ends much earlier shows the longest a kernel
  // spins, and Close() then queues as many gate kernels as kTimeout needs.
  uint32_t launches = 1;
  double seconds = 0;
  error = run_closed(bound(kProbeBound), &seconds);
  if (!error.empty()) return failed(error);
  const double longest = seconds - overhead;
  const double probe_seconds = static_cast<double>(kProbeBound.count());
  if (longest < probe_seconds / 2) {
    const double needed =
        std::ceil(static_cast<double>(Gate::kTimeout.count()) / std::max(longest, 1e-9));
    if (needed > kMaxLaunches) {
      return Unavailable("a kernel that may spin",
                         "a gate kernel asked to spin for " + std::to_string(kProbeBound.count()) +
                             " s ended after " + std::to_string(longest) +
                             " s: the device ends long kernels, and holding a stream for " +
                             std::to_string(Gate::kTimeout.count()) + " s would take " +
                             std::to_string(static_cast<uint64_t>(needed)) + " gate kernels");
    }
    launches = static_cast<uint32_t>(needed);
    per_second = bound(kProbeBound) / probe_seconds;
  }
  // The open check: the host sees the running kernel start, opens it through the mapping, and
  // the kernel must see that before its bound. The query submits the launch on backends that
  // batch work.
  status = objects.Launch(stream.get(), 0, bound(kProbeBound));
  if (status != PORTA_OK) return Broken(StatusText("porta_kernel_launch(gate)", status));
  const auto deadline = std::chrono::steady_clock::now() + kProbeBound;
  bool started = false;
  while (!started && std::chrono::steady_clock::now() < deadline) {
    porta_stream_query(stream.get());
    started = objects.State(0) == kSpinning;
    if (!started) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  StoreWord(objects.OpenWord(0), 1);
  status = porta_stream_synchronize(stream.get());
  if (status != PORTA_OK) return Broken(StatusText("porta_stream_synchronize", status));
  const uint32_t state = objects.State(0);
  if (!started && state != kTimedOut) {
    return Unavailable("a kernel that writes mapped memory",
                       "the host did not see the gate kernel start within 2 s of its launch: "
                       "its write to a mapped host-visible buffer does not reach the host while "
                       "it runs");
  }
  if (state == kTimedOut) {
    return Unavailable("a kernel that sees host writes",
                       "the running gate kernel did not see the host's write to a mapped "
                       "host-visible buffer within 2 s: a kernel cannot observe the host while "
                       "it runs");
  }
  if (state != kOpened) {
    return Broken("an opened gate ended in state " + std::to_string(state) + " instead of " +
                  std::to_string(kOpened) + " (opened)");
  }
  GateSupport support;
  support.kind = GateSupport::Kind::kAvailable;
  support.format = format;
  support.timeout_rounds = launches == 1 ? bound(Gate::kTimeout) : bound(kProbeBound);
  support.launches_per_close = launches;
  return support;
}

}  // namespace

const GateSupport& ProbeGate(porta_device_t device) {
  static std::mutex mutex;
  // Devices of the CTS runtime live for the whole run, so their handles identify them.
  static std::map<porta_device_t, GateSupport> probed;
  std::lock_guard<std::mutex> lock(mutex);
  auto found = probed.find(device);
  if (found == probed.end()) found = probed.emplace(device, Probe(device)).first;
  return found->second;
}

bool GateApplies(porta_device_t device) {
  return ProbeGate(device).kind != GateSupport::Kind::kUnavailable;
}

Gate::Gate() = default;

Gate::~Gate() {
  if (objects_ == nullptr) return;
  Open();
  for (uint32_t slot = 0; slot < launched_; ++slot) {
    if (objects_->State(slot) == kTimedOut) {
      ADD_FAILURE() << "gate kernel " << slot << " timed out: nothing opened it for about "
                    << kTimeout.count()
                    << " s (a test held the stream that long, or porta_kernel_launch ran the "
                       "kernel synchronously)";
    }
  }
}

testing::AssertionResult Gate::Load(porta_device_t device) {
  const GateSupport& support = ProbeGate(device);
  if (support.kind != GateSupport::Kind::kAvailable) {
    return testing::AssertionFailure() << support.reason;
  }
  auto objects = std::make_unique<GateObjects>();
  std::string error;
  if (!objects->Create(device, &error)) return testing::AssertionFailure() << error;
  objects_ = std::move(objects);
  timeout_rounds_ = support.timeout_rounds;
  launches_per_close_ = support.launches_per_close;
  launched_ = 0;
  return testing::AssertionSuccess();
}

porta_status_t Gate::Close(porta_stream_t stream) {
  if (objects_ == nullptr) return PORTA_ERROR_INVALID_OPERATION;
  if (launched_ >= kMaxCloses) return PORTA_ERROR_OUT_OF_RANGE;
  for (uint32_t i = 0; i < launches_per_close_; ++i) {
    // Every kernel of one Close() watches the same slot; the last one leaves the final state.
    const porta_status_t status = i == 0 ? objects_->Launch(stream, launched_, timeout_rounds_)
                                         : objects_->Relaunch(stream, launched_, timeout_rounds_);
    if (status != PORTA_OK) return status;
  }
  ++launched_;
  return PORTA_OK;
}

void Gate::Open() {
  for (uint32_t slot = 0; objects_ != nullptr && slot < launched_; ++slot) {
    StoreWord(objects_->OpenWord(slot), 1);
  }
}

}  // namespace porta_cts
