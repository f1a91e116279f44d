// Backend and devices of the GPU layer: init (the vendor library and its devices), devices opened
// and closed, their information, free memory and native handles.
// clang-format off
#include PORTA_GPU_API_HEADER  // the vendor map this compilation is for (porta_add_gpu_backend)
// clang-format on

#include <cstdio>
#include <string>

#include "backends/gpu/gpu.h"
#include "porta/sdk/message.h"

namespace porta::gpu {

using common::As;
using common::Fail;
using common::ToHandle;

template <class Api>
porta_status_t Slots<Api>::Init(const porta_backend_host_t* host, porta_be_backend_t* out_backend,
                                porta_be_msg msg) {
  (void)msg;
  common::SetLogSink(host);
  auto backend = std::make_unique<Backend>();
  auto library = std::make_unique<Library>();
  // A missing library or device is not an init failure: the backend loads with zero devices and
  // the reason, which porta-info shows next to it.
  if (library->Load(&backend->zero_reason)) {
    Api::ListDevices(*library, &backend->devices, &backend->zero_reason);
    if (backend->devices.empty() && backend->zero_reason.empty()) {
      backend->zero_reason =
          std::string(Api::kRuntime) + " in " + library->library_name() + " reports no devices";
    }
    backend->library = std::move(library);
  }
  *out_backend = ToHandle<porta_be_backend_t>(backend.release());
  return PORTA_OK;
}

template <class Api>
void Slots<Api>::Shutdown(porta_be_backend_t backend) {
  delete As<Backend>(backend);
}

template <class Api>
porta_status_t Slots<Api>::DeviceCount(porta_be_backend_t be, uint32_t* out_count,
                                       porta_be_msg msg) {
  const Backend* backend = As<Backend>(be);
  *out_count = static_cast<uint32_t>(backend->devices.size());
  if (*out_count == 0) common::SetMessage(msg, "%s", backend->zero_reason.c_str());
  return PORTA_OK;
}

template <class Api>
porta_status_t Slots<Api>::DeviceOpen(porta_be_backend_t be, uint32_t index,
                                      porta_be_device_t* out_device, porta_be_msg msg) {
  Backend* backend = As<Backend>(be);
  // The runtime opens only indices below device_count; the SDK's backend tests also ask a backend
  // without devices (and without a library) for device 0 and expect this answer.
  if (index >= backend->devices.size()) {
    return Fail(msg, PORTA_ERROR_OUT_OF_RANGE, "%s device index %u is out of range (%zu devices)",
                Api::kDisplayName, index, backend->devices.size());
  }
  const Library& library = *backend->library;
  auto device = std::make_unique<Device>();
  device->backend = backend;
  device->library = &library;
  device->index = index;
  device->id = backend->devices[index];
  int can_map = 0;
  Result result = library.device_get_attribute(&device->shared_per_block,
                                               Api::kAttributes[kSharedMemoryPerBlock], device->id);
  if (result == Api::kSuccess) {
    result =
        library.device_get_attribute(&can_map, Api::kAttributes[kCanMapHostMemory], device->id);
  }
  if (result != Api::kSuccess) return library.Fail(result, library.device_get_attribute.name, msg);
  device->can_map_host = can_map != 0;
  device->shared_per_block_optin = device->shared_per_block;
  const porta_status_t status = Api::OpenDevice(*device, msg);
  if (status != PORTA_OK) return status;
  *out_device = ToHandle<porta_be_device_t>(device.release());
  return PORTA_OK;
}

template <class Api>
void Slots<Api>::DeviceClose(porta_be_device_t be) {
  Device* device = As<Device>(be);
  Api::CloseDevice(*device);
  delete device;
}

template <class Api>
porta_status_t Slots<Api>::DeviceGetInfo(porta_be_device_t be, porta_device_info_t* info,
                                         porta_be_msg msg) {
  const Device* device = As<Device>(be);
  const Library& library = *device->library;
  char name[PORTA_NAME_SIZE] = {};
  Result result = library.device_get_name(name, sizeof(name) - 1, device->id);
  if (result != Api::kSuccess) return library.Fail(result, library.device_get_name.name, msg);
  size_t total = 0;
  result = library.device_total_mem(&total, device->id);
  if (result != Api::kSuccess) return library.Fail(result, library.device_total_mem.name, msg);
  // Attributes every supported device reports; a failure here means the driver is in a bad
  // state, and the caller deserves to know.
  int values[kIntegrated + 1] = {};
  for (size_t attribute = 0; attribute <= kIntegrated; ++attribute) {
    result =
        library.device_get_attribute(&values[attribute], Api::kAttributes[attribute], device->id);
    if (result != Api::kSuccess) {
      return library.Fail(result, library.device_get_attribute.name, msg);
    }
  }
  std::snprintf(info->name, sizeof(info->name), "%s", name);
  std::snprintf(info->vendor, sizeof(info->vendor), "%s", Api::kVendor);
  std::snprintf(info->backend, sizeof(info->backend), "%s", Api::kName);
  info->type = PORTA_DEVICE_TYPE_GPU;
  std::snprintf(info->architecture, sizeof(info->architecture), "%s", device->architecture.c_str());
  std::snprintf(info->driver_version, sizeof(info->driver_version), "%s",
                Api::DriverVersion(library).c_str());
  info->backend_device_index = device->index;
  info->global_memory_bytes = total;
  // Neither vendor has a per-allocation limit below the memory size.
  info->max_allocation_bytes = total;
  info->compute_units = static_cast<uint32_t>(values[kComputeUnits]);
  info->max_work_group_size = static_cast<uint32_t>(values[kMaxThreadsPerBlock]);
  for (size_t d = 0; d < 3; ++d) {
    info->max_work_group_dims[d] = static_cast<uint32_t>(values[kMaxBlockDimX + d]);
    info->max_grid_dims[d] = static_cast<uint32_t>(values[kMaxGridDimX + d]);
  }
  // With the opt-in: launches beyond shared_per_block are enabled per kernel (CheckLaunch).
  info->local_memory_bytes = static_cast<uint64_t>(device->shared_per_block_optin);
  info->subgroup_sizes[0] = static_cast<uint32_t>(values[kWarpSize]);
  info->subgroup_size_count = 1;
  uint64_t caps = PORTA_CAP_FP64 | PORTA_CAP_INT64 | PORTA_CAP_ATOMICS | PORTA_CAP_INT8 |
                  PORTA_CAP_TIMESTAMPS | device->architecture_capabilities;
  if (library.has_graphs()) caps |= PORTA_CAP_NATIVE_GRAPHS;
  if (device->can_map_host) caps |= PORTA_CAP_HOST_VISIBLE_MEMORY;
  if (values[kIntegrated] != 0) caps |= PORTA_CAP_UNIFIED_MEMORY;
  info->capabilities = caps;
  info->kernel_formats = Api::kKernelFormats;
  return Api::DeviceUuid(*device, info->uuid, msg);
}

template <class Api>
porta_status_t Slots<Api>::DeviceMemoryInfo(porta_be_device_t be, uint64_t* out_free_bytes,
                                            porta_be_msg msg) {
  const Device* device = As<Device>(be);
  const porta_status_t current = Api::MakeCurrent(*device, msg);
  if (current != PORTA_OK) return current;
  size_t free_bytes = 0;
  size_t total_bytes = 0;
  const Result result = device->library->mem_get_info(&free_bytes, &total_bytes);
  if (result != Api::kSuccess) {
    return device->library->Fail(result, device->library->mem_get_info.name, msg);
  }
  *out_free_bytes = free_bytes;
  return PORTA_OK;
}

template <class Api>
porta_status_t Slots<Api>::DeviceNativeHandles(porta_be_device_t be, porta_native_handles_t* out,
                                               porta_be_msg msg) {
  (void)msg;
  Api::DeviceNativeHandles(*As<Device>(be), out);
  return PORTA_OK;
}

PORTA_GPU_INSTANTIATE_SLOT(init, Init)
PORTA_GPU_INSTANTIATE_SLOT(shutdown, Shutdown)
PORTA_GPU_INSTANTIATE_SLOT(device_count, DeviceCount)
PORTA_GPU_INSTANTIATE_SLOT(device_open, DeviceOpen)
PORTA_GPU_INSTANTIATE_SLOT(device_close, DeviceClose)
PORTA_GPU_INSTANTIATE_SLOT(device_get_info, DeviceGetInfo)
PORTA_GPU_INSTANTIATE_SLOT(device_memory_info, DeviceMemoryInfo)
PORTA_GPU_INSTANTIATE_SLOT(device_native_handles, DeviceNativeHandles)

}  // namespace porta::gpu
