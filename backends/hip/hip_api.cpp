// The operations of the HIP map whose shape differs from CUDA's.
#include "backends/hip/hip_api.h"

#include <cstdio>
#include <cstring>

#include "porta/sdk/message.h"

namespace porta::hip {
namespace {

// "gfx90a:sramecc+:xnack-" -> "gfx90a": the feature suffix is a property of the code object,
// not the architecture name users match against.
std::string BaseArchitecture(const char* gcn_arch_name) {
  std::string name = gcn_arch_name;
  const size_t colon = name.find(':');
  if (colon != std::string::npos) name.resize(colon);
  return name;
}

bool StartsWith(const std::string& text, const char* prefix) {
  return text.rfind(prefix, 0) == 0;
}

}  // namespace

// "HIP 5.2.21153", from the runtime version.
std::string Api::DriverVersion(const Library& library) {
  const int version = library.version();
  char text[64];
  std::snprintf(text, sizeof(text), "HIP %d.%d.%d", version / 10000000, version / 100000 % 100,
                version % 100000);
  return text;
}

// Ordinals 0 to hipGetDeviceCount - 1.
void Api::ListDevices(const Library& library, std::vector<int>* devices, std::string* zero_reason) {
  int count = 0;
  const hipError_t error = library.get_device_count(&count);
  if (error != hipSuccess) {
    *zero_reason =
        std::string(library.get_device_count.name) + " failed: " + library.ErrorText(error);
    return;
  }
  for (int ordinal = 0; ordinal < count; ++ordinal) devices->push_back(ordinal);
}

// Reads the gfx architecture (hipGetDeviceProperties, where exported). AMD GPUs have no opt-in
// beyond the per-block LDS limit.
porta_status_t Api::OpenDevice(Device& device, porta_be_msg msg) {
  (void)msg;
  const Library& library = *device.library;
  if (library.get_device_properties) {
    // Room beyond the header's struct in case a runtime writes a newer, larger layout.
    struct {
      hipDeviceProp_t props;
      unsigned char slack[4096];
    } storage = {};
    if (library.get_device_properties(&storage.props, device.id) == hipSuccess) {
      storage.props.gcnArchName[sizeof(storage.props.gcnArchName) - 1] = '\0';
      device.architecture = BaseArchitecture(storage.props.gcnArchName);
    }
  }
  if (device.architecture.empty()) device.architecture = "gfx (unknown)";
  device.architecture_capabilities = PORTA_CAP_FP16;
  // bfloat16 instructions arrived with CDNA2 (gfx90a) and RDNA3 (gfx11).
  const std::string& arch = device.architecture;
  if (StartsWith(arch, "gfx90a") || StartsWith(arch, "gfx94") || StartsWith(arch, "gfx95") ||
      StartsWith(arch, "gfx11") || StartsWith(arch, "gfx12")) {
    device.architecture_capabilities |= PORTA_CAP_BF16;
  }
  return PORTA_OK;
}

// Nothing to release: the runtime keeps one context per device.
void Api::CloseDevice(Device& device) {
  (void)device;
}

porta_status_t Api::MakeCurrent(const Device& device, porta_be_msg msg) {
  const Library& library = *device.library;
  int current = -1;
  if (library.get_device(&current) == hipSuccess && current == device.id) return PORTA_OK;
  const hipError_t error = library.set_device(device.id);
  if (error != hipSuccess) return library.Fail(error, library.set_device.name, msg);
  return PORTA_OK;
}

porta_status_t Api::DeviceUuid(const Device& device, uint8_t* uuid, porta_be_msg msg) {
  (void)msg;
  const Library& library = *device.library;
  hipUUID value = {};
  if (library.device_get_uuid && library.device_get_uuid(&value, device.id) == hipSuccess) {
    std::memcpy(uuid, value.bytes, sizeof(value.bytes));
  }
  return PORTA_OK;
}

void Api::DeviceNativeHandles(const Device& device, porta_native_handles_t* out) {
  out->count = 1;
  out->handles[PORTA_NATIVE_HIP_DEVICE] = static_cast<uint64_t>(device.id);
}

int Api::PeerOf(const Device& device) {
  return device.id;
}

porta_status_t Api::EnablePeerAccess(const Device& here, const Device& other, porta_be_msg msg) {
  const Library& library = *here.library;
  const hipError_t error = library.device_enable_peer_access(other.id, 0);
  if (error != hipSuccess && error != hipErrorPeerAccessAlreadyEnabled) {
    return library.Fail(error, library.device_enable_peer_access.name, msg);
  }
  return PORTA_OK;
}

// hipModuleLoadData of a code object or an offload bundle.
hipError_t Api::LoadModule(const Device& device, const void* image, hipModule_t* module,
                           std::string* detail) {
  const hipError_t error = device.library->module_load(module, image);
  if (error != hipSuccess)
    *detail = "; the code object must contain code for " + device.architecture;
  return error;
}

hipKernelNodeParams Api::KernelNode(hipFunction_t function, const porta_launch_config_t& config,
                                    void** params) {
  hipKernelNodeParams node{};
  // A module function, as hipModuleLaunchKernel takes it (what HIP's own capture of that call
  // puts into a kernel node).
  node.func = reinterpret_cast<void*>(function);
  node.gridDim = dim3(config.grid[0], config.grid[1], config.grid[2]);
  node.blockDim = dim3(config.block[0], config.block[1], config.block[2]);
  node.sharedMemBytes = static_cast<unsigned int>(config.local_memory_bytes);
  node.kernelParams = params;
  return node;
}

// hipGraphAddMemcpyNode1D, device to device.
hipError_t Api::AddCopyNode(const Device& device, hipGraphNode_t* out, hipGraph_t graph,
                            const hipGraphNode_t* dependencies, size_t dependency_count, void* dst,
                            void* src, size_t size) {
  return device.library->graph_add_memcpy_node(out, graph, dependencies, dependency_count, dst, src,
                                               size, hipMemcpyDeviceToDevice);
}

hipError_t Api::AddFillNode(const Device& device, hipGraphNode_t* out, hipGraph_t graph,
                            const hipGraphNode_t* dependencies, size_t dependency_count, void* dst,
                            uint32_t value, uint32_t element_size, size_t count) {
  hipMemsetParams fill{};
  fill.dst = dst;
  fill.elementSize = element_size;
  fill.width = count;
  fill.height = 1;
  fill.pitch = count * element_size;
  fill.value = value;
  return device.library->graph_add_memset_node(out, graph, dependencies, dependency_count, &fill);
}

bool Api::IsMissingFunction(hipError_t result) {
  return result == hipErrorNotFound || result == hipErrorInvalidDeviceFunction;
}

bool Api::IsLaunchConfigError(hipError_t result) {
  return result == hipErrorLaunchOutOfResources || result == hipErrorInvalidValue ||
         result == hipErrorInvalidConfiguration;
}

}  // namespace porta::hip
