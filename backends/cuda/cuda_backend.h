// Objects of the CUDA backend and the table slots implemented in cuda_backend.cpp (backend and
// devices), cuda_objects.cpp (memory, streams, events, modules, launches) and cuda_graph.cpp
// (native graphs).
#ifndef PORTA_BACKENDS_CUDA_CUDA_BACKEND_H_
#define PORTA_BACKENDS_CUDA_CUDA_BACKEND_H_

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "backends/cuda/cuda_driver.h"
#include "porta/porta_backend.h"
#include "porta/sdk/backend_table.h"
#include "porta/sdk/handles.h"
#include "porta/sdk/sticky_error.h"

namespace porta::cuda {

using common::As;
using common::StickyError;

// The loaded driver and the devices it found. With no usable driver, |driver| is null and
// |zero_reason| says why.
struct Backend {
  std::unique_ptr<Driver> driver;
  std::vector<CUdevice> devices;
  std::string zero_reason;
  // Ordered device pairs (ordinals) whose peer access has been enabled, so it is enabled once.
  std::mutex peer_mutex;
  std::set<std::pair<CUdevice, CUdevice>> peers_enabled;
};

// An opened device: its primary context (shared with any CUDA runtime code in the process).
struct Device {
  Backend* backend = nullptr;
  const Driver* driver = nullptr;
  uint32_t index = 0;
  CUdevice device = 0;
  CUcontext context = nullptr;
  int shared_per_block = 0;
  int shared_per_block_optin = 0;
  bool can_map_host = false;
};

// A device allocation, or pinned host memory mapped into the device's address space.
struct Buffer {
  Device* device = nullptr;
  CUdeviceptr pointer = 0;
  void* host = nullptr;
  uint64_t size = 0;
  // The memory is the application's (buffer_import): never freed here.
  bool imported = false;
};

// A host range page-locked with cuMemHostRegister (host_register).
struct HostRegistration {
  Device* device = nullptr;
  void* pointer = nullptr;
};

struct Stream {
  Device* device = nullptr;
  CUstream stream = nullptr;
  std::shared_ptr<StickyError> sticky = std::make_shared<StickyError>();
};

struct Event {
  Device* device = nullptr;
  CUevent event = nullptr;
  std::mutex mutex;
  std::shared_ptr<StickyError> recorded_on;
};

struct Module;

struct Kernel {
  Module* module = nullptr;
  CUfunction function = nullptr;
  std::string name;
  int max_threads = 0;
  int static_shared = 0;
  // Byte size of each parameter, when the driver can tell (cuFuncGetParamInfo).
  bool params_known = false;
  std::vector<size_t> param_sizes;
  // Dynamic shared memory the function has been opted in to beyond the default 48 KiB.
  std::mutex mutex;
  uint64_t dynamic_shared_limit = 0;
};

struct Module {
  Device* device = nullptr;
  CUmodule module = nullptr;
  std::mutex mutex;
  std::map<std::string, std::unique_ptr<Kernel>> kernels;
};

// Makes |device|'s context current on the calling thread (a no-op when it already is); on failure
// writes the reason into |msg| and returns its status.
porta_status_t MakeCurrent(const Device* device, porta_be_msg msg);

// Common prologue of stream work: the stream's sticky error, then the device's context.
porta_status_t BeginStreamWork(Stream* stream, porta_be_msg msg);
// PORTA_OK for CUDA_SUCCESS; otherwise reports the failed call |what| (a device fault becomes the
// stream's sticky error).
porta_status_t StreamResult(Stream* stream, CUresult result, const char* what, porta_be_msg msg);

// Checks a launch of |kernel| against its limits and parameters and opts it in to the dynamic
// shared memory |config| asks for; shared by KernelLaunch and the kernel nodes of native graphs.
porta_status_t CheckLaunch(Kernel* kernel, const porta_launch_config_t* config,
                           const porta_be_arg_t* args, uint32_t arg_count, porta_be_msg msg);

// The driver's kernel parameter array holds at least this many entries (see PackParams).
constexpr uint32_t kParamSlots = 32;
inline uint32_t ParamSlots(uint32_t arg_count) {
  return arg_count > kParamSlots ? arg_count : kParamSlots;
}

// Writes the driver's parameter array for |args| into |params| (|slots| = ParamSlots(arg_count)
// entries); buffer arguments point into |pointers| (as many entries), so both arrays must outlive
// the driver call that reads them.
void PackParams(const porta_be_arg_t* args, uint32_t arg_count, uint32_t slots,
                CUdeviceptr* pointers, void** params);

// The table slots: Init ... DeviceGetInfo in cuda_backend.cpp, the graph slots in cuda_graph.cpp,
// the rest in cuda_objects.cpp.
PORTA_DECLARE_BACKEND_SLOTS()
PORTA_DECLARE_BACKEND_GRAPH_SLOTS()

}  // namespace porta::cuda

#endif  // PORTA_BACKENDS_CUDA_CUDA_BACKEND_H_
