// Opening devices and describing them: every porta_device_info_t field comes from the driver,
// narrowed by the constrained profile when PORTA_OPENCL_PROFILE=npu.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <new>
#include <string_view>

#include "backends/opencl/opencl_objects.h"
#include "porta/sdk/message.h"

namespace porta::opencl {
namespace {

std::string DeviceString(const Library& api, cl_device_id device, cl_device_info param) {
  size_t size = 0;
  if (api.clGetDeviceInfo(device, param, 0, nullptr, &size) != CL_SUCCESS || size == 0) return "";
  std::string value(size, '\0');
  if (api.clGetDeviceInfo(device, param, size, value.data(), nullptr) != CL_SUCCESS) return "";
  value.resize(std::strlen(value.c_str()));
  return value;
}

template <typename T>
T DeviceValue(const Library& api, cl_device_id device, cl_device_info param, T fallback = T{}) {
  T value{};
  if (api.clGetDeviceInfo(device, param, sizeof(value), &value, nullptr) != CL_SUCCESS) {
    return fallback;
  }
  return value;
}

bool HasExtension(std::string_view extensions, std::string_view name) {
  size_t pos = 0;
  while ((pos = extensions.find(name, pos)) != std::string_view::npos) {
    const bool starts = pos == 0 || extensions[pos - 1] == ' ';
    const size_t end = pos + name.size();
    if (starts && (end == extensions.size() || extensions[end] == ' ')) return true;
    pos = end;
  }
  return false;
}

void CopyName(char* dst, size_t capacity, const std::string& src) {
  std::snprintf(dst, capacity, "%s", src.c_str());
}

uint32_t ClampU32(uint64_t value) {
  return static_cast<uint32_t>(std::min<uint64_t>(value, UINT32_MAX));
}

// Drivers of neural accelerators report CL_DEVICE_TYPE_ACCELERATOR or CUSTOM like any DSP or
// FPGA; only the name tells them apart.
bool LooksLikeNpu(const std::string& name) {
  static constexpr const char* kNpuNames[] = {"NPU", "Neural", "Ascend", "MLU", "NNA"};
  return std::any_of(std::begin(kNpuNames), std::end(kNpuNames),
                     [&](const char* word) { return name.find(word) != std::string::npos; });
}

cl_context SharedContext(Backend* backend, Platform* platform) {
  std::lock_guard<std::mutex> lock(platform->mutex);
  if (platform->context == nullptr && !platform->context_failed) {
    const cl_context_properties properties[] = {
        CL_CONTEXT_PLATFORM, reinterpret_cast<cl_context_properties>(platform->id), 0};
    cl_int error = CL_SUCCESS;
    platform->context =
        backend->api.clCreateContext(properties, static_cast<cl_uint>(platform->devices.size()),
                                     platform->devices.data(), nullptr, nullptr, &error);
    if (error != CL_SUCCESS) {
      platform->context = nullptr;
      platform->context_failed = true;
      common::Log(PORTA_LOG_INFO,
                  "opencl: platform '%s' refuses one context for its %zu devices (%s); each "
                  "device gets its own",
                  platform->name.c_str(), platform->devices.size(), ClErrorName(error));
    }
  }
  if (platform->context != nullptr) backend->api.clRetainContext(platform->context);
  return platform->context;
}

void FillSubgroupSizes(Device* device) {
  const Library& api = *device->api;
  porta_device_info_t& info = device->info;
  info.subgroup_size_count = 0;
  if (HasExtension(device->extensions, "cl_intel_required_subgroup_size")) {
    size_t sizes[PORTA_MAX_SUBGROUP_SIZES] = {};
    size_t bytes = 0;
    if (api.clGetDeviceInfo(device->id, CL_DEVICE_SUB_GROUP_SIZES_INTEL, sizeof(sizes), sizes,
                            &bytes) == CL_SUCCESS) {
      for (size_t i = 0; i < bytes / sizeof(size_t) && i < PORTA_MAX_SUBGROUP_SIZES; ++i) {
        info.subgroup_sizes[info.subgroup_size_count++] = ClampU32(sizes[i]);
      }
    }
  }
  if (info.subgroup_size_count == 0 &&
      HasExtension(device->extensions, "cl_nv_device_attribute_query")) {
    const cl_uint warp = DeviceValue<cl_uint>(api, device->id, CL_DEVICE_WARP_SIZE_NV);
    if (warp != 0) info.subgroup_sizes[info.subgroup_size_count++] = warp;
  }
  if (info.subgroup_size_count == 0 &&
      HasExtension(device->extensions, "cl_amd_device_attribute_query")) {
    const cl_uint wave = DeviceValue<cl_uint>(api, device->id, CL_DEVICE_WAVEFRONT_WIDTH_AMD);
    if (wave != 0) info.subgroup_sizes[info.subgroup_size_count++] = wave;
  }
  if (info.subgroup_size_count == 0 && EnsureFillKernels(device, nullptr) == PORTA_OK) {
    // OpenCL 1.2 has no device-level SIMD width; the preferred work-group multiple of a real
    // kernel is the driver's own answer to the same question.
    size_t multiple = 0;
    if (api.clGetKernelWorkGroupInfo(device->fill.kernels[2], device->id,
                                     CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE, sizeof(multiple),
                                     &multiple, nullptr) == CL_SUCCESS &&
        multiple != 0) {
      info.subgroup_sizes[info.subgroup_size_count++] =
          std::min(ClampU32(multiple), info.max_work_group_size);
    }
  }
  if (info.subgroup_size_count == 0) info.subgroup_sizes[info.subgroup_size_count++] = 1;
}

void FillInfo(Device* device, const DeviceRecord& record) {
  const Library& api = *device->api;
  cl_device_id id = device->id;
  porta_device_info_t& info = device->info;
  info.struct_size = sizeof(info);
  const std::string name = DeviceString(api, id, CL_DEVICE_NAME);
  CopyName(info.name, sizeof(info.name), name);
  CopyName(info.vendor, sizeof(info.vendor), DeviceString(api, id, CL_DEVICE_VENDOR));
  CopyName(info.backend, sizeof(info.backend), "opencl");
  CopyName(info.driver_version, sizeof(info.driver_version),
           DeviceString(api, id, CL_DRIVER_VERSION));
  const std::string c_version = DeviceString(api, id, CL_DEVICE_OPENCL_C_VERSION);
  std::sscanf(c_version.c_str(), "OpenCL C %d.%d", &device->opencl_c_major,
              &device->opencl_c_minor);
  CopyName(info.architecture, sizeof(info.architecture),
           device->constrained ? std::string("OpenCL C 1.2") : c_version);
  info.backend_device_index = device->index;

  const cl_device_type type = DeviceValue<cl_device_type>(api, id, CL_DEVICE_TYPE);
  if (device->constrained) {
    info.type = PORTA_DEVICE_TYPE_ACCELERATOR;
  } else if (type & CL_DEVICE_TYPE_GPU) {
    info.type = PORTA_DEVICE_TYPE_GPU;
  } else if (type & CL_DEVICE_TYPE_CPU) {
    info.type = PORTA_DEVICE_TYPE_CPU;
  } else {
    info.type = LooksLikeNpu(name) ? PORTA_DEVICE_TYPE_NPU : PORTA_DEVICE_TYPE_ACCELERATOR;
  }

  info.global_memory_bytes = DeviceValue<cl_ulong>(api, id, CL_DEVICE_GLOBAL_MEM_SIZE);
  info.max_allocation_bytes = DeviceValue<cl_ulong>(api, id, CL_DEVICE_MAX_MEM_ALLOC_SIZE);
  info.compute_units = DeviceValue<cl_uint>(api, id, CL_DEVICE_MAX_COMPUTE_UNITS);
  uint64_t group_limit = DeviceValue<size_t>(api, id, CL_DEVICE_MAX_WORK_GROUP_SIZE, 1);
  if (device->constrained) group_limit = std::min<uint64_t>(group_limit, kNpuMaxWorkGroupSize);
  info.max_work_group_size = ClampU32(group_limit);
  size_t item_sizes[3] = {1, 1, 1};
  api.clGetDeviceInfo(id, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizeof(item_sizes), item_sizes, nullptr);
  device->address_bits = DeviceValue<cl_uint>(api, id, CL_DEVICE_ADDRESS_BITS, 32);
  for (int d = 0; d < 3; ++d) {
    info.max_work_group_dims[d] = ClampU32(std::min<uint64_t>(item_sizes[d], group_limit));
    // The global size (grid x block) is a size_t on the device; with 64-bit addresses any
    // uint32_t grid fits.
    info.max_grid_dims[d] = device->address_bits >= 64
                                ? UINT32_MAX
                                : ClampU32(UINT32_MAX / std::max(1u, info.max_work_group_dims[d]));
  }
  info.local_memory_bytes = DeviceValue<cl_ulong>(api, id, CL_DEVICE_LOCAL_MEM_SIZE);
  if (device->constrained) {
    info.local_memory_bytes = std::min<uint64_t>(info.local_memory_bytes, kNpuLocalMemoryBytes);
  }

  const std::string profile = DeviceString(api, id, CL_DEVICE_PROFILE);
  uint64_t caps = PORTA_CAP_INT8 | PORTA_CAP_ATOMICS | PORTA_CAP_HOST_VISIBLE_MEMORY;
  if (!device->constrained) {
    if (HasExtension(device->extensions, "cl_khr_fp16")) caps |= PORTA_CAP_FP16;
    if (HasExtension(device->extensions, "cl_khr_fp64") ||
        DeviceValue<cl_device_fp_config>(api, id, CL_DEVICE_DOUBLE_FP_CONFIG) != 0) {
      caps |= PORTA_CAP_FP64;
    }
  }
  if (profile == "FULL_PROFILE" || HasExtension(device->extensions, "cles_khr_int64")) {
    caps |= PORTA_CAP_INT64;
  }
  if (DeviceValue<cl_bool>(api, id, CL_DEVICE_HOST_UNIFIED_MEMORY,
                           (type & CL_DEVICE_TYPE_CPU) ? CL_TRUE : CL_FALSE)) {
    caps |= PORTA_CAP_UNIFIED_MEMORY;
  }
  const cl_command_queue_properties queue_properties =
      DeviceValue<cl_command_queue_properties>(api, id, CL_DEVICE_QUEUE_PROPERTIES);
  device->profiling = (queue_properties & CL_QUEUE_PROFILING_ENABLE) != 0;
  if (device->profiling) caps |= PORTA_CAP_TIMESTAMPS;
  info.capabilities = caps;

  info.kernel_formats = 0;
  if (DeviceValue<cl_bool>(api, id, CL_DEVICE_COMPILER_AVAILABLE)) {
    info.kernel_formats |= PORTA_FORMAT_BIT(PORTA_FORMAT_OPENCL_C);
  }
  if (!device->constrained) {
    const std::string il = DeviceString(api, id, CL_DEVICE_IL_VERSION);
    if (il.find("SPIR-V") != std::string::npos && api.clCreateProgramWithIL != nullptr) {
      device->create_program_with_il = api.clCreateProgramWithIL;
    } else if (HasExtension(device->extensions, "cl_khr_il_program")) {
      device->create_program_with_il = reinterpret_cast<clCreateProgramWithILKHR_fn>(
          api.clGetExtensionFunctionAddressForPlatform(record.platform->id,
                                                       "clCreateProgramWithILKHR"));
    }
    if (device->create_program_with_il != nullptr) {
      info.kernel_formats |= PORTA_FORMAT_BIT(PORTA_FORMAT_SPIRV_KERNEL);
    }
  }
  if (HasExtension(device->extensions, "cl_khr_device_uuid")) {
    api.clGetDeviceInfo(id, CL_DEVICE_UUID_KHR, sizeof(info.uuid), info.uuid, nullptr);
  }
  FillSubgroupSizes(device);
}

}  // namespace

porta_status_t DeviceOpen(porta_be_backend_t handle, uint32_t index, porta_be_device_t* out,
                          porta_be_msg msg) {
  Backend* backend = As<Backend>(handle);
  const DeviceRecord& record = backend->devices[index];
  auto device = std::unique_ptr<Device>(new (std::nothrow) Device());
  if (device == nullptr) return common::Fail(msg, PORTA_ERROR_OUT_OF_MEMORY, "opencl: device");
  device->backend = backend;
  device->api = &backend->api;
  device->platform = record.platform;
  device->id = record.id;
  device->index = index;
  device->constrained = backend->constrained;
  const Library& api = backend->api;

  device->context = SharedContext(backend, record.platform);
  if (device->context == nullptr) {
    cl_int error = CL_SUCCESS;
    const cl_context_properties properties[] = {
        CL_CONTEXT_PLATFORM, reinterpret_cast<cl_context_properties>(record.platform->id), 0};
    device->context = api.clCreateContext(properties, 1, &device->id, nullptr, nullptr, &error);
    if (error != CL_SUCCESS) return ClFail(msg, error, "clCreateContext");
  }
  device->extensions = DeviceString(api, device->id, CL_DEVICE_EXTENSIONS);
  device->device_version = DeviceString(api, device->id, CL_DEVICE_VERSION);
  device->platform_version = record.platform->version;
  device->base_address_align =
      std::max<cl_uint>(8, DeviceValue<cl_uint>(api, device->id, CL_DEVICE_MEM_BASE_ADDR_ALIGN)) /
      8;

  QuirkKey key;
  key.platform_name = record.platform->name;
  key.vendor = DeviceString(api, device->id, CL_DEVICE_VENDOR);
  key.device_name = DeviceString(api, device->id, CL_DEVICE_NAME);
  key.driver_version = DeviceString(api, device->id, CL_DRIVER_VERSION);
  key.device_version = device->device_version;
  device->quirks = LookUpQuirks(key);
  // The constrained profile always takes the kernel path so that the path is what the CTS tests.
  if ((device->quirks.flags & kQuirkNoFillBuffer) || device->constrained ||
      api.clEnqueueFillBuffer == nullptr) {
    device->use_fill_buffer = false;
  }
  if (!device->quirks.reasons.empty()) {
    common::Log(PORTA_LOG_DEBUG, "opencl: quirks for '%s': %s", key.device_name.c_str(),
                device->quirks.reasons.c_str());
  }

  FillInfo(device.get(), record);
  LoadCommandBuffers(device.get());
  // Fills that run as a kernel cannot be recorded, so runs with them would be declined.
  if (device->command_buffers.create != nullptr && device->use_fill_buffer) {
    device->info.capabilities |= PORTA_CAP_NATIVE_GRAPHS;
  }
  *out = ToHandle<porta_be_device_t>(device.release());
  return PORTA_OK;
}

void DeviceClose(porta_be_device_t handle) {
  Device* device = As<Device>(handle);
  const Library& api = *device->api;
  for (cl_kernel kernel : device->fill.kernels) {
    if (kernel != nullptr) api.clReleaseKernel(kernel);
  }
  if (device->fill.program != nullptr) api.clReleaseProgram(device->fill.program);
  if (device->utility_queue != nullptr) api.clReleaseCommandQueue(device->utility_queue);
  if (device->context != nullptr) api.clReleaseContext(device->context);
  delete device;
}

porta_status_t DeviceMemoryInfo(porta_be_device_t handle, uint64_t* out_free_bytes,
                                porta_be_msg msg) {
  const Device* device = As<Device>(handle);
  // Core OpenCL has no free-memory query; AMD's extension has one (in KiB, the first value the
  // largest free total).
  if (!HasExtension(device->extensions, "cl_amd_device_attribute_query")) {
    return common::Fail(msg, PORTA_ERROR_UNSUPPORTED,
                        "opencl: '%s' has no free-memory query (cl_amd_device_attribute_query)",
                        device->info.name);
  }
  constexpr cl_device_info kGlobalFreeMemoryAmd = 0x4039;  // CL_DEVICE_GLOBAL_FREE_MEMORY_AMD
  size_t kib[2] = {0, 0};
  const cl_int error =
      device->api->clGetDeviceInfo(device->id, kGlobalFreeMemoryAmd, sizeof(kib), kib, nullptr);
  if (error != CL_SUCCESS)
    return ClFail(msg, error, "clGetDeviceInfo(CL_DEVICE_GLOBAL_FREE_MEMORY_AMD)");
  *out_free_bytes = static_cast<uint64_t>(kib[0]) * 1024u;
  return PORTA_OK;
}

porta_status_t DeviceNativeHandles(porta_be_device_t handle, porta_native_handles_t* out,
                                   porta_be_msg) {
  const Device* device = As<Device>(handle);
  out->count = 3;
  out->handles[PORTA_NATIVE_OPENCL_PLATFORM] = reinterpret_cast<uint64_t>(device->platform->id);
  out->handles[PORTA_NATIVE_OPENCL_DEVICE] = reinterpret_cast<uint64_t>(device->id);
  out->handles[PORTA_NATIVE_OPENCL_CONTEXT] = reinterpret_cast<uint64_t>(device->context);
  return PORTA_OK;
}

// The runtime passes a full-size, zeroed struct.
porta_status_t DeviceGetInfo(porta_be_device_t handle, porta_device_info_t* info, porta_be_msg) {
  *info = As<Device>(handle)->info;
  return PORTA_OK;
}

cl_command_queue UtilityQueue(Device* device, porta_be_msg msg) {
  std::lock_guard<std::mutex> lock(device->utility_mutex);
  if (device->utility_queue == nullptr) {
    cl_int error = CL_SUCCESS;
    device->utility_queue =
        device->api->clCreateCommandQueue(device->context, device->id, 0, &error);
    if (error != CL_SUCCESS) {
      device->utility_queue = nullptr;
      ClFail(msg, error, "clCreateCommandQueue", "the device's utility queue");
    }
  }
  return device->utility_queue;
}

}  // namespace porta::opencl
