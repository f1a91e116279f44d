// The operations of the CUDA map whose shape differs from HIP's.
#include "backends/cuda/cuda_api.h"

#include <algorithm>
#include <cstring>

#include "porta/sdk/message.h"

namespace porta::cuda {

// "CUDA 12.4", from the driver API version.
std::string Api::DriverVersion(const Library& library) {
  return "CUDA " + std::to_string(library.version() / 1000) + "." +
         std::to_string(library.version() % 1000 / 10);
}

void Api::ListDevices(const Library& library, std::vector<CUdevice>* devices,
                      std::string* zero_reason) {
  int count = 0;
  const CUresult result = library.device_get_count(&count);
  if (result != CUDA_SUCCESS) {
    *zero_reason =
        std::string(library.device_get_count.name) + " failed: " + library.ErrorText(result);
    return;
  }
  for (int i = 0; i < count; ++i) {
    CUdevice device = 0;
    const CUresult get = library.device_get(&device, i);
    if (get != CUDA_SUCCESS) {
      *zero_reason = std::string(library.device_get.name) + "(" + std::to_string(i) +
                     ") failed: " + library.ErrorText(get);
      continue;
    }
    devices->push_back(device);
  }
}

// Retains the primary context and reads the shared-memory opt-in and the compute capability.
porta_status_t Api::OpenDevice(Device& device, porta_be_msg msg) {
  const Library& library = *device.library;
  CUresult result = library.primary_ctx_retain(&device.state.context, device.id);
  if (result != CUDA_SUCCESS) return library.Fail(result, library.primary_ctx_retain.name, msg);
  // From here on a failure releases the context again.
  const auto fail = [&](CUresult failed, const char* what) {
    CloseDevice(device);
    return library.Fail(failed, what, msg);
  };
  // Drivers older than the opt-in attribute answer CUDA_ERROR_INVALID_VALUE: no opt-in.
  int optin = 0;
  result = library.device_get_attribute(
      &optin, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, device.id);
  if (result != CUDA_SUCCESS && result != CUDA_ERROR_INVALID_VALUE) {
    return fail(result, library.device_get_attribute.name);
  }
  device.shared_per_block_optin = std::max(optin, device.shared_per_block);
  int major = 0;
  int minor = 0;
  result =
      library.device_get_attribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device.id);
  if (result == CUDA_SUCCESS) {
    result = library.device_get_attribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                                          device.id);
  }
  if (result != CUDA_SUCCESS) return fail(result, library.device_get_attribute.name);
  device.architecture = "sm_" + std::to_string(major) + std::to_string(minor);
  // Native half arithmetic arrived with sm_53, bfloat16 with sm_80.
  if (major > 5 || (major == 5 && minor >= 3)) device.architecture_capabilities |= PORTA_CAP_FP16;
  if (major >= 8) device.architecture_capabilities |= PORTA_CAP_BF16;
  return PORTA_OK;
}

// Releases the primary context.
void Api::CloseDevice(Device& device) {
  const Library& library = *device.library;
  library.Released(library.primary_ctx_release(device.id), library.primary_ctx_release.name);
}

porta_status_t Api::MakeCurrent(const Device& device, porta_be_msg msg) {
  const Library& library = *device.library;
  CUcontext current = nullptr;
  CUresult result = library.ctx_get_current(&current);
  if (result == CUDA_SUCCESS && current == device.state.context) return PORTA_OK;
  result = library.ctx_set_current(device.state.context);
  if (result != CUDA_SUCCESS) return library.Fail(result, library.ctx_set_current.name, msg);
  return PORTA_OK;
}

porta_status_t Api::DeviceUuid(const Device& device, uint8_t* uuid, porta_be_msg msg) {
  const Library& library = *device.library;
  CUuuid value = {};
  const CUresult result = library.device_get_uuid(&value, device.id);
  if (result != CUDA_SUCCESS) return library.Fail(result, library.device_get_uuid.name, msg);
  std::memcpy(uuid, value.bytes, sizeof(value.bytes));
  return PORTA_OK;
}

void Api::DeviceNativeHandles(const Device& device, porta_native_handles_t* out) {
  out->count = 2;
  out->handles[PORTA_NATIVE_CUDA_DEVICE] = static_cast<uint64_t>(device.id);
  out->handles[PORTA_NATIVE_CUDA_CONTEXT] = reinterpret_cast<uint64_t>(device.state.context);
}

CUcontext Api::PeerOf(const Device& device) {
  return device.state.context;
}

porta_status_t Api::EnablePeerAccess(const Device& here, const Device& other, porta_be_msg msg) {
  const Library& library = *here.library;
  const CUresult result = library.ctx_enable_peer_access(other.state.context, 0);
  if (result != CUDA_SUCCESS && result != CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED) {
    return library.Fail(result, library.ctx_enable_peer_access.name, msg);
  }
  return PORTA_OK;
}

// cuModuleLoadDataEx of a PTX or cubin image, with the JIT's error and info logs.
CUresult Api::LoadModule(const Device& device, const void* image, CUmodule* module,
                         std::string* detail) {
  char error_log[8192] = {};
  char info_log[4096] = {};
  CUjit_option options[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
                            CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES};
  void* values[] = {error_log, reinterpret_cast<void*>(sizeof(error_log) - 1), info_log,
                    reinterpret_cast<void*>(sizeof(info_log) - 1)};
  const CUresult result = device.library->module_load(module, image, 4, options, values);
  if (result != CUDA_SUCCESS) *detail = std::string("\n") + error_log + info_log;
  return result;
}

CUDA_KERNEL_NODE_PARAMS Api::KernelNode(CUfunction function, const porta_launch_config_t& config,
                                        void** params) {
  CUDA_KERNEL_NODE_PARAMS node{};
  node.func = function;
  node.gridDimX = config.grid[0];
  node.gridDimY = config.grid[1];
  node.gridDimZ = config.grid[2];
  node.blockDimX = config.block[0];
  node.blockDimY = config.block[1];
  node.blockDimZ = config.block[2];
  node.sharedMemBytes = static_cast<unsigned int>(config.local_memory_bytes);
  node.kernelParams = params;
  return node;
}

// A one-row CUDA_MEMCPY3D between device pointers.
CUresult Api::AddCopyNode(const Device& device, CUgraphNode* out, CUgraph graph,
                          const CUgraphNode* dependencies, size_t dependency_count, CUdeviceptr dst,
                          CUdeviceptr src, size_t size) {
  CUDA_MEMCPY3D copy{};
  copy.srcMemoryType = CU_MEMORYTYPE_DEVICE;
  copy.srcDevice = src;
  copy.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  copy.dstDevice = dst;
  copy.WidthInBytes = size;
  copy.Height = 1;
  copy.Depth = 1;
  return device.library->graph_add_memcpy_node(out, graph, dependencies, dependency_count, &copy,
                                               device.state.context);
}

CUresult Api::AddFillNode(const Device& device, CUgraphNode* out, CUgraph graph,
                          const CUgraphNode* dependencies, size_t dependency_count, CUdeviceptr dst,
                          uint32_t value, uint32_t element_size, size_t count) {
  CUDA_MEMSET_NODE_PARAMS fill{};
  fill.dst = dst;
  fill.value = value;
  fill.elementSize = element_size;
  fill.width = count;
  fill.height = 1;
  return device.library->graph_add_memset_node(out, graph, dependencies, dependency_count, &fill,
                                               device.state.context);
}

bool Api::IsMissingFunction(CUresult result) {
  return result == CUDA_ERROR_NOT_FOUND;
}

bool Api::IsLaunchConfigError(CUresult result) {
  return result == CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES || result == CUDA_ERROR_INVALID_VALUE;
}

}  // namespace porta::cuda
