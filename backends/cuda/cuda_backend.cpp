// The CUDA backend: the driver API over libcuda.so.1, opened with dlopen. Devices use their
// primary context; see docs/backends/cuda.md.
#include "backends/cuda/cuda_backend.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "porta/sdk/message.h"

namespace porta::cuda {
namespace {

using common::Fail;

}  // namespace

porta_status_t Init(const porta_backend_host_t* host, porta_be_backend_t* out_backend,
                    porta_be_msg msg) {
  (void)msg;
  common::SetLogSink(host);
  auto backend = std::make_unique<Backend>();
  auto driver = std::make_unique<Driver>();
  // A missing driver is not an init failure: the backend loads with zero devices and the reason,
  // which porta-info shows next to it.
  if (driver->Load(&backend->zero_reason)) {
    int count = 0;
    const CUresult result = driver->cuDeviceGetCount(&count);
    if (result != CUDA_SUCCESS) {
      backend->zero_reason = "cuDeviceGetCount failed: " + driver->ErrorText(result);
      count = 0;
    }
    for (int i = 0; i < count; ++i) {
      CUdevice device = 0;
      const CUresult get = driver->cuDeviceGet(&device, i);
      if (get != CUDA_SUCCESS) {
        backend->zero_reason =
            "cuDeviceGet(" + std::to_string(i) + ") failed: " + driver->ErrorText(get);
        continue;
      }
      backend->devices.push_back(device);
    }
    if (backend->devices.empty() && backend->zero_reason.empty()) {
      backend->zero_reason = "the CUDA driver in " + driver->library_name() + " reports no devices";
    }
    backend->driver = std::move(driver);
  }
  *out_backend = reinterpret_cast<porta_be_backend_t>(backend.release());
  return PORTA_OK;
}

void Shutdown(porta_be_backend_t backend) {
  delete As<Backend>(backend);
}

porta_status_t DeviceCount(porta_be_backend_t be, uint32_t* out_count, porta_be_msg msg) {
  Backend* backend = As<Backend>(be);
  *out_count = static_cast<uint32_t>(backend->devices.size());
  if (*out_count == 0) common::SetMessage(msg, "%s", backend->zero_reason.c_str());
  return PORTA_OK;
}

porta_status_t DeviceOpen(porta_be_backend_t be, uint32_t index, porta_be_device_t* out_device,
                          porta_be_msg msg) {
  Backend* backend = As<Backend>(be);
  if (index >= backend->devices.size()) {
    return Fail(msg, PORTA_ERROR_OUT_OF_RANGE, "CUDA device index %u is out of range (%zu devices)",
                index, backend->devices.size());
  }
  const Driver& driver = *backend->driver;
  auto device = std::make_unique<Device>();
  device->backend = backend;
  device->driver = &driver;
  device->index = index;
  device->device = backend->devices[index];
  CUresult result = driver.cuDevicePrimaryCtxRetain(&device->context, device->device);
  if (result != CUDA_SUCCESS) return driver.Fail(result, "cuDevicePrimaryCtxRetain", msg);
  // From here on a failure releases the context again.
  const auto fail = [&](CUresult failed, const char* what) {
    driver.Released(driver.cuDevicePrimaryCtxRelease_v2(device->device),
                    "cuDevicePrimaryCtxRelease");
    return driver.Fail(failed, what, msg);
  };
  result = driver.cuDeviceGetAttribute(
      &device->shared_per_block, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK, device->device);
  if (result != CUDA_SUCCESS) return fail(result, "cuDeviceGetAttribute");
  // Drivers older than the opt-in attribute answer CUDA_ERROR_INVALID_VALUE: no opt-in.
  result = driver.cuDeviceGetAttribute(&device->shared_per_block_optin,
                                       CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
                                       device->device);
  if (result == CUDA_ERROR_INVALID_VALUE) {
    device->shared_per_block_optin = device->shared_per_block;
  } else if (result != CUDA_SUCCESS) {
    return fail(result, "cuDeviceGetAttribute");
  }
  device->shared_per_block_optin =
      std::max(device->shared_per_block_optin, device->shared_per_block);
  int can_map = 0;
  result = driver.cuDeviceGetAttribute(&can_map, CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY,
                                       device->device);
  if (result != CUDA_SUCCESS) return fail(result, "cuDeviceGetAttribute");
  device->can_map_host = can_map != 0;
  *out_device = reinterpret_cast<porta_be_device_t>(device.release());
  return PORTA_OK;
}

void DeviceClose(porta_be_device_t be) {
  Device* device = As<Device>(be);
  device->driver->Released(device->driver->cuDevicePrimaryCtxRelease_v2(device->device),
                           "cuDevicePrimaryCtxRelease");
  delete device;
}

namespace {

void CopyName(char* dst, size_t capacity, const char* src) {
  std::snprintf(dst, capacity, "%s", src);
}

}  // namespace

porta_status_t DeviceGetInfo(porta_be_device_t be, porta_device_info_t* info, porta_be_msg msg) {
  Device* device = As<Device>(be);
  const Driver& driver = *device->driver;
  const CUdevice dev = device->device;
  // Attributes every device since compute capability 3.0 reports; a failure here means the
  // driver is in a bad state, and the caller deserves to know.
  auto attribute = [&](CUdevice_attribute which, int* value) {
    return driver.cuDeviceGetAttribute(value, which, dev);
  };
  char name[PORTA_NAME_SIZE] = {};
  CUresult result = driver.cuDeviceGetName(name, sizeof(name) - 1, dev);
  if (result != CUDA_SUCCESS) return driver.Fail(result, "cuDeviceGetName", msg);
  size_t total = 0;
  result = driver.cuDeviceTotalMem_v2(&total, dev);
  if (result != CUDA_SUCCESS) return driver.Fail(result, "cuDeviceTotalMem", msg);

  struct Query {
    CUdevice_attribute which;
    int value;
  };
  Query queries[] = {
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, 0},  // 0
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, 0},  // 1
      {CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 0},      // 2
      {CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, 0},     // 3
      {CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X, 0},           // 4
      {CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y, 0},           // 5
      {CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z, 0},           // 6
      {CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X, 0},            // 7
      {CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y, 0},            // 8
      {CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z, 0},            // 9
      {CU_DEVICE_ATTRIBUTE_WARP_SIZE, 0},                 // 10
      {CU_DEVICE_ATTRIBUTE_INTEGRATED, 0},                // 11
  };
  for (Query& query : queries) {
    result = attribute(query.which, &query.value);
    if (result != CUDA_SUCCESS) {
      return driver.Fail(result, "cuDeviceGetAttribute", msg);
    }
  }
  const int major = queries[0].value;
  const int minor = queries[1].value;

  CopyName(info->name, sizeof(info->name), name);
  CopyName(info->vendor, sizeof(info->vendor), "NVIDIA");
  CopyName(info->backend, sizeof(info->backend), "cuda");
  info->type = PORTA_DEVICE_TYPE_GPU;
  std::snprintf(info->architecture, sizeof(info->architecture), "sm_%d%d", major, minor);
  std::snprintf(info->driver_version, sizeof(info->driver_version), "CUDA %d.%d",
                driver.version() / 1000, driver.version() % 1000 / 10);
  info->backend_device_index = device->index;
  info->global_memory_bytes = total;
  // CUDA has no per-allocation limit below the memory size.
  info->max_allocation_bytes = total;
  info->compute_units = static_cast<uint32_t>(queries[2].value);
  info->max_work_group_size = static_cast<uint32_t>(queries[3].value);
  for (int d = 0; d < 3; ++d) {
    info->max_work_group_dims[d] = static_cast<uint32_t>(queries[4 + d].value);
    info->max_grid_dims[d] = static_cast<uint32_t>(queries[7 + d].value);
  }
  // The opt-in limit: launches above the default 48 KiB are enabled per kernel at launch.
  info->local_memory_bytes = static_cast<uint64_t>(device->shared_per_block_optin);
  info->subgroup_sizes[0] = static_cast<uint32_t>(queries[10].value);
  info->subgroup_size_count = 1;
  uint64_t caps =
      PORTA_CAP_FP64 | PORTA_CAP_INT64 | PORTA_CAP_ATOMICS | PORTA_CAP_INT8 | PORTA_CAP_TIMESTAMPS;
  // Native half arithmetic arrived with sm_53, bfloat16 with sm_80.
  if (major > 5 || (major == 5 && minor >= 3)) caps |= PORTA_CAP_FP16;
  if (major >= 8) caps |= PORTA_CAP_BF16;
  if (driver.has_graphs()) caps |= PORTA_CAP_NATIVE_GRAPHS;
  if (device->can_map_host) caps |= PORTA_CAP_HOST_VISIBLE_MEMORY;
  if (queries[11].value != 0) caps |= PORTA_CAP_UNIFIED_MEMORY;
  info->capabilities = caps;
  info->kernel_formats = PORTA_FORMAT_BIT(PORTA_FORMAT_PTX) | PORTA_FORMAT_BIT(PORTA_FORMAT_CUBIN);
  CUuuid uuid = {};
  result = driver.cuDeviceGetUuid_v2(&uuid, dev);
  if (result != CUDA_SUCCESS) return driver.Fail(result, "cuDeviceGetUuid", msg);
  std::memcpy(info->uuid, uuid.bytes, sizeof(info->uuid));
  return PORTA_OK;
}

namespace {

const porta_backend_table_t kTable = PORTA_BACKEND_TABLE_WITH_GRAPHS("cuda");

}  // namespace

porta_status_t DeviceMemoryInfo(porta_be_device_t be, uint64_t* out_free_bytes, porta_be_msg msg) {
  const Device* device = As<Device>(be);
  const porta_status_t current = MakeCurrent(device, msg);
  if (current != PORTA_OK) return current;
  size_t free_bytes = 0;
  size_t total_bytes = 0;
  const CUresult result = device->driver->cuMemGetInfo_v2(&free_bytes, &total_bytes);
  if (result != CUDA_SUCCESS) return device->driver->Fail(result, "cuMemGetInfo", msg);
  *out_free_bytes = free_bytes;
  return PORTA_OK;
}

porta_status_t DeviceNativeHandles(porta_be_device_t be, porta_native_handles_t* out,
                                   porta_be_msg) {
  const Device* device = As<Device>(be);
  out->count = 2;
  out->handles[PORTA_NATIVE_CUDA_DEVICE] = static_cast<uint64_t>(device->device);
  out->handles[PORTA_NATIVE_CUDA_CONTEXT] = reinterpret_cast<uint64_t>(device->context);
  return PORTA_OK;
}

porta_status_t MakeCurrent(const Device* device, porta_be_msg msg) {
  const Driver& driver = *device->driver;
  CUcontext current = nullptr;
  CUresult result = driver.cuCtxGetCurrent(&current);
  if (result == CUDA_SUCCESS && current == device->context) return PORTA_OK;
  result = driver.cuCtxSetCurrent(device->context);
  if (result != CUDA_SUCCESS) return driver.Fail(result, "cuCtxSetCurrent", msg);
  return PORTA_OK;
}

}  // namespace porta::cuda

// Entry of the built-in CUDA backend (and, through the generated shim, of its plugin).
extern "C" porta_status_t porta_cuda_backend_entry(const porta_backend_host_t* host,
                                                   const porta_backend_table_t** out_table,
                                                   porta_be_msg msg) {
  return porta::common::ServeTable(porta::cuda::kTable, host, out_table, msg);
}
