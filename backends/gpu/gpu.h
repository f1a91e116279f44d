// The GPU layer's objects and table slots, shared by the CUDA and HIP backends and written once
// against a vendor's API map |Api| (see gpu_api.h). The slots are defined in gpu_device.cpp
// (backend and devices), gpu_memory.cpp (buffers, host registration, copies, fills),
// gpu_stream.cpp (streams and events), gpu_module.cpp (modules, kernels, launches) and
// gpu_graph.cpp (native graphs); a vendor's <x>_backend.cpp builds its table from them.
#ifndef PORTA_BACKENDS_GPU_GPU_H_
#define PORTA_BACKENDS_GPU_GPU_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "backends/gpu/gpu_api.h"
#include "porta/porta_backend.h"
#include "porta/sdk/backend_table.h"
#include "porta/sdk/handles.h"
#include "porta/sdk/sticky_error.h"

namespace porta::gpu {

// The loaded vendor library and the devices it found. With no usable library, |library| is null
// and |zero_reason| says why.
template <class Api>
struct Backend {
  std::unique_ptr<typename Api::Library> library;
  std::vector<typename Api::DeviceId> devices;
  std::string zero_reason;
  // Ordered pairs of device indices whose peer access has been enabled, so it is enabled once.
  std::mutex peer_mutex;
  std::set<std::pair<uint32_t, uint32_t>> peers_enabled;
};

// An opened device.
template <class Api>
struct Device {
  Backend<Api>* backend = nullptr;
  const typename Api::Library* library = nullptr;
  uint32_t index = 0;
  typename Api::DeviceId id{};
  // What the vendor keeps besides (CUDA: the primary context).
  typename Api::DeviceState state{};
  // Shared memory per block without and with the vendor's opt-in (the same where it has none).
  int shared_per_block = 0;
  int shared_per_block_optin = 0;
  bool can_map_host = false;
  // "sm_90", "gfx90a", and the capabilities that follow from it (fp16, bf16).
  std::string architecture;
  uint64_t architecture_capabilities = 0;
};

// A device allocation, or pinned host memory mapped into the device's address space.
template <class Api>
struct Buffer {
  Device<Api>* device = nullptr;
  typename Api::DevicePtr pointer{};
  void* host = nullptr;
  uint64_t size = 0;
  // The memory is the application's (buffer_import): never freed here.
  bool imported = false;
};

// A host range page-locked for one device (host_register).
template <class Api>
struct HostRegistration {
  Device<Api>* device = nullptr;
  void* pointer = nullptr;
};

template <class Api>
struct Stream {
  Device<Api>* device = nullptr;
  typename Api::StreamHandle stream{};
  std::shared_ptr<common::StickyError> sticky = std::make_shared<common::StickyError>();
};

template <class Api>
struct Event {
  Device<Api>* device = nullptr;
  typename Api::EventHandle event{};
  std::mutex mutex;
  // The sticky error of the stream the event was last recorded on, or null.
  std::shared_ptr<common::StickyError> recorded_on;
};

template <class Api>
struct Module;

template <class Api>
struct Kernel {
  Module<Api>* module = nullptr;
  typename Api::FunctionHandle function{};
  std::string name;
  int max_threads = 0;
  int static_shared = 0;
  // Byte size of each parameter, where the driver tells them (Api::kParamInfo).
  bool params_known = false;
  std::vector<size_t> param_sizes;
  // Dynamic shared memory the function has been opted in to beyond shared_per_block.
  std::mutex mutex;
  uint64_t dynamic_shared_limit = 0;
};

template <class Api>
struct Module {
  Device<Api>* device = nullptr;
  typename Api::ModuleHandle module{};
  std::mutex mutex;
  std::map<std::string, std::unique_ptr<Kernel<Api>>> kernels;
};

template <class Api>
struct Graph;

// A device address as the 64 bits of a native handle, and back (CUdeviceptr is an integer,
// hipDeviceptr_t a pointer).
template <typename Ptr>
uint64_t AddressOf(Ptr pointer) {
  if constexpr (std::is_pointer_v<Ptr>) {
    return reinterpret_cast<uintptr_t>(pointer);
  } else {
    return static_cast<uint64_t>(pointer);
  }
}

template <typename Ptr>
Ptr PointerAt(uint64_t address) {
  if constexpr (std::is_pointer_v<Ptr>) {
    return reinterpret_cast<Ptr>(static_cast<uintptr_t>(address));
  } else {
    return static_cast<Ptr>(address);
  }
}

// |pointer| advanced by |offset| bytes.
template <typename Ptr>
Ptr Advance(Ptr pointer, uint64_t offset) {
  if constexpr (std::is_pointer_v<Ptr>) {
    return common::Offset(pointer, offset);
  } else {
    return pointer + offset;
  }
}

// The body of a release slot: calls |destroy|(|handle|) with |object|'s device current, logs a
// failure (release slots return nothing), and deletes |object|.
template <class Api, class Object, typename Handle, typename Pointer>
void Release(Object* object, Handle handle, const Function<Pointer>& destroy) {
  Api::MakeCurrent(*object->device, nullptr);
  object->device->library->Released(destroy(handle), destroy.name);
  delete object;
}

#define PORTA_GPU_DECLARE_SLOT_(field, function) \
  static ::porta::common::SlotFunction<decltype(porta_backend_table_t::field)> function;

// Every slot of the table for the vendor |Api|, as static functions (Init ... StreamHostFunc, with
// the signatures of porta_backend.h), and the helpers the layer's files share. A vendor builds its
// table in the scope of a struct derived from this one (see cuda_backend.cpp).
template <class Api>
struct Slots {
  using Library = typename Api::Library;
  using Result = typename Api::Result;
  using DevicePtr = typename Api::DevicePtr;
  using Backend = gpu::Backend<Api>;
  using Device = gpu::Device<Api>;
  using Buffer = gpu::Buffer<Api>;
  using HostRegistration = gpu::HostRegistration<Api>;
  using Stream = gpu::Stream<Api>;
  using Event = gpu::Event<Api>;
  using Module = gpu::Module<Api>;
  using Kernel = gpu::Kernel<Api>;
  using Graph = gpu::Graph<Api>;

  PORTA_BACKEND_SLOTS(PORTA_GPU_DECLARE_SLOT_)
  PORTA_BACKEND_GRAPH_SLOTS(PORTA_GPU_DECLARE_SLOT_)
  PORTA_BACKEND_V13_SLOTS(PORTA_GPU_DECLARE_SLOT_)
  PORTA_BACKEND_V14_SLOTS(PORTA_GPU_DECLARE_SLOT_)

  // gpu_stream.cpp. The common prologue of stream work: the stream's sticky error, then making the
  // device current.
  static porta_status_t BeginStreamWork(Stream* stream, porta_be_msg msg);
  // PORTA_OK for success; otherwise reports the failed call |what| (a device fault becomes the
  // stream's sticky error).
  static porta_status_t StreamResult(Stream* stream, Result result, const char* what,
                                     porta_be_msg msg);

  // gpu_module.cpp. Checks a launch of |kernel| against its own limits and parameters and opts it
  // in to the dynamic shared memory |config| asks for; shared by KernelLaunch and the kernel nodes
  // of native graphs.
  static porta_status_t CheckLaunch(Kernel* kernel, const porta_launch_config_t* config,
                                    const porta_be_arg_t* args, uint32_t arg_count,
                                    porta_be_msg msg);
  // The vendor's kernel parameter array holds at least this many entries (see PackParams).
  static constexpr uint32_t kParamSlots = 32;
  static uint32_t ParamSlots(uint32_t arg_count) {
    return arg_count > kParamSlots ? arg_count : kParamSlots;
  }
  // Writes the parameter array for |args| into |params| (|slots| = ParamSlots(arg_count)
  // entries); buffer arguments point into |pointers| (as many entries), so both arrays must
  // outlive the call that reads them.
  static void PackParams(const porta_be_arg_t* args, uint32_t arg_count, uint32_t slots,
                         DevicePtr* pointers, void** params);
};

#undef PORTA_GPU_DECLARE_SLOT_

}  // namespace porta::gpu

// Explicitly instantiates slot |function| of Slots<PORTA_GPU_API>, the vendor map this
// compilation of the layer is for (porta_add_gpu_backend sets it); each of the layer's files
// does so, inside namespace porta::gpu, for the slots it defines.
#define PORTA_GPU_INSTANTIATE_SLOT(field, function)                     \
  template common::SlotFunction<decltype(porta_backend_table_t::field)> \
      Slots<PORTA_GPU_API>::function;

#endif  // PORTA_BACKENDS_GPU_GPU_H_
