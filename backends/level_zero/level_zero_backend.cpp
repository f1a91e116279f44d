// The Level Zero backend: drivers, devices and memory over libze_loader.so.1, opened with dlopen.
// See docs/backends/level_zero.md.
#include "backends/level_zero/level_zero_backend.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>

#include "porta/sdk/message.h"

namespace porta::level_zero {
namespace {

using common::Fail;

// Finds every GPU of every driver; returns the reason when there is none.
std::string Enumerate(Backend* backend) {
  const Library& library = *backend->library;
  uint32_t count = 0;
  ze_result_t result = library.zeDriverGet(&count, nullptr);
  if (result != ZE_RESULT_SUCCESS) return "zeDriverGet failed: " + Library::ErrorText(result);
  std::vector<ze_driver_handle_t> drivers(count);
  result = library.zeDriverGet(&count, drivers.data());
  if (result != ZE_RESULT_SUCCESS) return "zeDriverGet failed: " + Library::ErrorText(result);
  drivers.resize(count);
  // Entries are never moved once devices point into the vector.
  backend->drivers.reserve(drivers.size());
  std::string problems;
  for (ze_driver_handle_t driver : drivers) {
    uint32_t device_count = 0;
    result = library.zeDeviceGet(driver, &device_count, nullptr);
    std::vector<ze_device_handle_t> devices(device_count);
    if (result == ZE_RESULT_SUCCESS && device_count > 0) {
      result = library.zeDeviceGet(driver, &device_count, devices.data());
    }
    if (result != ZE_RESULT_SUCCESS) {
      problems += "; zeDeviceGet failed: " + Library::ErrorText(result);
      continue;
    }
    devices.resize(device_count);
    std::vector<ze_device_handle_t> gpus;
    for (ze_device_handle_t device : devices) {
      ze_device_properties_t properties = {};
      properties.stype = ZE_STRUCTURE_TYPE_DEVICE_PROPERTIES;
      result = library.zeDeviceGetProperties(device, &properties);
      if (result != ZE_RESULT_SUCCESS) {
        problems += "; zeDeviceGetProperties failed: " + Library::ErrorText(result);
      } else if (properties.type == ZE_DEVICE_TYPE_GPU) {
        gpus.push_back(device);
      }
    }
    if (gpus.empty()) continue;
    DriverEntry entry;
    entry.driver = driver;
    // The API version decides how timestamps are read, and the driver version keys tuned
    // results: a driver that cannot tell them is left out, with the reason.
    result = library.zeDriverGetApiVersion(driver, &entry.api_version);
    if (result != ZE_RESULT_SUCCESS) {
      problems += "; zeDriverGetApiVersion failed: " + Library::ErrorText(result);
      continue;
    }
    ze_driver_properties_t properties = {};
    properties.stype = ZE_STRUCTURE_TYPE_DRIVER_PROPERTIES;
    result = library.zeDriverGetProperties(driver, &properties);
    if (result != ZE_RESULT_SUCCESS) {
      problems += "; zeDriverGetProperties failed: " + Library::ErrorText(result);
      continue;
    }
    entry.driver_version = properties.driverVersion;
    ze_context_desc_t context_desc = {};
    context_desc.stype = ZE_STRUCTURE_TYPE_CONTEXT_DESC;
    result = library.zeContextCreate(driver, &context_desc, &entry.context);
    if (result != ZE_RESULT_SUCCESS) {
      problems += "; zeContextCreate failed: " + Library::ErrorText(result);
      continue;
    }
    backend->drivers.push_back(entry);
    for (ze_device_handle_t gpu : gpus) {
      backend->devices.push_back({backend->drivers.size() - 1, gpu});
    }
  }
  if (!backend->devices.empty()) return "";
  return "the Level Zero loader " + library.library_name() + " found " + std::to_string(count) +
         " driver(s) and no GPU" + problems;
}

}  // namespace

porta_status_t Init(const porta_backend_host_t* host, porta_be_backend_t* out_backend,
                    porta_be_msg msg) {
  (void)msg;
  common::SetLogSink(host);
  auto backend = std::make_unique<Backend>();
  auto library = std::make_unique<Library>();
  // A missing loader or driver is not an init failure: the backend loads with zero devices and
  // the reason, which porta-info shows next to it.
  if (library->Load(&backend->zero_reason)) {
    backend->library = std::move(library);
    backend->zero_reason = Enumerate(backend.get());
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
    return Fail(msg, PORTA_ERROR_OUT_OF_RANGE,
                "Level Zero device index %u is out of range (%zu devices)", index,
                backend->devices.size());
  }
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

namespace {

const porta_backend_table_t kTable = PORTA_BACKEND_TABLE_WITH_GRAPHS("level_zero");

}  // namespace

Backend::~Backend() {
  if (library == nullptr) return;
  for (const DriverEntry& entry : drivers)
    library->Released(library->zeContextDestroy(entry.context), "zeContextDestroy");
}

porta_status_t BufferAlloc(porta_be_device_t be, uint64_t size, porta_memory_kind_t kind,
                           porta_be_buffer_t* out_buffer, porta_be_msg msg) {
  Device* device = As<Device>(be);
  const Library& library = *device->library;
  auto buffer = std::make_unique<Buffer>();
  buffer->device = device;
  buffer->size = size;
  buffer->host_visible = kind == PORTA_MEMORY_HOST_VISIBLE;
  // 64 bytes covers every element type and a cache line; Level Zero requires a power of two.
  constexpr size_t kAlignment = 64;
  ze_device_mem_alloc_desc_t device_desc = {};
  device_desc.stype = ZE_STRUCTURE_TYPE_DEVICE_MEM_ALLOC_DESC;
  ze_host_mem_alloc_desc_t host_desc = {};
  host_desc.stype = ZE_STRUCTURE_TYPE_HOST_MEM_ALLOC_DESC;
  ze_result_t result = ZE_RESULT_SUCCESS;
  const char* what = "zeMemAllocDevice";
  if (!buffer->host_visible) {
    result = library.zeMemAllocDevice(device->context, &device_desc, size, kAlignment,
                                      device->device, &buffer->pointer);
  } else if (device->shared_allocations) {
    what = "zeMemAllocShared";
    result = library.zeMemAllocShared(device->context, &device_desc, &host_desc, size, kAlignment,
                                      device->device, &buffer->pointer);
  } else {
    what = "zeMemAllocHost";
    result =
        library.zeMemAllocHost(device->context, &host_desc, size, kAlignment, &buffer->pointer);
  }
  if (result != ZE_RESULT_SUCCESS) {
    return Fail(msg, Library::StatusOf(result), "%s of %llu bytes failed: %s", what,
                static_cast<unsigned long long>(size), Library::ErrorText(result).c_str());
  }
  *out_buffer = reinterpret_cast<porta_be_buffer_t>(buffer.release());
  return PORTA_OK;
}

void BufferFree(porta_be_buffer_t be) {
  Buffer* buffer = As<Buffer>(be);
  if (buffer->imported) {
    delete buffer;
    return;
  }
  buffer->device->library->Released(
      buffer->device->library->zeMemFree(buffer->device->context, buffer->pointer), "zeMemFree");
  delete buffer;
}

porta_status_t BufferMap(porta_be_buffer_t be, uint64_t offset, uint64_t size, void** out_ptr,
                         porta_be_msg msg) {
  (void)size;
  Buffer* buffer = As<Buffer>(be);
  if (!buffer->host_visible) {
    return Fail(msg, PORTA_ERROR_UNSUPPORTED, "a device-local Level Zero buffer cannot be mapped");
  }
  // Host and shared allocations are addressable by the host as they are.
  *out_ptr = static_cast<unsigned char*>(buffer->pointer) + offset;
  return PORTA_OK;
}

porta_status_t BufferUnmap(porta_be_buffer_t be, porta_be_msg msg) {
  (void)be;
  (void)msg;
  return PORTA_OK;
}

porta_status_t BufferNativeHandle(porta_be_buffer_t be, uint64_t* out_handle, porta_be_msg msg) {
  (void)msg;
  *out_handle = reinterpret_cast<uint64_t>(As<Buffer>(be)->pointer);
  return PORTA_OK;
}

porta_status_t BufferNativeHandles(porta_be_buffer_t be, porta_native_handles_t* out,
                                   porta_be_msg msg) {
  out->count = 1;
  return BufferNativeHandle(be, &out->handles[PORTA_NATIVE_LEVEL_ZERO_BUFFER_POINTER], msg);
}

porta_status_t HostRegister(porta_be_device_t be, void* ptr, uint64_t size, uint32_t /*flags*/,
                            porta_be_host_registration_t* out, porta_be_msg msg) {
  Device* device = As<Device>(be);
  const Library& library = *device->library;
  if (device->system_memory_access) {
    return common::Fail(msg, PORTA_ERROR_UNSUPPORTED,
                        "level_zero: the device reads and writes pageable host memory directly "
                        "(sharedSystemAllocCapabilities), so copies need no import");
  }
  ze_driver_handle_t driver = device->driver->driver;
  void* functions[2] = {nullptr, nullptr};
  const char* const names[2] = {"zexDriverImportExternalPointer",
                                "zexDriverReleaseImportedPointer"};
  for (int i = 0; i < 2; ++i) {
    const ze_result_t found =
        library.zeDriverGetExtensionFunctionAddress(driver, names[i], &functions[i]);
    // A driver without the function answers that the name is not one of its extensions.
    if (found == ZE_RESULT_ERROR_INVALID_ARGUMENT || found == ZE_RESULT_ERROR_UNSUPPORTED_FEATURE ||
        (found == ZE_RESULT_SUCCESS && functions[i] == nullptr)) {
      return common::Fail(msg, PORTA_ERROR_UNSUPPORTED, "level_zero: the driver lacks %s",
                          names[i]);
    }
    if (found != ZE_RESULT_SUCCESS) {
      return library.Fail(found, "zeDriverGetExtensionFunctionAddress", msg);
    }
  }
  void* import = functions[0];
  void* release = functions[1];
  auto registration = std::make_unique<HostRegistration>();
  const ze_result_t result =
      reinterpret_cast<ImportExternalPointerFn>(import)(driver, ptr, static_cast<size_t>(size));
  if (result != ZE_RESULT_SUCCESS) {
    return library.Fail(result, "zexDriverImportExternalPointer", msg);
  }
  registration->device = device;
  registration->pointer = ptr;
  registration->release = reinterpret_cast<ReleaseImportedPointerFn>(release);
  *out = reinterpret_cast<porta_be_host_registration_t>(registration.release());
  return PORTA_OK;
}

void HostUnregister(porta_be_host_registration_t be) {
  HostRegistration* registration = As<HostRegistration>(be);
  registration->device->library->Released(
      registration->release(registration->device->driver->driver, registration->pointer),
      "zexDriverReleaseImportedPointer");
  delete registration;
}

porta_status_t BufferImport(porta_be_device_t be, const porta_native_handles_t* native,
                            uint64_t size, porta_memory_kind_t kind, porta_be_buffer_t* out_buffer,
                            porta_be_msg msg) {
  Device* device = As<Device>(be);
  auto* pointer = reinterpret_cast<void*>(native->handles[PORTA_NATIVE_LEVEL_ZERO_BUFFER_POINTER]);
  void* base = nullptr;
  size_t range = 0;
  const ze_result_t result =
      device->library->zeMemGetAddressRange(device->context, pointer, &base, &range);
  if (result != ZE_RESULT_SUCCESS) {
    return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                "level_zero: handles[0] is not an allocation of the device's context "
                "(zeMemGetAddressRange: %s)",
                Library::ErrorText(result).c_str());
  }
  const porta_status_t inside =
      common::CheckImportRange("level_zero", reinterpret_cast<uintptr_t>(pointer),
                               reinterpret_cast<uintptr_t>(base), range, size, msg);
  if (inside != PORTA_OK) return inside;
  auto buffer = std::make_unique<Buffer>();
  buffer->device = device;
  buffer->pointer = pointer;
  buffer->size = size;
  buffer->host_visible = kind == PORTA_MEMORY_HOST_VISIBLE;
  buffer->imported = true;
  *out_buffer = reinterpret_cast<porta_be_buffer_t>(buffer.release());
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

// Entry of the built-in Level Zero backend (and, through the generated shim, of its plugin).
extern "C" porta_status_t porta_level_zero_backend_entry(const porta_backend_host_t* host,
                                                         const porta_backend_table_t** out_table,
                                                         porta_be_msg msg) {
  return porta::common::ServeTable(porta::level_zero::kTable, host, out_table, msg);
}
