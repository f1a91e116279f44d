// The contract between the GPU layer (backends/gpu/) and a vendor's API map.
//
// CUDA's driver API and HIP's module API are one programming model: devices, streams, events,
// memory, modules loaded from memory, kernels launched with an array of parameter pointers, graphs
// built node by node. The GPU layer implements Porta's backend table once, against that model;
// each vendor supplies a thin map of its API onto it (as ggml builds its HIP backend from its CUDA
// sources through a header of renames):
//
// - Its loader, <x>_library.h: a class Library that opens the vendor library with dlopen and
//   resolves each function into a member named after the operation rather than the vendor symbol
//   (library.mem_alloc is cuMemAlloc_v2 in the CUDA map and hipMalloc in the HIP one). A member is
//   a gpu::Function: typed exactly as the vendor header declares the function, and carrying the
//   name that messages give the call. The Library also turns results into text and statuses:
//     porta_status_t Fail(Result, const char* what, porta_be_msg) const;  // "<what> failed: ..."
//     std::string ErrorText(Result) const;        // "CUDA_ERROR_OUT_OF_MEMORY (2): out of memory"
//     void Released(Result, const char* what) const;  // logs a failure inside a release slot
//     static porta_status_t StatusOf(Result);    // device faults become PORTA_ERROR_DEVICE_LOST
//     const std::string& library_name() const;   bool has_graphs() const;
// - Its struct Api, <x>_api.h: the vendor's types (Result, DeviceId, DevicePtr, the stream, event,
//   module, function and graph handles, KernelNodeParams, DeviceState, what a device keeps
//   besides the layer's fields, and PeerId, how a peer copy names a side), its constants (flags,
//   attribute numbers, names, the kernel formats it loads, what its driver guarantees), and the few
//   operations whose shape differs between the vendors: listing devices, opening and closing one,
//   making it current, enabling peer access, loading a module, the kernel, copy and fill nodes of a
//   graph (PORTA_GPU_API_OPERATIONS below declares them). The members are listed in
//   docs/backends/cuda.md ("The GPU layer"); backends/cuda/cuda_api.h is the reference map.
//
// The layer's sources (gpu_device.cpp, gpu_memory.cpp, gpu_stream.cpp, gpu_module.cpp,
// gpu_graph.cpp) are templates over Api, compiled once per vendor with that vendor's headers into
// its backend library (porta_add_gpu_backend in gpu_backend.cmake): every call is checked against
// the vendor's own declarations, and each vendor's instantiation is a distinct symbol, so both
// backends link into one libporta.
#ifndef PORTA_BACKENDS_GPU_GPU_API_H_
#define PORTA_BACKENDS_GPU_GPU_API_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "porta/porta_backend.h"

namespace porta::gpu {

// One function of a vendor's API map: the pointer its loader resolved, and the name messages give
// the call ("cuMemAlloc", "hipMalloc"). Calling it calls the pointer.
template <typename Pointer>
struct Function;

template <typename R, typename... Args>
struct Function<R (*)(Args...)> {
  R (*pointer)(Args...) = nullptr;
  const char* name = "";

  R operator()(Args... args) const { return pointer(args...); }
  // False when the vendor library does not export the function (an optional one).
  explicit operator bool() const { return pointer != nullptr; }
};

// The device attributes the layer reads, as indices into Api::kAttributes (which holds the
// vendor's attribute number for each).
enum Attribute : size_t {
  kComputeUnits,
  kMaxThreadsPerBlock,
  kMaxBlockDimX,
  kMaxBlockDimY,
  kMaxBlockDimZ,
  kMaxGridDimX,
  kMaxGridDimY,
  kMaxGridDimZ,
  kWarpSize,
  kIntegrated,
  // Shared memory a block may use without opting in.
  kSharedMemoryPerBlock,
  kCanMapHostMemory,
  kAttributeCount
};

}  // namespace porta::gpu

// Declares, inside a vendor's struct Api and after its types, the operations whose shape differs
// between the vendors; the vendor defines them in <x>_api.cpp. In order:
// - The driver_version text of porta_device_info_t ("CUDA 12.4").
// - The devices of a loaded library, each as the id the vendor's calls take; a failure is written
//   into |zero_reason| (the reason for zero devices).
// - Called by device_open once the layer has read the attributes it needs (shared memory per
//   block, host mapping): whatever else the vendor needs (a context), the opt-in limit of shared
//   memory where the vendor has one, the architecture and what follows from it. A failure
//   releases what it acquired. CloseDevice releases it at device_close.
// - Makes the device current on the calling thread (a no-op when it already is); every call the
//   layer makes for a device follows it.
// - The device's UUID into |uuid| (16 bytes; left zero where the vendor cannot tell) and its
//   native handles (porta.h's PORTA_NATIVE_<X>_DEVICE layout).
// - Lets |here| (current) reach |other|'s memory, answering PORTA_OK where it already can; and
//   how the vendor's peer copy names a side (PeerId: a context or an ordinal).
// - Loads a module from |image| (8-byte aligned, NUL-terminated), with what the error message
//   should add (the JIT log, the architecture the code object must hold) in |detail|.
// - The parameters of a kernel node, and the adding of a device-to-device copy node and of a fill
//   node (|count| elements of |element_size| bytes, each |value|) to a graph.
// - Whether a result of module_get_function means that the module has no such kernel, and
//   whether one of launch_kernel means that the configuration is impossible for the kernel.
#define PORTA_GPU_API_OPERATIONS()                                                                 \
  static std::string DriverVersion(const Library& library);                                        \
  static void ListDevices(const Library& library, std::vector<DeviceId>* devices,                  \
                          std::string* zero_reason);                                               \
  static porta_status_t OpenDevice(Device& device, porta_be_msg msg);                              \
  static void CloseDevice(Device& device);                                                         \
  static porta_status_t MakeCurrent(const Device& device, porta_be_msg msg);                       \
  static porta_status_t DeviceUuid(const Device& device, uint8_t* uuid, porta_be_msg msg);         \
  static void DeviceNativeHandles(const Device& device, porta_native_handles_t* out);              \
  static porta_status_t EnablePeerAccess(const Device& here, const Device& other,                  \
                                         porta_be_msg msg);                                        \
  static PeerId PeerOf(const Device& device);                                                      \
  static Result LoadModule(const Device& device, const void* image, ModuleHandle* module,          \
                           std::string* detail);                                                   \
  static KernelNodeParams KernelNode(FunctionHandle function, const porta_launch_config_t& config, \
                                     void** params);                                               \
  static Result AddCopyNode(const Device& device, GraphNodeHandle* out, GraphHandle graph,         \
                            const GraphNodeHandle* dependencies, size_t dependency_count,          \
                            DevicePtr dst, DevicePtr src, size_t size);                            \
  static Result AddFillNode(const Device& device, GraphNodeHandle* out, GraphHandle graph,         \
                            const GraphNodeHandle* dependencies, size_t dependency_count,          \
                            DevicePtr dst, uint32_t value, uint32_t element_size, size_t count);   \
  static bool IsMissingFunction(Result result);                                                    \
  static bool IsLaunchConfigError(Result result);

#endif  // PORTA_BACKENDS_GPU_GPU_API_H_
