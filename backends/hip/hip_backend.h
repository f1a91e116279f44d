// Objects of the HIP backend and the table slots implemented in hip_backend.cpp (backend and
// devices), hip_objects.cpp (memory, streams, events, modules, launches) and hip_graph.cpp
// (native graphs).
#ifndef PORTA_BACKENDS_HIP_HIP_BACKEND_H_
#define PORTA_BACKENDS_HIP_HIP_BACKEND_H_

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "backends/hip/hip_library.h"
#include "porta/porta_backend.h"
#include "porta/sdk/backend_table.h"
#include "porta/sdk/handles.h"
#include "porta/sdk/sticky_error.h"

namespace porta::hip {

using common::As;
using common::StickyError;

// The loaded runtime and its device count. With no usable runtime, |library| is null and
// |zero_reason| says why.
struct Backend {
  std::unique_ptr<Library> library;
  int device_count = 0;
  std::string zero_reason;
  // Ordered device pairs whose peer access has been enabled, so it is enabled once.
  std::mutex peer_mutex;
  std::set<std::pair<int, int>> peers_enabled;
};

// An opened device. HIP keeps one context per device; the calling thread's current device is
// switched to it before each call that depends on it.
struct Device {
  Backend* backend = nullptr;
  const Library* library = nullptr;
  int ordinal = 0;
  int shared_per_block = 0;
  bool can_map_host = false;
  std::string architecture;
};

// A device allocation, or pinned host memory mapped into the device's address space.
struct Buffer {
  Device* device = nullptr;
  void* pointer = nullptr;
  void* host = nullptr;
  uint64_t size = 0;
  // The memory is the application's (buffer_import): never freed here.
  bool imported = false;
};

// A host range page-locked with hipHostRegister (host_register).
struct HostRegistration {
  Device* device = nullptr;
  void* pointer = nullptr;
};

struct Stream {
  Device* device = nullptr;
  hipStream_t stream = nullptr;
  std::shared_ptr<StickyError> sticky = std::make_shared<StickyError>();
};

struct Event {
  Device* device = nullptr;
  hipEvent_t event = nullptr;
  std::mutex mutex;
  std::shared_ptr<StickyError> recorded_on;
};

struct Module;

struct Kernel {
  Module* module = nullptr;
  hipFunction_t function = nullptr;
  std::string name;
  int max_threads = 0;
  int static_shared = 0;
};

struct Module {
  Device* device = nullptr;
  hipModule_t module = nullptr;
  std::mutex mutex;
  std::map<std::string, std::unique_ptr<Kernel>> kernels;
};

// Makes |device| the calling thread's current HIP device (a no-op when it already is).
porta_status_t MakeCurrent(const Device* device, porta_be_msg msg);

// Common prologue of stream work: the stream's sticky error, then the device.
porta_status_t BeginStreamWork(Stream* stream, porta_be_msg msg);
// PORTA_OK for hipSuccess; otherwise reports the failed call |what| (a device fault becomes the
// stream's sticky error).
porta_status_t StreamResult(Stream* stream, hipError_t result, const char* what, porta_be_msg msg);

// Checks a launch configuration of |kernel| against its and the device's limits; shared by
// KernelLaunch and the kernel nodes of native graphs.
porta_status_t CheckLaunch(const Kernel* kernel, const porta_launch_config_t* config,
                           porta_be_msg msg);

// The kernel parameter array handed to HIP holds at least this many entries (see PackParams).
constexpr uint32_t kParamSlots = 32;
inline uint32_t ParamSlots(uint32_t arg_count) {
  return arg_count > kParamSlots ? arg_count : kParamSlots;
}

// Writes HIP's parameter array for |args| into |params| (|slots| = ParamSlots(arg_count)
// entries); buffer arguments point into |pointers| (as many entries), so both arrays must outlive
// the HIP call that reads them.
void PackParams(const porta_be_arg_t* args, uint32_t arg_count, uint32_t slots, void** pointers,
                void** params);

// The table slots: Init ... DeviceGetInfo in hip_backend.cpp, the graph slots in hip_graph.cpp,
// the rest in hip_objects.cpp.
PORTA_DECLARE_BACKEND_SLOTS()
PORTA_DECLARE_BACKEND_GRAPH_SLOTS()

}  // namespace porta::hip

#endif  // PORTA_BACKENDS_HIP_HIP_BACKEND_H_
