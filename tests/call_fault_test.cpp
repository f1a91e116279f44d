// Fault injection over calls: the n-th call Porta makes into a vendor driver, or into a plugin,
// fails. Each test walks n over every call one main API path makes (runtime creation, streams,
// buffers, a host registration, copies, a fill, module load, a launch, events across streams, graph
// capture, update and replay, then every release) and checks each run: the injected failure comes
// back from the call that met it as a non-OK status whose message names the failed call (or, when
// it failed while the runtime loaded the backend, as the backend's report), nothing else fails,
// every release succeeds, and a runtime created afterwards works again. Under the asan preset
// LeakSanitizer checks that no failure leaks.
//
// The vendor drivers are the test-only fakes of the CUDA, HIP and Level Zero backends
// (backends/*/fake_*), which count their calls (State::countdown); the plugin is the mini test
// backend built with MINI_FAULTY (tests/plugins/fault_walk.h). The walk over the plugin covers
// plugin loading: the entry function, init, device count and info, then every slot the path
// uses.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "porta/porta.h"
#include "tests/plugins/fault_walk.h"
#include "tests/test_support.h"

#ifdef PORTA_TEST_FAKE_CUDA_DRIVER
#include "backends/cuda/fake_cuda_driver.h"
#endif
#ifdef PORTA_TEST_FAKE_HIP_RUNTIME
#include "backends/hip/fake_hip_runtime.h"
#endif
#ifdef PORTA_TEST_FAKE_LEVEL_ZERO_LOADER
#include "backends/level_zero/fake_level_zero_loader.h"
#endif

namespace porta_test {
namespace {

constexpr uint32_t kCount = 1024;
constexpr uint64_t kBytes = kCount * sizeof(uint32_t);

// Makes the n-th call into one backend's lower layer fail, and tells what happened.
class Injector {
 public:
  virtual ~Injector() = default;
  // Forgets the last run; with |n| >= 0 the n-th call from now on fails, once.
  virtual void Arm(long long n) = 0;
  // The call the last run failed, or "" when the countdown never reached it.
  virtual std::string Fired() const = 0;
  // Calls counted since Arm.
  virtual long long Calls() const = 0;
};

// The walk over the MINI_FAULTY plugin: the shared FaultWalk, named in the environment.
class PluginInjector : public Injector {
 public:
  void Arm(long long n) override {
    walk_.countdown = n;
    walk_.calls = 0;
    walk_.fired[0] = '\0';
    char text[64];
    std::snprintf(text, sizeof text, "%lld %" PRIxPTR, n, reinterpret_cast<uintptr_t>(&walk_));
    setenv(kFaultWalkVariable, text, 1);
  }
  std::string Fired() const override { return walk_.fired; }
  long long Calls() const override { return walk_.calls; }

 private:
  FaultWalk walk_;
};

// The walk over a fake vendor library, whose State the test reaches through its own reference to
// the library (which also keeps the state across the backend's loads and unloads).
template <typename State, typename Result>
class FakeInjector : public Injector {
 public:
  FakeInjector(const char* library, const char* state_symbol, Result result) : result_(result) {
    handle_ = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (handle_ == nullptr) return;
    using StateFn = State* (*)();
    auto state_fn = reinterpret_cast<StateFn>(dlsym(handle_, state_symbol));
    if (state_fn != nullptr) state_ = state_fn();
  }
  ~FakeInjector() override {
    if (handle_ != nullptr) dlclose(handle_);
  }
  bool ok() const { return state_ != nullptr; }
  void set_result(Result result) { result_ = result; }
  void Arm(long long n) override {
    *state_ = State();
    state_->countdown_result = result_;
    state_->countdown = n;
  }
  std::string Fired() const override { return state_->countdown_call; }
  long long Calls() const override { return state_->calls; }

 private:
  void* handle_ = nullptr;
  State* state_ = nullptr;
  Result result_;
};

// What one run of the path did.
struct Outcome {
  porta_status_t status = PORTA_OK;
  std::string step;  // the call that failed
  std::string message;
  bool has_device = true;
  std::string report;  // the backend's report when it has no device
  std::string cleanup_step;
  porta_status_t cleanup_status = PORTA_OK;
  bool results_checked = false;
  bool results_right = false;
  std::string fired_in;  // the API call during which the injected failure happened
};

// The injector of the run in progress, so that each step can tell whether the failure fired in it.
Injector* g_injector = nullptr;

void NoteFired(const char* step, Outcome* outcome) {
  if (outcome->fired_in.empty() && !g_injector->Fired().empty()) outcome->fired_in = step;
}

bool Step(porta_status_t status, const char* step, Outcome* outcome) {
  NoteFired(step, outcome);
  if (status == PORTA_OK) return true;
  if (outcome->status == PORTA_OK) {
    outcome->status = status;
    outcome->step = step;
    outcome->message = porta_last_error_message();
  }
  return false;
}

void Cleanup(porta_status_t status, const char* step, Outcome* outcome) {
  NoteFired(step, outcome);
  if (status == PORTA_OK || !outcome->cleanup_step.empty()) return;
  outcome->cleanup_step = step;
  outcome->cleanup_status = status;
}

// The plugin's kernel "k"(in, value, out): out[i] = in[i] + value, one work item per element.
int32_t AddScalar(const porta_host_group_t* group) {
  if (group->arg_count != 3) return 1;
  const auto* in = static_cast<const uint32_t*>(group->args[0].ptr);
  uint32_t value = 0;
  std::memcpy(&value, group->args[1].ptr, sizeof value);
  auto* out = static_cast<uint32_t*>(group->args[2].ptr);
  const uint32_t first = group->group_id[0] * group->group_size[0];
  for (uint32_t i = first; i < first + group->group_size[0] && i < kCount; ++i) {
    out[i] = in[i] + value;
  }
  return 0;
}

const porta_host_kernel_t kHostKernels[] = {{"k", AddScalar}};

// The smallest valid OpenCL kernel module, an empty kernel "k" (Level Zero validates modules
// before the driver sees them; the fake's kernels take three arguments whatever the module says):
//   OpCapability Addresses; OpCapability Kernel; OpMemoryModel Physical64 OpenCL
//   OpEntryPoint Kernel %k "k"; %void = OpTypeVoid; %fn = OpTypeFunction %void
//   %k = OpFunction %void None %fn; OpLabel; OpReturn; OpFunctionEnd
const uint32_t kSpirv[] = {0x07230203, 0x00010000, 0x00070000, 0x00000005, 0x00000000, 0x00020011,
                           0x00000004, 0x00020011, 0x00000006, 0x0003000e, 0x00000002, 0x00000002,
                           0x0004000f, 0x00000006, 0x00000001, 0x0000006b, 0x00020013, 0x00000002,
                           0x00030021, 0x00000003, 0x00000002, 0x00050036, 0x00000002, 0x00000001,
                           0x00000000, 0x00000003, 0x000200f8, 0x00000004, 0x000100fd, 0x00010038};
const char kPtx[] = ".version 7.0\n.target sm_50\n.address_size 64\n.visible .entry k() { ret; }\n";
const char kHsaco[] = "fake";

struct Target {
  std::string backend;
  porta_module_source_t source{};
  const char* plugin_paths = nullptr;
  // Whether data really moves (the fakes' copies and kernels do nothing).
  bool real_memory = false;
  // Calls whose failure the backend absorbs by design, and why; |steps| (when not empty) are the
  // only API calls in which it may.
  struct Tolerated {
    std::set<std::string> steps;
    std::string why;
  };
  std::map<std::string, Tolerated> tolerated;
  // Work-groups of the launch and work items in each (the fake CUDA and HIP devices allow one
  // group of one item).
  uint32_t grid = 1;
  uint32_t block = 1;
};

// Failures of |calls| in the graph API calls a backend answers by declining the native graph (the
// runtime then replays its nodes one call at a time, or rebuilds it after an update).
[[maybe_unused]] void TolerateGraphDeclines(Target* target,
                                            std::initializer_list<const char*> calls) {
  for (const char* call : calls) {
    target->tolerated[call] = {
        {"porta_graph_instantiate", "porta_graph_launch", "porta_graph_exec_update_kernel_args"},
        "the backend declined the native graph, so its nodes replay one call at a time"};
  }
}

// A failure of |call|, which only asks which device (or context) is current: the backend then
// makes its own current, which it does anyway when the answer is another one.
[[maybe_unused]] void TolerateCurrentQuery(Target* target, const char* call) {
  target->tolerated[call] = {{}, "asking what is current only saves making it current"};
}

// One run of the path on |target|'s device, in a runtime of its own.
Outcome RunPath(const Target& target) {
  Outcome outcome;
  porta_runtime_options_t options = PORTA_RUNTIME_OPTIONS_INIT;
  options.plugin_paths = target.plugin_paths;
  options.device_filter = target.backend.c_str();
  porta_runtime_t runtime = nullptr;
  if (!Step(porta_runtime_create(&options, &runtime), "porta_runtime_create", &outcome)) {
    return outcome;
  }
  porta_device_t device = nullptr;
  uint32_t devices = 0;
  if (porta_runtime_device_count(runtime, &devices) != PORTA_OK || devices == 0 ||
      porta_runtime_device(runtime, 0, &device) != PORTA_OK) {
    outcome.has_device = false;
    for (const porta_backend_report_t& report : Reports(runtime)) {
      if (target.backend == report.name || (target.plugin_paths != nullptr &&
                                            std::strcmp(report.source, target.plugin_paths) == 0)) {
        outcome.report = report.reason;
      }
    }
    porta_runtime_destroy(runtime);
    return outcome;
  }

  std::vector<uint32_t> in(kCount), out_a(kCount, 0), out_b(kCount, 0);
  for (uint32_t i = 0; i < kCount; ++i) in[i] = i * 3u;
  const uint32_t value = 7;
  const uint32_t pattern = 0xabababab;
  porta_stream_t s1 = nullptr, s2 = nullptr;
  porta_buffer_t a = nullptr, b = nullptr;
  porta_module_t module = nullptr;
  porta_kernel_t kernel = nullptr;
  porta_event_t event = nullptr;
  porta_graph_t graph = nullptr;
  porta_graph_exec_t exec = nullptr;
  porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
  config.grid[0] = target.grid;
  config.block[0] = target.block;
  porta_kernel_arg_t args[3] = {};
  porta_memory_info_t memory = PORTA_MEMORY_INFO_INIT;
  bool ok = Step(porta_device_get_memory_info(device, &memory), "porta_device_get_memory_info",
                 &outcome) &&
            Step(porta_stream_create(device, &s1), "porta_stream_create", &outcome) &&
            Step(porta_stream_create(device, &s2), "porta_stream_create", &outcome) &&
            Step(porta_buffer_alloc(device, kBytes, PORTA_MEMORY_DEVICE, &a), "porta_buffer_alloc",
                 &outcome) &&
            Step(porta_buffer_alloc(device, kBytes, PORTA_MEMORY_DEVICE, &b), "porta_buffer_alloc",
                 &outcome);
  // The built-in backends import a buffer's own memory as a second buffer (the driver checks the
  // address; the import frees nothing).
  if (ok && target.plugin_paths == nullptr) {
    porta_native_handles_t native = PORTA_NATIVE_HANDLES_INIT;
    porta_buffer_import_desc_t import = PORTA_BUFFER_IMPORT_DESC_INIT;
    import.native = &native;
    import.size = kBytes;
    porta_buffer_t alias = nullptr;
    ok = Step(porta_buffer_get_native_handles(b, &native), "porta_buffer_get_native_handles",
              &outcome) &&
         Step(porta_buffer_import(device, &import, &alias), "porta_buffer_import", &outcome) &&
         Step(porta_buffer_free(alias), "porta_buffer_free", &outcome);
  }
  if (ok) {
    args[0] = porta_arg_buffer(a, 0);
    args[1] = porta_arg_scalar(&value, sizeof value);
    args[2] = porta_arg_buffer(b, 0);
    porta_module_desc_t desc = PORTA_MODULE_DESC_INIT;
    desc.sources = &target.source;
    desc.source_count = 1;
    // The upload goes through a registration of |in| (pinned or imported by the drivers), which
    // is released once s1 has drained; one the walk leaves registered goes with the runtime.
    ok = Step(porta_host_register(device, in.data(), kBytes, 0), "porta_host_register", &outcome) &&
         Step(porta_fill_buffer(s1, b, 0, kBytes, &pattern, sizeof pattern), "porta_fill_buffer",
              &outcome) &&
         Step(porta_copy_host_to_device(s1, a, 0, in.data(), kBytes), "porta_copy_host_to_device",
              &outcome) &&
         Step(porta_module_load(device, &desc, &module), "porta_module_load", &outcome) &&
         Step(porta_module_get_kernel(module, "k", &kernel), "porta_module_get_kernel", &outcome) &&
         Step(porta_event_create(device, 0, &event), "porta_event_create", &outcome) &&
         Step(porta_kernel_launch(s1, kernel, &config, args, 3), "porta_kernel_launch", &outcome) &&
         Step(porta_event_record(event, s1), "porta_event_record", &outcome) &&
         Step(porta_stream_wait_event(s2, event), "porta_stream_wait_event", &outcome) &&
         Step(porta_copy_device_to_device(s2, a, 0, b, 0, kBytes), "porta_copy_device_to_device",
              &outcome) &&
         Step(porta_stream_synchronize(s2), "porta_stream_synchronize", &outcome) &&
         Step(porta_event_query(event), "porta_event_query", &outcome) &&
         Step(porta_host_unregister(device, in.data()), "porta_host_unregister", &outcome) &&
         Step(porta_stream_enqueue_host_func(
                  s1, [](void*) {}, nullptr),
              "porta_stream_enqueue_host_func", &outcome);
  }
  // The graph: a launch (b = a + 7) and a fill of a, replayed, then replayed again with the
  // launch updated to read b into a (a = b + 7, then the fill). Afterwards a holds the pattern and
  // b = in + 14 (a = in + 7 after the first pass).
  if (ok) {
    ok = Step(porta_stream_begin_capture(s1), "porta_stream_begin_capture", &outcome);
    if (ok) {
      const bool captured = Step(porta_kernel_launch(s1, kernel, &config, args, 3),
                                 "porta_kernel_launch (captured)", &outcome) &&
                            Step(porta_fill_buffer(s1, a, 0, kBytes, &pattern, sizeof pattern),
                                 "porta_fill_buffer (captured)", &outcome);
      // Capture always ends, so that the stream is usable again.
      ok = Step(porta_stream_end_capture(s1, &graph), "porta_stream_end_capture", &outcome) &&
           captured;
    }
    const porta_kernel_arg_t swapped[3] = {
        porta_arg_buffer(b, 0), porta_arg_scalar(&value, sizeof value), porta_arg_buffer(a, 0)};
    ok = ok && Step(porta_graph_instantiate(graph, &exec), "porta_graph_instantiate", &outcome) &&
         Step(porta_graph_launch(exec, s1), "porta_graph_launch", &outcome) &&
         Step(porta_graph_exec_update_kernel_args(exec, 0, swapped, 3),
              "porta_graph_exec_update_kernel_args", &outcome) &&
         Step(porta_graph_launch(exec, s1), "porta_graph_launch", &outcome) &&
         Step(porta_copy_device_to_host(s1, out_a.data(), a, 0, kBytes),
              "porta_copy_device_to_host", &outcome) &&
         Step(porta_copy_device_to_host(s1, out_b.data(), b, 0, kBytes),
              "porta_copy_device_to_host", &outcome) &&
         Step(porta_stream_synchronize(s1), "porta_stream_synchronize", &outcome);
  }
  if (ok && target.real_memory) {
    outcome.results_checked = true;
    outcome.results_right = true;
    for (uint32_t i = 0; i < kCount; ++i) {
      if (out_a[i] != pattern || out_b[i] != in[i] + 2 * value) outcome.results_right = false;
    }
  }

  if (exec != nullptr)
    Cleanup(porta_graph_exec_destroy(exec), "porta_graph_exec_destroy", &outcome);
  if (graph != nullptr) Cleanup(porta_graph_destroy(graph), "porta_graph_destroy", &outcome);
  for (porta_stream_t stream : {s1, s2}) {
    // A stream whose work failed reports that again here; it still must release cleanly.
    if (stream != nullptr) {
      Step(porta_stream_synchronize(stream), "porta_stream_synchronize (cleanup)", &outcome);
    }
  }
  if (event != nullptr) Cleanup(porta_event_destroy(event), "porta_event_destroy", &outcome);
  if (module != nullptr) Cleanup(porta_module_destroy(module), "porta_module_destroy", &outcome);
  for (porta_buffer_t buffer : {a, b}) {
    if (buffer != nullptr) Cleanup(porta_buffer_free(buffer), "porta_buffer_free", &outcome);
  }
  for (porta_stream_t stream : {s1, s2}) {
    if (stream != nullptr) Cleanup(porta_stream_destroy(stream), "porta_stream_destroy", &outcome);
  }
  Cleanup(porta_runtime_destroy(runtime), "porta_runtime_destroy", &outcome);
  return outcome;
}

// Runs |fn| with stderr (where the runtime's log goes) sent to a file, and returns what it wrote.
std::string CapturingStderr(const std::function<void()>& fn) {
  std::fflush(stderr);
  FILE* file = std::tmpfile();
  if (file == nullptr) {
    fn();
    return "(stderr could not be captured)";
  }
  const int saved = dup(2);
  dup2(fileno(file), 2);
  fn();
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  std::string text;
  std::rewind(file);
  char chunk[4096];
  for (size_t got; (got = std::fread(chunk, 1, sizeof chunk, file)) > 0;) text.append(chunk, got);
  std::fclose(file);
  return text;
}

// The API calls that release: they never fail on a valid handle, so a failure inside one is told
// in the log.
bool IsRelease(const std::string& step) {
  for (const char* release :
       {"porta_graph_exec_destroy", "porta_graph_destroy", "porta_event_destroy",
        "porta_module_destroy", "porta_buffer_free", "porta_stream_destroy",
        "porta_host_unregister", "porta_runtime_destroy"}) {
    if (step == release) return true;
  }
  return false;
}

// A driver or plugin call that releases something (it returns nothing to the runtime, or the
// runtime has nothing to return it to).
bool IsReleaseCall(const std::string& call) {
  return std::regex_search(call, std::regex("Destroy|Free|Unload|Release|Unregister"));
}

// "cuMemAlloc_v2" -> "cuMemAlloc": the name a backend's message uses for a versioned entry point.
std::string BaseName(const std::string& call) {
  return std::regex_replace(call, std::regex("_v[0-9]+$"), "");
}

class CallFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Only the backend under test reaches a vendor library.
    for (const char* variable :
         {"PORTA_OPENCL_LIBRARY", "PORTA_VULKAN_LIBRARY", "PORTA_CUDA_LIBRARY", "PORTA_HIP_LIBRARY",
          "PORTA_LEVEL_ZERO_LIBRARY"}) {
      vendor_.push_back(std::make_unique<ScopedEnv>(variable, "/nonexistent/libvendor.so"));
    }
    // Warnings: where failures inside releases are told.
    vendor_.push_back(std::make_unique<ScopedEnv>("PORTA_LOG_LEVEL", "1"));
  }

  void UseLibrary(const char* variable, const char* path) {
    vendor_.push_back(std::make_unique<ScopedEnv>(variable, path));
  }

  // Runs the path unarmed (it must succeed), then once with each of its calls failing.
  void Walk(const Target& target, Injector* injector) {
    g_injector = injector;
    injector->Arm(-1);
    const Outcome clean = RunPath(target);
    ASSERT_TRUE(clean.has_device) << target.backend << ": " << clean.report;
    ASSERT_EQ(clean.status, PORTA_OK) << clean.step << ": " << clean.message;
    ASSERT_EQ(clean.cleanup_step, "") << porta_status_string(clean.cleanup_status);
    if (target.real_memory) {
      ASSERT_TRUE(clean.results_checked);
      ASSERT_TRUE(clean.results_right);
    }
    const long long calls = injector->Calls();
    ASSERT_GT(calls, 10) << "the path made almost no calls into the " << target.backend
                         << " layer under it";

    std::map<std::string, int> failed_steps;
    std::map<std::string, int> absorbed;
    int fired = 0, at_load = 0, logged = 0;
    // Calls may vary a little between runs (polling); the walk goes on until a run where the
    // countdown is never reached.
    for (long long n = 0;; ++n) {
      ASSERT_LT(n, 100000) << "the walk does not end";
      injector->Arm(n);
      Outcome outcome;
      const std::string log = CapturingStderr([&] { outcome = RunPath(target); });
      const std::string call = injector->Fired();
      if (call.empty()) {
        EXPECT_GE(n, calls - 5) << "the walk ended early";
        EXPECT_EQ(outcome.status, PORTA_OK) << outcome.step << ": " << outcome.message;
        break;
      }
      ++fired;
      const std::string where = "call " + std::to_string(n) + " (" + call + ")";
      const std::string name = BaseName(call);
      if (!outcome.has_device) {
        // Failed while the runtime loaded the backend: the report says which call.
        ++at_load;
        EXPECT_NE(outcome.report.find(name), std::string::npos)
            << where << ": the backend's report does not name the call: " << outcome.report;
      } else if (outcome.status != PORTA_OK) {
        ++failed_steps[outcome.step];
        EXPECT_NE(outcome.message.find(name), std::string::npos)
            << where << ": " << outcome.step
            << "'s message does not name the call: " << outcome.message;
      } else if ((IsRelease(outcome.fired_in) || IsReleaseCall(name)) &&
                 log.find(name) != std::string::npos) {
        ++logged;  // a release failed, and the log names the failed call
      } else if (const auto tolerated = target.tolerated.find(name);
                 tolerated != target.tolerated.end() &&
                 (tolerated->second.steps.empty() ||
                  tolerated->second.steps.count(outcome.fired_in) > 0)) {
        ++absorbed[name + ": " + tolerated->second.why];
      } else {
        ADD_FAILURE() << where << " failed in " << outcome.fired_in
                      << ", and nothing told: every call succeeded, and the log says: " << log;
      }
      EXPECT_EQ(outcome.cleanup_step, "")
          << where << ": " << outcome.cleanup_step << " failed with "
          << porta_status_string(outcome.cleanup_status);
      // The next run starts a new runtime on the same library: it must work again.
      if (HasFailure()) return;
    }
    injector->Arm(-1);
    const Outcome after = RunPath(target);
    EXPECT_EQ(after.status, PORTA_OK) << after.step << ": " << after.message;
    std::string summary;
    for (const auto& [step, count] : failed_steps) {
      summary += " " + step + "=" + std::to_string(count);
    }
    std::printf(
        "%s: %lld calls, %d failed one at a time: %d while loading, %d in releases "
        "(logged),%s\n",
        target.backend.c_str(), calls, fired, at_load, logged, summary.c_str());
    for (const auto& [entry, count] : absorbed) {
      std::printf("  absorbed %d time(s): %s\n", count, entry.c_str());
    }
  }

  // Walks |target| over the fake vendor library |library| (whose state |state_symbol| exports,
  // named to the backend by |variable|): once with |unknown|, an error the backend has no special
  // answer for, and once with |out_of_memory|, which a backend never absorbs (a refused native
  // graph is then an error too) except where the runtime retries: |allocation| in
  // porta_buffer_alloc.
  template <typename State, typename Result>
  void WalkFake(const char* library, const char* state_symbol, const char* variable,
                const Target& target, Result unknown, Result out_of_memory,
                const char* allocation) {
    FakeInjector<State, Result> injector(library, state_symbol, unknown);
    ASSERT_TRUE(injector.ok()) << dlerror();
    UseLibrary(variable, library);
    for (const Result result : {unknown, out_of_memory}) {
      SCOPED_TRACE("injected result " + std::to_string(static_cast<long long>(result)));
      injector.set_result(result);
      Target walked = target;
      if (result == out_of_memory) {
        walked.tolerated[allocation] = {{"porta_buffer_alloc"},
                                        "out of memory, the runtime returns the blocks its pool "
                                        "caches and allocates once more"};
      }
      Walk(walked, &injector);
    }
  }

  CleanEnvironment clean_environment_;
  std::vector<std::unique_ptr<ScopedEnv>> vendor_;
};

TEST_F(CallFaultTest, EveryPluginCallFailing) {
  Target target;
  target.backend = "faulty";
  target.plugin_paths = PORTA_TEST_PLUGIN_FAULTY;
  target.source = {PORTA_FORMAT_HOST, kHostKernels, sizeof kHostKernels, nullptr, nullptr, 0};
  target.real_memory = true;
  target.grid = kCount / 64;
  target.block = 64;
  PluginInjector injector;
  Walk(target, &injector);
  unsetenv(kFaultWalkVariable);
}

#ifdef PORTA_TEST_FAKE_CUDA_DRIVER
TEST_F(CallFaultTest, EveryCudaDriverCallFailing) {
  Target target;
  target.backend = "cuda";
  TolerateCurrentQuery(&target, "cuCtxGetCurrent");
  TolerateGraphDeclines(&target, {"cuGraphCreate", "cuGraphAddKernelNode", "cuGraphAddMemsetNode",
                                  "cuGraphInstantiateWithFlags", "cuGraphExecKernelNodeSetParams"});
  target.source = {PORTA_FORMAT_PTX, kPtx, sizeof kPtx - 1, nullptr, nullptr, 0};
  WalkFake<porta::cuda::fake::State>(PORTA_TEST_FAKE_CUDA_DRIVER, "porta_fake_cuda_state",
                                     "PORTA_CUDA_LIBRARY", target, CUDA_ERROR_UNKNOWN,
                                     CUDA_ERROR_OUT_OF_MEMORY, "cuMemAlloc");
}
#endif

#ifdef PORTA_TEST_FAKE_HIP_RUNTIME
TEST_F(CallFaultTest, EveryHipRuntimeCallFailing) {
  Target target;
  target.backend = "hip";
  TolerateCurrentQuery(&target, "hipGetDevice");
  TolerateGraphDeclines(&target, {"hipGraphCreate", "hipGraphAddKernelNode",
                                  "hipGraphAddMemsetNode", "hipGraphInstantiateWithFlags"});
  target.source = {PORTA_FORMAT_HSACO, kHsaco, sizeof kHsaco - 1, nullptr, nullptr, 0};
  WalkFake<porta::hip::fake::State>(PORTA_TEST_FAKE_HIP_RUNTIME, "porta_fake_hip_state",
                                    "PORTA_HIP_LIBRARY", target, hipErrorUnknown,
                                    hipErrorOutOfMemory, "hipMalloc");
}
#endif

#ifdef PORTA_TEST_FAKE_LEVEL_ZERO_LOADER
TEST_F(CallFaultTest, EveryLevelZeroCallFailing) {
  Target target;
  target.backend = "level_zero";
  TolerateGraphDeclines(&target, {"zeCommandListCreate", "zeCommandListAppendLaunchKernel",
                                  "zeCommandListAppendMemoryCopy", "zeCommandListAppendMemoryFill",
                                  "zeCommandListAppendBarrier", "zeCommandListClose",
                                  "zeKernelSetGroupSize", "zeKernelSetArgumentValue"});
  for (const char* call : {"zeFenceReset", "zeCommandListReset"}) {
    target.tolerated[call] = {
        {}, "a command list whose reset fails after its work is done is destroyed, not reused"};
  }
  target.source = {PORTA_FORMAT_SPIRV_KERNEL, kSpirv, sizeof kSpirv, nullptr, nullptr, 0};
  WalkFake<porta::level_zero::fake::State>(
      PORTA_TEST_FAKE_LEVEL_ZERO_LOADER, "porta_fake_level_zero_state", "PORTA_LEVEL_ZERO_LIBRARY",
      target, ZE_RESULT_ERROR_UNKNOWN, ZE_RESULT_ERROR_OUT_OF_DEVICE_MEMORY, "zeMemAllocDevice");
}
#endif

}  // namespace
}  // namespace porta_test
