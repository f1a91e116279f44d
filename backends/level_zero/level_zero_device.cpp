// Level Zero devices: opening one (its timer, compute queue group and memory access), its
// description and its native handles.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "backends/level_zero/level_zero_objects.h"
#include "porta/sdk/message.h"

namespace porta::level_zero {

using common::Fail;

porta_status_t DeviceOpen(porta_be_backend_t be, uint32_t index, porta_be_device_t* out_device,
                          porta_be_msg msg) {
  Backend* backend = As<Backend>(be);
  const Library& library = *backend->library;
  auto device = std::make_unique<Device>();
  device->backend = backend;
  device->library = &library;
  device->index = index;
  device->driver = &backend->drivers[backend->devices[index].driver];
  device->context = device->driver->context;
  device->device = backend->devices[index].device;

  // From API 1.2 the timer is reported in ticks per second rather than whole nanoseconds per
  // tick, which for a 19.2 MHz timer is the difference between exact and 0.16% off.
  const bool hertz = device->driver->api_version >= ZE_MAKE_VERSION(1, 2);
  device->properties.stype =
      hertz ? ZE_STRUCTURE_TYPE_DEVICE_PROPERTIES_1_2 : ZE_STRUCTURE_TYPE_DEVICE_PROPERTIES;
  ze_result_t result = library.zeDeviceGetProperties(device->device, &device->properties);
  if (result != ZE_RESULT_SUCCESS) return library.Fail(result, "zeDeviceGetProperties", msg);
  const double resolution = static_cast<double>(device->properties.timerResolution);
  if (resolution > 0.0) device->ns_per_tick = hertz ? 1e9 / resolution : resolution;
  const uint32_t bits = device->properties.timestampValidBits;
  if (bits > 0 && bits < 64) device->timestamp_mask = (uint64_t{1} << bits) - 1;

  uint32_t groups = 0;
  result = library.zeDeviceGetCommandQueueGroupProperties(device->device, &groups, nullptr);
  std::vector<ze_command_queue_group_properties_t> group_properties(groups);
  for (auto& group : group_properties) {
    group.stype = ZE_STRUCTURE_TYPE_COMMAND_QUEUE_GROUP_PROPERTIES;
  }
  if (result == ZE_RESULT_SUCCESS) {
    result = library.zeDeviceGetCommandQueueGroupProperties(device->device, &groups,
                                                            group_properties.data());
  }
  if (result != ZE_RESULT_SUCCESS) {
    return library.Fail(result, "zeDeviceGetCommandQueueGroupProperties", msg);
  }
  bool found = false;
  for (uint32_t i = 0; i < groups && !found; ++i) {
    if (group_properties[i].flags & ZE_COMMAND_QUEUE_GROUP_PROPERTY_FLAG_COMPUTE) {
      device->compute_ordinal = i;
      found = true;
    }
  }
  if (!found) {
    return Fail(msg, PORTA_ERROR_UNSUPPORTED,
                "Level Zero device %u has no command queue group that runs compute work", index);
  }

  ze_device_memory_access_properties_t access = {};
  access.stype = ZE_STRUCTURE_TYPE_DEVICE_MEMORY_ACCESS_PROPERTIES;
  result = library.zeDeviceGetMemoryAccessProperties(device->device, &access);
  if (result != ZE_RESULT_SUCCESS) {
    return library.Fail(result, "zeDeviceGetMemoryAccessProperties", msg);
  }
  device->shared_allocations =
      (access.sharedSingleDeviceAllocCapabilities & ZE_MEMORY_ACCESS_CAP_FLAG_RW) != 0;
  device->system_memory_access =
      (access.sharedSystemAllocCapabilities & ZE_MEMORY_ACCESS_CAP_FLAG_RW) != 0;
  *out_device = reinterpret_cast<porta_be_device_t>(device.release());
  return PORTA_OK;
}

void DeviceClose(porta_be_device_t be) {
  delete As<Device>(be);
}

porta_status_t DeviceMemoryInfo(porta_be_device_t, uint64_t*, porta_be_msg msg) {
  // Free device memory is a Sysman query (zesMemoryGetState), which this backend does not use.
  return Fail(msg, PORTA_ERROR_UNSUPPORTED,
              "level_zero: free memory needs Sysman (zesMemoryGetState), which is not used");
}

porta_status_t DeviceGetInfo(porta_be_device_t be, porta_device_info_t* info, porta_be_msg msg) {
  Device* device = As<Device>(be);
  const Library& library = *device->library;
  const ze_device_properties_t& properties = device->properties;
  ze_device_compute_properties_t compute = {};
  compute.stype = ZE_STRUCTURE_TYPE_DEVICE_COMPUTE_PROPERTIES;
  ze_result_t result = library.zeDeviceGetComputeProperties(device->device, &compute);
  if (result != ZE_RESULT_SUCCESS) return library.Fail(result, "zeDeviceGetComputeProperties", msg);
  ze_device_module_properties_t module = {};
  module.stype = ZE_STRUCTURE_TYPE_DEVICE_MODULE_PROPERTIES;
  result = library.zeDeviceGetModuleProperties(device->device, &module);
  if (result != ZE_RESULT_SUCCESS) return library.Fail(result, "zeDeviceGetModuleProperties", msg);
  uint32_t memory_count = 0;
  result = library.zeDeviceGetMemoryProperties(device->device, &memory_count, nullptr);
  std::vector<ze_device_memory_properties_t> memories(memory_count);
  for (auto& memory : memories) memory.stype = ZE_STRUCTURE_TYPE_DEVICE_MEMORY_PROPERTIES;
  if (result == ZE_RESULT_SUCCESS && memory_count > 0) {
    result = library.zeDeviceGetMemoryProperties(device->device, &memory_count, memories.data());
  }
  if (result != ZE_RESULT_SUCCESS) return library.Fail(result, "zeDeviceGetMemoryProperties", msg);

  std::snprintf(info->name, sizeof(info->name), "%s", properties.name);
  if (properties.vendorId == 0x8086) {
    std::snprintf(info->vendor, sizeof(info->vendor), "Intel");
  } else {
    std::snprintf(info->vendor, sizeof(info->vendor), "PCI vendor 0x%04x", properties.vendorId);
  }
  std::snprintf(info->backend, sizeof(info->backend), "level_zero");
  info->type = PORTA_DEVICE_TYPE_GPU;
  // Level Zero 1.4 names no architecture; the PCI device id identifies the GPU generation.
  std::snprintf(info->architecture, sizeof(info->architecture), "PCI device 0x%04x",
                properties.deviceId);
  const ze_api_version_t api = device->driver->api_version;
  std::snprintf(info->driver_version, sizeof(info->driver_version), "Level Zero %u.%u, driver %u",
                ZE_MAJOR_VERSION(api), ZE_MINOR_VERSION(api), device->driver->driver_version);
  info->backend_device_index = device->index;
  uint64_t total = 0;
  for (const auto& memory : memories) total += memory.totalSize;
  info->global_memory_bytes = total;
  info->max_allocation_bytes = properties.maxMemAllocSize;
  info->compute_units =
      properties.numSlices * properties.numSubslicesPerSlice * properties.numEUsPerSubslice;
  info->max_work_group_size = compute.maxTotalGroupSize;
  info->max_work_group_dims[0] = compute.maxGroupSizeX;
  info->max_work_group_dims[1] = compute.maxGroupSizeY;
  info->max_work_group_dims[2] = compute.maxGroupSizeZ;
  info->max_grid_dims[0] = compute.maxGroupCountX;
  info->max_grid_dims[1] = compute.maxGroupCountY;
  info->max_grid_dims[2] = compute.maxGroupCountZ;
  info->local_memory_bytes = compute.maxSharedLocalMemory;
  const uint32_t sizes = std::min<uint32_t>(compute.numSubGroupSizes, PORTA_MAX_SUBGROUP_SIZES);
  for (uint32_t i = 0; i < sizes; ++i) info->subgroup_sizes[i] = compute.subGroupSizes[i];
  info->subgroup_size_count = sizes;
  uint64_t caps = PORTA_CAP_INT64 | PORTA_CAP_ATOMICS | PORTA_CAP_INT8 | PORTA_CAP_TIMESTAMPS |
                  PORTA_CAP_HOST_VISIBLE_MEMORY | PORTA_CAP_NATIVE_GRAPHS;
  if (module.flags & ZE_DEVICE_MODULE_FLAG_FP16) caps |= PORTA_CAP_FP16;
  if (module.flags & ZE_DEVICE_MODULE_FLAG_FP64) caps |= PORTA_CAP_FP64;
  if (properties.flags & ZE_DEVICE_PROPERTY_FLAG_INTEGRATED) caps |= PORTA_CAP_UNIFIED_MEMORY;
  info->capabilities = caps;
  info->kernel_formats = PORTA_FORMAT_BIT(PORTA_FORMAT_SPIRV_KERNEL);
  static_assert(sizeof(info->uuid) <= sizeof(properties.uuid.id));
  std::memcpy(info->uuid, properties.uuid.id, sizeof(info->uuid));
  return PORTA_OK;
}

porta_status_t DeviceNativeHandles(porta_be_device_t be, porta_native_handles_t* out,
                                   porta_be_msg) {
  const Device* device = As<Device>(be);
  out->count = 3;
  out->handles[PORTA_NATIVE_LEVEL_ZERO_DRIVER] = reinterpret_cast<uint64_t>(device->driver->driver);
  out->handles[PORTA_NATIVE_LEVEL_ZERO_DEVICE] = reinterpret_cast<uint64_t>(device->device);
  out->handles[PORTA_NATIVE_LEVEL_ZERO_CONTEXT] = reinterpret_cast<uint64_t>(device->context);
  return PORTA_OK;
}

}  // namespace porta::level_zero
