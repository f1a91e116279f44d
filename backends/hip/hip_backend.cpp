// The HIP backend: the HIP module API over libamdhip64, opened with dlopen. See
// docs/backends/hip.md.
#include "backends/hip/hip_backend.h"

#include <cstdio>
#include <cstring>

#include "porta/sdk/message.h"

namespace porta::hip {
namespace {

using common::Fail;

}  // namespace

porta_status_t Init(const porta_backend_host_t* host, porta_be_backend_t* out_backend,
                    porta_be_msg msg) {
  (void)msg;
  common::SetLogSink(host);
  auto backend = std::make_unique<Backend>();
  auto library = std::make_unique<Library>();
  // A missing runtime or GPU is not an init failure: the backend loads with zero devices and
  // the reason, which porta-info shows next to it.
  if (library->Load(&backend->zero_reason)) {
    const hipError_t error = library->hipGetDeviceCount(&backend->device_count);
    if (error != hipSuccess) {
      backend->zero_reason = "hipGetDeviceCount failed: " + library->ErrorText(error);
      backend->device_count = 0;
    } else if (backend->device_count == 0) {
      backend->zero_reason =
          "the HIP runtime in " + library->library_name() + " reports no devices";
    }
    backend->library = std::move(library);
  }
  *out_backend = reinterpret_cast<porta_be_backend_t>(backend.release());
  return PORTA_OK;
}

void Shutdown(porta_be_backend_t backend) {
  delete As<Backend>(backend);
}

porta_status_t DeviceCount(porta_be_backend_t be, uint32_t* out_count, porta_be_msg msg) {
  Backend* backend = As<Backend>(be);
  *out_count = static_cast<uint32_t>(backend->device_count);
  if (*out_count == 0) common::SetMessage(msg, "%s", backend->zero_reason.c_str());
  return PORTA_OK;
}

namespace {

// "gfx90a:sramecc+:xnack-" -> "gfx90a": the feature suffix is a property of the code object,
// not the architecture name users match against.
std::string BaseArchitecture(const char* gcn_arch_name) {
  std::string name = gcn_arch_name;
  const size_t colon = name.find(':');
  if (colon != std::string::npos) name.resize(colon);
  return name;
}

}  // namespace

porta_status_t DeviceOpen(porta_be_backend_t be, uint32_t index, porta_be_device_t* out_device,
                          porta_be_msg msg) {
  Backend* backend = As<Backend>(be);
  if (index >= static_cast<uint32_t>(backend->device_count)) {
    return Fail(msg, PORTA_ERROR_OUT_OF_RANGE, "HIP device index %u is out of range (%d devices)",
                index, backend->device_count);
  }
  const Library& library = *backend->library;
  auto device = std::make_unique<Device>();
  device->backend = backend;
  device->library = &library;
  device->ordinal = static_cast<int>(index);
  int can_map = 0;
  hipError_t error = library.hipDeviceGetAttribute(
      &device->shared_per_block, hipDeviceAttributeMaxSharedMemoryPerBlock, device->ordinal);
  if (error == hipSuccess) {
    error = library.hipDeviceGetAttribute(&can_map, hipDeviceAttributeCanMapHostMemory,
                                          device->ordinal);
  }
  if (error != hipSuccess) return library.Fail(error, "hipDeviceGetAttribute", msg);
  device->can_map_host = can_map != 0;
  if (library.hipGetDeviceProperties != nullptr) {
    // Room beyond the header's struct in case a runtime writes a newer, larger layout.
    struct {
      hipDeviceProp_t props;
      unsigned char slack[4096];
    } storage = {};
    if (library.hipGetDeviceProperties(&storage.props, device->ordinal) == hipSuccess) {
      storage.props.gcnArchName[sizeof(storage.props.gcnArchName) - 1] = '\0';
      device->architecture = BaseArchitecture(storage.props.gcnArchName);
    }
  }
  if (device->architecture.empty()) device->architecture = "gfx (unknown)";
  *out_device = reinterpret_cast<porta_be_device_t>(device.release());
  return PORTA_OK;
}

void DeviceClose(porta_be_device_t be) {
  delete As<Device>(be);
}

namespace {

bool StartsWith(const std::string& text, const char* prefix) {
  return text.rfind(prefix, 0) == 0;
}

}  // namespace

porta_status_t DeviceGetInfo(porta_be_device_t be, porta_device_info_t* info, porta_be_msg msg) {
  Device* device = As<Device>(be);
  const Library& library = *device->library;
  char name[PORTA_NAME_SIZE] = {};
  hipError_t error = library.hipDeviceGetName(name, sizeof(name) - 1, device->ordinal);
  if (error != hipSuccess) return library.Fail(error, "hipDeviceGetName", msg);
  size_t total = 0;
  error = library.hipDeviceTotalMem(&total, device->ordinal);
  if (error != hipSuccess) return library.Fail(error, "hipDeviceTotalMem", msg);
  struct Query {
    hipDeviceAttribute_t which;
    int value;
  };
  Query queries[] = {
      {hipDeviceAttributeMultiprocessorCount, 0},  // 0
      {hipDeviceAttributeMaxThreadsPerBlock, 0},   // 1
      {hipDeviceAttributeMaxBlockDimX, 0},         // 2
      {hipDeviceAttributeMaxBlockDimY, 0},         // 3
      {hipDeviceAttributeMaxBlockDimZ, 0},         // 4
      {hipDeviceAttributeMaxGridDimX, 0},          // 5
      {hipDeviceAttributeMaxGridDimY, 0},          // 6
      {hipDeviceAttributeMaxGridDimZ, 0},          // 7
      {hipDeviceAttributeWarpSize, 0},             // 8
      {hipDeviceAttributeIntegrated, 0},           // 9
  };
  for (Query& query : queries) {
    error = library.hipDeviceGetAttribute(&query.value, query.which, device->ordinal);
    if (error != hipSuccess) return library.Fail(error, "hipDeviceGetAttribute", msg);
  }
  std::snprintf(info->name, sizeof(info->name), "%s", name);
  std::snprintf(info->vendor, sizeof(info->vendor), "AMD");
  std::snprintf(info->backend, sizeof(info->backend), "hip");
  info->type = PORTA_DEVICE_TYPE_GPU;
  std::snprintf(info->architecture, sizeof(info->architecture), "%s", device->architecture.c_str());
  const int version = library.version();
  std::snprintf(info->driver_version, sizeof(info->driver_version), "HIP %d.%d.%d",
                version / 10000000, version / 100000 % 100, version % 100000);
  info->backend_device_index = static_cast<uint32_t>(device->ordinal);
  info->global_memory_bytes = total;
  info->max_allocation_bytes = total;
  info->compute_units = static_cast<uint32_t>(queries[0].value);
  info->max_work_group_size = static_cast<uint32_t>(queries[1].value);
  for (int d = 0; d < 3; ++d) {
    info->max_work_group_dims[d] = static_cast<uint32_t>(queries[2 + d].value);
    info->max_grid_dims[d] = static_cast<uint32_t>(queries[5 + d].value);
  }
  info->local_memory_bytes = static_cast<uint64_t>(device->shared_per_block);
  info->subgroup_sizes[0] = static_cast<uint32_t>(queries[8].value);
  info->subgroup_size_count = 1;
  uint64_t caps = PORTA_CAP_FP16 | PORTA_CAP_FP64 | PORTA_CAP_INT64 | PORTA_CAP_ATOMICS |
                  PORTA_CAP_INT8 | PORTA_CAP_TIMESTAMPS;
  // bfloat16 instructions arrived with CDNA2 (gfx90a) and RDNA3 (gfx11).
  const std::string& arch = device->architecture;
  if (StartsWith(arch, "gfx90a") || StartsWith(arch, "gfx94") || StartsWith(arch, "gfx95") ||
      StartsWith(arch, "gfx11") || StartsWith(arch, "gfx12")) {
    caps |= PORTA_CAP_BF16;
  }
  if (device->can_map_host) caps |= PORTA_CAP_HOST_VISIBLE_MEMORY;
  if (device->library->has_graphs()) caps |= PORTA_CAP_NATIVE_GRAPHS;
  if (queries[9].value != 0) caps |= PORTA_CAP_UNIFIED_MEMORY;
  info->capabilities = caps;
  info->kernel_formats = PORTA_FORMAT_BIT(PORTA_FORMAT_HSACO);
  hipUUID uuid = {};
  if (library.hipDeviceGetUuid != nullptr &&
      library.hipDeviceGetUuid(&uuid, device->ordinal) == hipSuccess) {
    std::memcpy(info->uuid, uuid.bytes, sizeof(info->uuid));
  }
  return PORTA_OK;
}

namespace {

const porta_backend_table_t kTable = PORTA_BACKEND_TABLE_WITH_GRAPHS("hip");

}  // namespace

porta_status_t DeviceMemoryInfo(porta_be_device_t be, uint64_t* out_free_bytes, porta_be_msg msg) {
  const Device* device = As<Device>(be);
  const porta_status_t current = MakeCurrent(device, msg);
  if (current != PORTA_OK) return current;
  size_t free_bytes = 0;
  size_t total_bytes = 0;
  const hipError_t error = device->library->hipMemGetInfo(&free_bytes, &total_bytes);
  if (error != hipSuccess) return device->library->Fail(error, "hipMemGetInfo", msg);
  *out_free_bytes = free_bytes;
  return PORTA_OK;
}

porta_status_t DeviceNativeHandles(porta_be_device_t be, porta_native_handles_t* out,
                                   porta_be_msg) {
  out->count = 1;
  out->handles[PORTA_NATIVE_HIP_DEVICE] = static_cast<uint64_t>(As<Device>(be)->ordinal);
  return PORTA_OK;
}

porta_status_t MakeCurrent(const Device* device, porta_be_msg msg) {
  const Library& library = *device->library;
  int current = -1;
  if (library.hipGetDevice(&current) == hipSuccess && current == device->ordinal) return PORTA_OK;
  const hipError_t error = library.hipSetDevice(device->ordinal);
  if (error != hipSuccess) return library.Fail(error, "hipSetDevice", msg);
  return PORTA_OK;
}

}  // namespace porta::hip

// Entry of the built-in HIP backend (and, through the generated shim, of its plugin).
extern "C" porta_status_t porta_hip_backend_entry(const porta_backend_host_t* host,
                                                  const porta_backend_table_t** out_table,
                                                  porta_be_msg msg) {
  return porta::common::ServeTable(porta::hip::kTable, host, out_table, msg);
}
