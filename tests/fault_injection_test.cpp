// Fault injection: every C++ allocation the process makes goes through the operator new defined
// here, which can be armed to fail the n-th one. Each test walks n over every allocation one
// main API path makes (runtime creation, stream work, module load and launch, graph capture and
// replay, an operation of the ops library) on the CPU device, and checks that the failure comes
// back as PORTA_ERROR_OUT_OF_MEMORY with a message, or is absorbed with correct results, and that
// the device still works afterwards. Under the asan preset LeakSanitizer checks that no failure
// leaks. The vendor drivers are kept out (their own allocations would fail inside them), so only
// Porta's code and the standard library are walked.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <new>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "conformance/kernels/test_kernels.h"
#include "porta/porta.h"
#include "porta/porta_ops.h"

namespace {

// Armed: the allocation that brings |g_countdown| to zero fails, once.
std::atomic<bool> g_armed{false};
std::atomic<int64_t> g_countdown{0};
std::atomic<int64_t> g_counted{0};
std::atomic<bool> g_fired{false};

bool ShouldFail() noexcept {
  if (!g_armed.load(std::memory_order_relaxed)) return false;
  g_counted.fetch_add(1, std::memory_order_relaxed);
  if (g_countdown.fetch_sub(1, std::memory_order_relaxed) == 0) {
    g_fired.store(true, std::memory_order_relaxed);
    return true;
  }
  return false;
}

void* Allocate(std::size_t size, std::size_t alignment) noexcept {
  if (ShouldFail()) return nullptr;
  if (size == 0) size = 1;
  if (alignment <= alignof(std::max_align_t)) return std::malloc(size);
  void* memory = nullptr;
  return posix_memalign(&memory, alignment, size) == 0 ? memory : nullptr;
}

void* AllocateOrThrow(std::size_t size, std::size_t alignment) {
  void* memory = Allocate(size, alignment);
  if (memory == nullptr) throw std::bad_alloc();
  return memory;
}

}  // namespace

void* operator new(std::size_t size) {
  return AllocateOrThrow(size, 0);
}
void* operator new[](std::size_t size) {
  return AllocateOrThrow(size, 0);
}
void* operator new(std::size_t size, std::align_val_t alignment) {
  return AllocateOrThrow(size, static_cast<std::size_t>(alignment));
}
void* operator new[](std::size_t size, std::align_val_t alignment) {
  return AllocateOrThrow(size, static_cast<std::size_t>(alignment));
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  return Allocate(size, 0);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return Allocate(size, 0);
}
void* operator new(std::size_t size, std::align_val_t alignment, const std::nothrow_t&) noexcept {
  return Allocate(size, static_cast<std::size_t>(alignment));
}
void* operator new[](std::size_t size, std::align_val_t alignment, const std::nothrow_t&) noexcept {
  return Allocate(size, static_cast<std::size_t>(alignment));
}
void operator delete(void* memory) noexcept {
  std::free(memory);
}
void operator delete[](void* memory) noexcept {
  std::free(memory);
}
void operator delete(void* memory, std::size_t) noexcept {
  std::free(memory);
}
void operator delete[](void* memory, std::size_t) noexcept {
  std::free(memory);
}
void operator delete(void* memory, std::align_val_t) noexcept {
  std::free(memory);
}
void operator delete[](void* memory, std::align_val_t) noexcept {
  std::free(memory);
}
void operator delete(void* memory, std::size_t, std::align_val_t) noexcept {
  std::free(memory);
}
void operator delete[](void* memory, std::size_t, std::align_val_t) noexcept {
  std::free(memory);
}

namespace {

constexpr uint32_t kCount = 256;

// The outcome of one armed run of a path. Recording it allocates nothing, so the test's own
// bookkeeping never takes the injected failure.
struct Outcome {
  porta_status_t status = PORTA_OK;
  char message[1024] = {};     // porta_last_error_message() right after the failing call
  const char* step = nullptr;  // which call failed
  bool results_checked = false;
  // The first destroy or free that failed: they never may, armed or not (a failed destroy
  // leaks what it should have released).
  const char* cleanup_step = nullptr;
  porta_status_t cleanup_status = PORTA_OK;
};

// The host side of a path, allocated before the walk arms the failure.
struct Host {
  std::vector<float> a, b, out;
  std::vector<porta_module_source_t> sources;
};

// A path under test: runs its calls on |device|, stops at the first failure (recording it in
// |outcome|), always releases what it created, and checks its results when every call succeeded.
using Path = std::function<void(porta_device_t device, Host* host, Outcome* outcome)>;

// Records the first failure; true when |status| is PORTA_OK.
bool Step(porta_status_t status, const char* step, Outcome* outcome) {
  if (status == PORTA_OK || outcome->status != PORTA_OK) return status == PORTA_OK;
  outcome->status = status;
  std::snprintf(outcome->message, sizeof outcome->message, "%s", porta_last_error_message());
  outcome->step = step;
  return false;
}

// Records a failed destroy or free.
void Cleanup(porta_status_t status, const char* step, Outcome* outcome) {
  if (status == PORTA_OK || outcome->cleanup_step != nullptr) return;
  outcome->cleanup_step = step;
  outcome->cleanup_status = status;
}

std::vector<float> Iota(float start) {
  std::vector<float> values(kCount);
  for (uint32_t i = 0; i < kCount; ++i) values[i] = start + static_cast<float>(i);
  return values;
}

// True when host->out holds host->a + host->b.
bool SumIsRight(const Host& host) {
  for (uint32_t i = 0; i < kCount; ++i) {
    if (host.out[i] != host.a[i] + host.b[i]) return false;
  }
  return true;
}

class FaultInjectionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The vendor libraries stay out (their own allocations would fail inside them, where Porta
    // cannot answer for them): the walk covers Porta's code. Their backends still load and
    // report no device, once per runtime, so warnings are off.
    for (const char* variable :
         {"PORTA_OPENCL_LIBRARY", "PORTA_VULKAN_LIBRARY", "PORTA_CUDA_LIBRARY", "PORTA_HIP_LIBRARY",
          "PORTA_LEVEL_ZERO_LIBRARY"}) {
      setenv(variable, "/nonexistent/libvendor.so", 1);
    }
    setenv("PORTA_LOG_LEVEL", "0", 1);
  }

  static porta_runtime_t CreateCpuRuntime() {
    porta_runtime_options_t options = PORTA_RUNTIME_OPTIONS_INIT;
    options.device_filter = "cpu";
    porta_runtime_t runtime = nullptr;
    return porta_runtime_create(&options, &runtime) == PORTA_OK ? runtime : nullptr;
  }

  // Runs |path| once unarmed (it must succeed), then once per allocation it made with that
  // allocation failing, each time followed by an unarmed run that must succeed again.
  void Walk(const Path& path) {
    porta_runtime_t runtime = CreateCpuRuntime();
    ASSERT_NE(runtime, nullptr) << porta_last_error_message();
    porta_device_t device = nullptr;
    ASSERT_EQ(porta_runtime_device(runtime, 0, &device), PORTA_OK) << porta_last_error_message();
    Host host{Iota(1.0f), Iota(1000.0f), std::vector<float>(kCount),
              porta_cts::TestModuleSources("vector_add")};
    ASSERT_FALSE(host.sources.empty());

    // A first run fills the caches (compiled kernels, the ops library's tables) that later runs
    // reuse, so that every run of the walk makes the same allocations.
    Outcome warm;
    path(device, &host, &warm);
    ASSERT_EQ(warm.status, PORTA_OK) << warm.step << ": " << warm.message;
    Outcome clean;
    g_counted = 0;
    g_countdown = -1;
    g_armed = true;
    path(device, &host, &clean);
    g_armed = false;
    ASSERT_EQ(clean.status, PORTA_OK) << clean.step << ": " << clean.message;
    ASSERT_EQ(clean.cleanup_step, nullptr);
    ASSERT_TRUE(clean.results_checked);
    const int64_t allocations = g_counted.load();
    ASSERT_GT(allocations, 0) << "the path made no allocation through operator new";

    std::map<std::string, int> failed_steps;
    int absorbed = 0;
    int fired = 0;
    for (int64_t n = 0; n < allocations; ++n) {
      Outcome outcome;
      g_fired = false;
      g_countdown = n;
      g_armed = true;
      path(device, &host, &outcome);
      g_armed = false;
      if (!g_fired) continue;  // this run allocated less (threads make counts vary a little)
      ++fired;
      EXPECT_EQ(outcome.cleanup_step, nullptr)
          << "allocation " << n << " failed, then " << outcome.cleanup_step << " returned "
          << porta_status_string(outcome.cleanup_status);
      if (outcome.status == PORTA_OK) {
        ++absorbed;
        EXPECT_TRUE(outcome.results_checked) << "allocation " << n << " failed, results wrong";
      } else if (outcome.status == PORTA_ERROR_DEVICE_LOST) {
        // A command that failed after it was queued (on the CPU device's worker thread) reaches
        // the application as its stream's sticky error, which names the cause.
        EXPECT_NE(std::strstr(outcome.message, "out of memory"), nullptr)
            << "allocation " << n << " failed, " << outcome.step << ": " << outcome.message;
        ++failed_steps[std::string(outcome.step) + " (sticky)"];
      } else {
        EXPECT_EQ(outcome.status, PORTA_ERROR_OUT_OF_MEMORY)
            << "allocation " << n << " failed, " << outcome.step << " returned "
            << porta_status_string(outcome.status) << ": " << outcome.message;
        EXPECT_NE(outcome.message[0], '\0') << "allocation " << n << ", " << outcome.step;
        ++failed_steps[outcome.step];
      }
      Outcome after;
      path(device, &host, &after);
      ASSERT_EQ(after.status, PORTA_OK)
          << "after allocation " << n << " failed: " << after.step << ": " << after.message;
      ASSERT_TRUE(after.results_checked) << "after allocation " << n << " failed";
      ASSERT_EQ(after.cleanup_step, nullptr) << "after allocation " << n << " failed";
    }
    std::printf("%lld allocations walked, %d failed; %d absorbed with correct results\n",
                static_cast<long long>(allocations), fired, absorbed);
    for (const auto& [step, count] : failed_steps) {
      std::printf("  %s: %d\n", step.c_str(), count);
    }
    EXPECT_FALSE(failed_steps.empty()) << "no injected failure reached the application";
    EXPECT_EQ(porta_runtime_destroy(runtime), PORTA_OK);
  }
};

TEST_F(FaultInjectionTest, RuntimeCreation) {
  // The whole runtime is created and destroyed inside the armed region; a device from a
  // separate runtime stands in for the walk's "device still works" check.
  Walk([](porta_device_t, Host*, Outcome* outcome) {
    porta_runtime_options_t options = PORTA_RUNTIME_OPTIONS_INIT;
    options.device_filter = "cpu";
    porta_runtime_t runtime = nullptr;
    if (!Step(porta_runtime_create(&options, &runtime), "porta_runtime_create", outcome)) return;
    uint32_t count = 0;
    porta_device_t device = nullptr;
    porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
    char diagnostics[256];
    porta_backend_report_t report = PORTA_BACKEND_REPORT_INIT;
    uint32_t backends = 0;
    if (!Step(porta_runtime_device_count(runtime, &count), "porta_runtime_device_count", outcome)) {
    } else if (count == 0) {
      // A backend that failed to initialize or open its device, here for want of host memory,
      // is left out and says why in its report: the runtime never fails because of a backend.
      if (Step(porta_runtime_backend_count(runtime, &backends), "porta_runtime_backend_count",
               outcome)) {
        for (uint32_t i = 0; i < backends; ++i) {
          if (Step(porta_runtime_backend_report(runtime, i, &report),
                   "porta_runtime_backend_report", outcome) &&
              std::strcmp(report.name, "cpu") == 0) {
            outcome->results_checked =
                std::strstr(report.reason, "PORTA_ERROR_OUT_OF_MEMORY") != nullptr;
          }
        }
      }
    } else if (Step(porta_runtime_device(runtime, 0, &device), "porta_runtime_device", outcome) &&
               Step(porta_device_get_info(device, &info), "porta_device_get_info", outcome) &&
               Step(porta_runtime_diagnostics(runtime, diagnostics, sizeof diagnostics, nullptr),
                    "porta_runtime_diagnostics", outcome)) {
      outcome->results_checked = count == 1 && std::strcmp(info.backend, "cpu") == 0;
    }
    Cleanup(porta_runtime_destroy(runtime), "porta_runtime_destroy", outcome);
  });
}

TEST_F(FaultInjectionTest, StreamWork) {
  Walk([](porta_device_t device, Host* host, Outcome* outcome) {
    std::fill(host->out.begin(), host->out.end(), 0.0f);
    const uint64_t bytes = kCount * sizeof(float);
    porta_buffer_t a = nullptr, b = nullptr;
    porta_stream_t first = nullptr, second = nullptr;
    porta_event_t event = nullptr;
    const uint32_t zero = 0;
    const bool ok =
        Step(porta_buffer_alloc(device, bytes, PORTA_MEMORY_DEVICE, &a), "porta_buffer_alloc",
             outcome) &&
        Step(porta_buffer_alloc(device, bytes, PORTA_MEMORY_DEVICE, &b), "porta_buffer_alloc",
             outcome) &&
        Step(porta_stream_create(device, &first), "porta_stream_create", outcome) &&
        Step(porta_stream_create(device, &second), "porta_stream_create", outcome) &&
        Step(porta_event_create(device, PORTA_EVENT_DEFAULT, &event), "porta_event_create",
             outcome) &&
        Step(porta_fill_buffer(first, b, 0, bytes, &zero, 4), "porta_fill_buffer", outcome) &&
        Step(porta_copy_host_to_device(first, a, 0, host->a.data(), bytes),
             "porta_copy_host_to_device", outcome) &&
        Step(porta_copy_device_to_device(first, b, 0, a, 0, bytes), "porta_copy_device_to_device",
             outcome) &&
        Step(porta_event_record(event, first), "porta_event_record", outcome) &&
        Step(porta_stream_wait_event(second, event), "porta_stream_wait_event", outcome) &&
        Step(porta_copy_device_to_host(second, host->out.data(), b, 0, bytes),
             "porta_copy_device_to_host", outcome) &&
        Step(porta_stream_synchronize(second), "porta_stream_synchronize", outcome) &&
        Step(porta_event_query(event), "porta_event_query", outcome);
    if (ok) outcome->results_checked = host->out == host->a;
    if (event != nullptr) Cleanup(porta_event_destroy(event), "porta_event_destroy", outcome);
    if (second != nullptr) Cleanup(porta_stream_destroy(second), "porta_stream_destroy", outcome);
    if (first != nullptr) Cleanup(porta_stream_destroy(first), "porta_stream_destroy", outcome);
    if (b != nullptr) Cleanup(porta_buffer_free(b), "porta_buffer_free", outcome);
    if (a != nullptr) Cleanup(porta_buffer_free(a), "porta_buffer_free", outcome);
  });
}

// Stream-ordered allocation from the device's pool. The pool is emptied first, so that every run
// allocates a new block from the backend rather than reusing the last run's.
TEST_F(FaultInjectionTest, PoolAllocation) {
  Walk([](porta_device_t device, Host* host, Outcome* outcome) {
    std::fill(host->out.begin(), host->out.end(), 0.0f);
    const uint64_t bytes = kCount * sizeof(float);
    porta_stream_t stream = nullptr;
    porta_buffer_t block = nullptr;
    const bool ok = Step(porta_device_pool_trim(device, 0), "porta_device_pool_trim", outcome) &&
                    Step(porta_stream_create(device, &stream), "porta_stream_create", outcome) &&
                    Step(porta_buffer_alloc_async(stream, bytes, PORTA_MEMORY_DEVICE, &block),
                         "porta_buffer_alloc_async", outcome) &&
                    Step(porta_copy_host_to_device(stream, block, 0, host->a.data(), bytes),
                         "porta_copy_host_to_device", outcome) &&
                    Step(porta_copy_device_to_host(stream, host->out.data(), block, 0, bytes),
                         "porta_copy_device_to_host", outcome);
    if (block != nullptr) {
      // Freed in stream order after the copies, which may have failed.
      if (Step(porta_buffer_free_async(stream, block), "porta_buffer_free_async", outcome)) {
        block = nullptr;
      }
    }
    const bool synced = stream != nullptr &&
                        Step(porta_stream_synchronize(stream), "porta_stream_synchronize", outcome);
    if (ok && synced) outcome->results_checked = host->out == host->a;
    if (block != nullptr) Cleanup(porta_buffer_free(block), "porta_buffer_free", outcome);
    if (stream != nullptr) Cleanup(porta_stream_destroy(stream), "porta_stream_destroy", outcome);
  });
}

// vector_add(a, b, c, n) on |stream|, for the module and graph paths.
bool LaunchVectorAdd(porta_stream_t stream, porta_kernel_t kernel, porta_buffer_t a,
                     porta_buffer_t b, porta_buffer_t c, Outcome* outcome) {
  const uint32_t n = kCount;
  const porta_kernel_arg_t args[] = {porta_arg_buffer(a, 0), porta_arg_buffer(b, 0),
                                     porta_arg_buffer(c, 0), porta_arg_scalar(&n, sizeof n)};
  porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
  config.grid[0] = kCount / 64;
  config.block[0] = 64;
  return Step(porta_kernel_launch(stream, kernel, &config, args, 4), "porta_kernel_launch",
              outcome);
}

// Loads vector_add, runs it once directly or (|graph|) through a captured graph replayed twice,
// and checks c = a + b.
void ModulePath(porta_device_t device, Host* host, bool graph, Outcome* outcome) {
  std::fill(host->out.begin(), host->out.end(), 0.0f);
  const uint64_t bytes = kCount * sizeof(float);
  porta_module_desc_t desc = PORTA_MODULE_DESC_INIT;
  desc.sources = host->sources.data();
  desc.source_count = static_cast<uint32_t>(host->sources.size());
  porta_module_t module = nullptr;
  porta_kernel_t kernel = nullptr;
  porta_stream_t stream = nullptr;
  porta_buffer_t buffers[3] = {};
  porta_graph_t captured = nullptr;
  porta_graph_exec_t exec = nullptr;
  bool ok = Step(porta_module_load(device, &desc, &module), "porta_module_load", outcome) &&
            Step(porta_module_get_kernel(module, "vector_add", &kernel), "porta_module_get_kernel",
                 outcome) &&
            Step(porta_stream_create(device, &stream), "porta_stream_create", outcome);
  for (porta_buffer_t& buffer : buffers) {
    ok = ok && Step(porta_buffer_alloc(device, bytes, PORTA_MEMORY_DEVICE, &buffer),
                    "porta_buffer_alloc", outcome);
  }
  ok = ok &&
       Step(porta_copy_host_to_device(stream, buffers[0], 0, host->a.data(), bytes),
            "porta_copy_host_to_device", outcome) &&
       Step(porta_copy_host_to_device(stream, buffers[1], 0, host->b.data(), bytes),
            "porta_copy_host_to_device", outcome);
  if (ok && graph) {
    ok = Step(porta_stream_begin_capture(stream), "porta_stream_begin_capture", outcome);
    const bool launched =
        ok && LaunchVectorAdd(stream, kernel, buffers[0], buffers[1], buffers[2], outcome);
    // Ends the capture even after a failed launch, so the stream is left usable.
    ok = ok &&
         Step(porta_stream_end_capture(stream, &captured), "porta_stream_end_capture", outcome) &&
         launched &&
         Step(porta_graph_instantiate(captured, &exec), "porta_graph_instantiate", outcome) &&
         Step(porta_graph_launch(exec, stream), "porta_graph_launch", outcome) &&
         Step(porta_graph_launch(exec, stream), "porta_graph_launch", outcome);
  } else if (ok) {
    ok = LaunchVectorAdd(stream, kernel, buffers[0], buffers[1], buffers[2], outcome);
  }
  ok = ok &&
       Step(porta_copy_device_to_host(stream, host->out.data(), buffers[2], 0, bytes),
            "porta_copy_device_to_host", outcome) &&
       Step(porta_stream_synchronize(stream), "porta_stream_synchronize", outcome);
  if (ok) outcome->results_checked = SumIsRight(*host);
  if (exec != nullptr) Cleanup(porta_graph_exec_destroy(exec), "porta_graph_exec_destroy", outcome);
  if (captured != nullptr) Cleanup(porta_graph_destroy(captured), "porta_graph_destroy", outcome);
  if (stream != nullptr) {
    int32_t capturing = 0;
    if (porta_stream_is_capturing(stream, &capturing) == PORTA_OK && capturing != 0) {
      porta_graph_t discarded = nullptr;
      if (porta_stream_end_capture(stream, &discarded) == PORTA_OK) porta_graph_destroy(discarded);
    }
    Cleanup(porta_stream_destroy(stream), "porta_stream_destroy", outcome);
  }
  for (porta_buffer_t buffer : buffers) {
    if (buffer != nullptr) Cleanup(porta_buffer_free(buffer), "porta_buffer_free", outcome);
  }
  if (module != nullptr) Cleanup(porta_module_destroy(module), "porta_module_destroy", outcome);
}

TEST_F(FaultInjectionTest, ModuleLoadAndLaunch) {
  Walk([](porta_device_t device, Host* host, Outcome* outcome) {
    ModulePath(device, host, false, outcome);
  });
}

TEST_F(FaultInjectionTest, GraphCaptureAndReplay) {
  Walk([](porta_device_t device, Host* host, Outcome* outcome) {
    ModulePath(device, host, true, outcome);
  });
}

TEST_F(FaultInjectionTest, OpsContextAndOneOperation) {
  Walk([](porta_device_t device, Host* host, Outcome* outcome) {
    std::fill(host->out.begin(), host->out.end(), 0.0f);
    const uint64_t bytes = kCount * sizeof(float);
    const int64_t shape[] = {kCount};
    porta_ops_context_t context = nullptr;
    porta_stream_t stream = nullptr;
    porta_buffer_t buffers[3] = {};
    bool ok = Step(porta_ops_context_create(device, nullptr, &context), "porta_ops_context_create",
                   outcome) &&
              Step(porta_stream_create(device, &stream), "porta_stream_create", outcome);
    for (porta_buffer_t& buffer : buffers) {
      ok = ok && Step(porta_buffer_alloc(device, bytes, PORTA_MEMORY_DEVICE, &buffer),
                      "porta_buffer_alloc", outcome);
    }
    if (ok) {
      const porta_tensor_t a = porta_tensor_contiguous(buffers[0], 0, PORTA_DTYPE_F32, 1, shape);
      const porta_tensor_t b = porta_tensor_contiguous(buffers[1], 0, PORTA_DTYPE_F32, 1, shape);
      const porta_tensor_t out = porta_tensor_contiguous(buffers[2], 0, PORTA_DTYPE_F32, 1, shape);
      ok = Step(porta_copy_host_to_device(stream, buffers[0], 0, host->a.data(), bytes),
                "porta_copy_host_to_device", outcome) &&
           Step(porta_copy_host_to_device(stream, buffers[1], 0, host->b.data(), bytes),
                "porta_copy_host_to_device", outcome) &&
           Step(porta_ops_binary(context, stream, PORTA_BINARY_ADD, &a, &b, &out),
                "porta_ops_binary", outcome) &&
           Step(porta_copy_device_to_host(stream, host->out.data(), buffers[2], 0, bytes),
                "porta_copy_device_to_host", outcome) &&
           Step(porta_stream_synchronize(stream), "porta_stream_synchronize", outcome);
    }
    if (ok) outcome->results_checked = SumIsRight(*host);
    if (stream != nullptr) Cleanup(porta_stream_destroy(stream), "porta_stream_destroy", outcome);
    for (porta_buffer_t buffer : buffers) {
      if (buffer != nullptr) Cleanup(porta_buffer_free(buffer), "porta_buffer_free", outcome);
    }
    if (context != nullptr) {
      Cleanup(porta_ops_context_destroy(context), "porta_ops_context_destroy", outcome);
    }
  });
}

}  // namespace
