// The Vulkan backend's entry point, instance creation and device discovery.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <thread>

#include "backends/vulkan/vulkan_internal.h"
#include "backends/vulkan/vulkan_table.h"
#include "porta/sdk/message.h"

namespace porta::vulkan {
namespace {

using common::Fail;
using common::SetMessage;

constexpr uint32_t kRequiredApi = VK_API_VERSION_1_2;

bool EnvFlag(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && value[0] != '\0' && std::strcmp(value, "0") != 0;
}

std::string VersionString(uint32_t version) {
  char text[48];
  std::snprintf(text, sizeof(text), "%u.%u.%u", VK_API_VERSION_MAJOR(version),
                VK_API_VERSION_MINOR(version), VK_API_VERSION_PATCH(version));
  return text;
}

// Copies |text| into a fixed-size, NUL-terminated field.
template <size_t N>
void CopyField(char (&field)[N], const std::string& text) {
  std::snprintf(field, N, "%s", text.c_str());
}

std::string VendorName(uint32_t vendor_id) {
  switch (vendor_id) {
    case 0x1002:
      return "AMD";
    case 0x1010:
      return "Imagination Technologies";
    case 0x10DE:
      return "NVIDIA";
    case 0x13B5:
      return "ARM";
    case 0x5143:
      return "Qualcomm";
    case 0x8086:
      return "Intel";
    case 0x106B:
      return "Apple";
    case VK_VENDOR_ID_MESA:
      return "Mesa";
    default: {
      char text[32];
      std::snprintf(text, sizeof(text), "vendor 0x%04x", vendor_id);
      return text;
    }
  }
}

// NVIDIA packs its driver version as 10.8.8.6 bits; everyone else uses VK_MAKE_API_VERSION.
std::string DriverVersion(const VkPhysicalDeviceProperties& properties) {
  const uint32_t v = properties.driverVersion;
  char text[64];
  if (properties.vendorID == 0x10DE) {
    std::snprintf(text, sizeof(text), "%u.%u.%u.%u", v >> 22, (v >> 14) & 0xffu, (v >> 6) & 0xffu,
                  v & 0x3fu);
  } else {
    std::snprintf(text, sizeof(text), "%u.%u.%u", VK_API_VERSION_MAJOR(v), VK_API_VERSION_MINOR(v),
                  VK_API_VERSION_PATCH(v));
  }
  return text;
}

VKAPI_ATTR VkBool32 VKAPI_CALL OnValidationMessage(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                   VkDebugUtilsMessageTypeFlagsEXT /*types*/,
                                                   const VkDebugUtilsMessengerCallbackDataEXT* data,
                                                   void* user) {
  auto* backend = static_cast<Backend*>(user);
  const char* text = data != nullptr && data->pMessage != nullptr ? data->pMessage : "";
  if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) {
    std::fprintf(stderr, "porta vulkan: validation error: %s\n", text);
    backend->validation_log.Add(text);
  } else if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) {
    // Warnings are printed, not failed: the layer's warnings include advice that is not a
    // correctness problem (and performance hints), so only errors break a run.
    std::fprintf(stderr, "porta vulkan: validation warning: %s\n", text);
  }
  return VK_FALSE;
}

bool HasExtension(const std::vector<VkExtensionProperties>& extensions, const char* name) {
  for (const VkExtensionProperties& extension : extensions) {
    if (std::strcmp(extension.extensionName, name) == 0) return true;
  }
  return false;
}

std::vector<VkExtensionProperties> DeviceExtensions(const InstanceApi& vk, VkPhysicalDevice pd) {
  uint32_t count = 0;
  vk.vkEnumerateDeviceExtensionProperties(pd, nullptr, &count, nullptr);
  std::vector<VkExtensionProperties> extensions(count);
  if (count > 0) vk.vkEnumerateDeviceExtensionProperties(pd, nullptr, &count, extensions.data());
  extensions.resize(count);
  return extensions;
}

// Reads one physical device. Returns false with the reason it cannot be a Porta device.
bool ProbeDevice(Backend* backend, VkPhysicalDevice handle, uint32_t index, PhysicalDevice* out,
                 std::string* why) {
  const InstanceApi& vk = backend->vk;
  out->handle = handle;
  vk.vkGetPhysicalDeviceProperties(handle, &out->properties);
  const VkPhysicalDeviceProperties& props = out->properties;
  if (props.apiVersion < kRequiredApi) {
    *why = "supports Vulkan " + VersionString(props.apiVersion) + ", Porta needs 1.2";
    return false;
  }
  const std::vector<VkExtensionProperties> extensions = DeviceExtensions(vk, handle);
  out->memory_budget = HasExtension(extensions, VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);

  out->features11.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES;
  out->features12.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES;
  out->features11.pNext = &out->features12;
  VkPhysicalDeviceFeatures2 features{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
                                     &out->features11};
  vk.vkGetPhysicalDeviceFeatures2(handle, &features);
  out->features11.pNext = nullptr;
  out->features12.pNext = nullptr;
  out->core_features = features.features;
  if (!out->features12.timelineSemaphore) {
    *why = "lacks the timelineSemaphore feature";
    return false;
  }

  uint32_t family_count = 0;
  vk.vkGetPhysicalDeviceQueueFamilyProperties(handle, &family_count, nullptr);
  std::vector<VkQueueFamilyProperties> families(family_count);
  vk.vkGetPhysicalDeviceQueueFamilyProperties(handle, &family_count, families.data());
  int best = -1;
  for (uint32_t i = 0; i < family_count; ++i) {
    if (!(families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) || families[i].queueCount == 0) continue;
    // A family with timestamps wins; among equals the first (usually the universal queue,
    // which has the lowest dispatch latency).
    if (best < 0 ||
        (families[best].timestampValidBits == 0 && families[i].timestampValidBits > 0)) {
      best = static_cast<int>(i);
    }
  }
  if (best < 0) {
    *why = "has no compute queue";
    return false;
  }
  out->queue_family = static_cast<uint32_t>(best);
  out->queue_count = families[best].queueCount;
  out->timestamp_valid_bits = families[best].timestampValidBits;
  vk.vkGetPhysicalDeviceMemoryProperties(handle, &out->memory);

  // Properties: core 1.1/1.2 blocks plus the optional extensions' blocks, chained only when the
  // device has the extension.
  VkPhysicalDeviceVulkan11Properties props11{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_PROPERTIES};
  VkPhysicalDeviceVulkan12Properties props12{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_PROPERTIES};
  VkPhysicalDeviceSubgroupSizeControlProperties subgroup_control{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES};
  VkPhysicalDevicePushDescriptorPropertiesKHR push_descriptor{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PUSH_DESCRIPTOR_PROPERTIES_KHR};
  VkPhysicalDeviceShaderSMBuiltinsPropertiesNV nv_sm{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_SM_BUILTINS_PROPERTIES_NV};
  VkPhysicalDeviceShaderCorePropertiesAMD amd_core{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_CORE_PROPERTIES_AMD};
  VkPhysicalDeviceExternalMemoryHostPropertiesEXT host_import{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_MEMORY_HOST_PROPERTIES_EXT};
  VkPhysicalDeviceProperties2 props2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &props11};
  props11.pNext = &props12;
  void** tail = &props12.pNext;
  const bool has_subgroup_control =
      props.apiVersion >= VK_API_VERSION_1_3 ||
      HasExtension(extensions, VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME);
  const bool has_push_descriptor = HasExtension(extensions, VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME);
  const bool has_nv_sm = HasExtension(extensions, VK_NV_SHADER_SM_BUILTINS_EXTENSION_NAME);
  const bool has_amd_core = HasExtension(extensions, VK_AMD_SHADER_CORE_PROPERTIES_EXTENSION_NAME);
  const bool has_host_import = HasExtension(extensions, VK_EXT_EXTERNAL_MEMORY_HOST_EXTENSION_NAME);
  auto chain = [&tail](auto* block) {
    *tail = block;
    tail = &block->pNext;
  };
  if (has_subgroup_control) chain(&subgroup_control);
  if (has_push_descriptor) chain(&push_descriptor);
  if (has_nv_sm) chain(&nv_sm);
  if (has_amd_core) chain(&amd_core);
  if (has_host_import) chain(&host_import);
  vk.vkGetPhysicalDeviceProperties2(handle, &props2);
  if (has_push_descriptor && !backend->disable_push_descriptor) {
    out->max_push_descriptors = push_descriptor.maxPushDescriptors;
  }
  if (has_host_import) {
    out->host_import_alignment = std::max<uint64_t>(host_import.minImportedHostPointerAlignment, 1);
  }

  porta_device_info_t& info = out->info;
  info.struct_size = sizeof(info);
  CopyField(info.name, props.deviceName);
  CopyField(info.vendor, VendorName(props.vendorID));
  CopyField(info.backend, "vulkan");
  switch (props.deviceType) {
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
      info.type = PORTA_DEVICE_TYPE_CPU;
      break;
    case VK_PHYSICAL_DEVICE_TYPE_OTHER:
      info.type = PORTA_DEVICE_TYPE_ACCELERATOR;
      break;
    default:
      info.type = PORTA_DEVICE_TYPE_GPU;
      break;
  }
  char architecture[PORTA_NAME_SIZE];
  std::snprintf(architecture, sizeof(architecture), "Vulkan %s, %s, device id 0x%04x",
                VersionString(props.apiVersion).c_str(), VendorName(props.vendorID).c_str(),
                props.deviceID);
  CopyField(info.architecture, architecture);
  CopyField(info.driver_version, std::string(props12.driverName) + " " + props12.driverInfo + " (" +
                                     DriverVersion(props) + ")");
  info.backend_device_index = index;

  uint64_t device_local = 0;
  uint64_t largest_heap = 0;
  for (uint32_t i = 0; i < out->memory.memoryHeapCount; ++i) {
    const VkMemoryHeap& heap = out->memory.memoryHeaps[i];
    if (heap.flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) {
      device_local += heap.size;
      largest_heap = std::max<uint64_t>(largest_heap, heap.size);
    }
  }
  info.global_memory_bytes = device_local;
  info.max_allocation_bytes = std::min<uint64_t>(props11.maxMemoryAllocationSize, largest_heap);
  info.max_kernel_buffer_range_bytes =
      std::min<uint64_t>(info.max_allocation_bytes, props.limits.maxStorageBufferRange);

  if (has_nv_sm) {
    info.compute_units = nv_sm.shaderSMCount;
  } else if (has_amd_core) {
    info.compute_units = amd_core.shaderEngineCount * amd_core.shaderArraysPerEngineCount *
                         amd_core.computeUnitsPerShaderArray;
  } else if (props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU) {
    info.compute_units = std::max(1u, std::thread::hardware_concurrency());
  } else {
    // Core Vulkan does not expose the number of compute units.
    info.compute_units = 1;
  }
  const VkPhysicalDeviceLimits& limits = props.limits;
  info.max_work_group_size = limits.maxComputeWorkGroupInvocations;
  for (int d = 0; d < 3; ++d) {
    info.max_work_group_dims[d] = limits.maxComputeWorkGroupSize[d];
    info.max_grid_dims[d] = limits.maxComputeWorkGroupCount[d];
  }
  info.local_memory_bytes = limits.maxComputeSharedMemorySize;
  uint32_t min_subgroup = props11.subgroupSize;
  uint32_t max_subgroup = props11.subgroupSize;
  if (has_subgroup_control && subgroup_control.minSubgroupSize > 0) {
    min_subgroup = subgroup_control.minSubgroupSize;
    max_subgroup = subgroup_control.maxSubgroupSize;
  }
  info.subgroup_size_count = 0;
  for (uint32_t size = std::max(1u, min_subgroup);
       size <= max_subgroup && info.subgroup_size_count < PORTA_MAX_SUBGROUP_SIZES; size *= 2) {
    info.subgroup_sizes[info.subgroup_size_count++] = size;
  }

  uint64_t caps = PORTA_CAP_ATOMICS | PORTA_CAP_HOST_VISIBLE_MEMORY;
  if (out->features12.shaderFloat16 && out->features11.storageBuffer16BitAccess) {
    caps |= PORTA_CAP_FP16;
  }
  if (out->features12.shaderInt8 && out->features12.storageBuffer8BitAccess) caps |= PORTA_CAP_INT8;
  if (out->core_features.shaderFloat64) caps |= PORTA_CAP_FP64;
  if (out->core_features.shaderInt64) caps |= PORTA_CAP_INT64;
  if (props.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU ||
      props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU) {
    caps |= PORTA_CAP_UNIFIED_MEMORY;
  }
  if (out->timestamp_valid_bits > 0 && limits.timestampPeriod > 0.0f) caps |= PORTA_CAP_TIMESTAMPS;
  caps |= PORTA_CAP_NATIVE_GRAPHS;
  info.capabilities = caps;
  info.kernel_formats = PORTA_FORMAT_BIT(PORTA_FORMAT_SPIRV_SHADER);
  std::memcpy(info.uuid, props11.deviceUUID, sizeof(info.uuid));
  return true;
}

// Creates the instance (with validation when asked) and finds the devices. Leaves a reason in
// backend->reason whenever a step fails or finds nothing; never fails the backend itself.
void Discover(Backend* backend) {
  std::vector<std::string> names = {"libvulkan.so.1", "libvulkan.so"};
  if (const char* library = std::getenv("PORTA_VULKAN_LIBRARY"); library && library[0] != '\0') {
    names = {library};
  }
  InstanceApi& vk = backend->vk;
  std::string error;
  if (!vk.OpenLoader(names, &error)) {
    backend->reason = error;
    return;
  }
  uint32_t instance_version = 0;
  vk.vkEnumerateInstanceVersion(&instance_version);
  if (instance_version < kRequiredApi) {
    backend->reason = "the Vulkan loader implements Vulkan " + VersionString(instance_version) +
                      "; Porta needs 1.2";
    return;
  }

  uint32_t count = 0;
  vk.vkEnumerateInstanceExtensionProperties(nullptr, &count, nullptr);
  std::vector<VkExtensionProperties> instance_extensions(count);
  vk.vkEnumerateInstanceExtensionProperties(nullptr, &count, instance_extensions.data());
  instance_extensions.resize(count);
  std::vector<const char*> extensions;
  std::vector<const char*> layers;
  VkInstanceCreateFlags flags = 0;
  if (HasExtension(instance_extensions, VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME)) {
    // Lets the loader report portability drivers such as MoltenVK.
    extensions.push_back(VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME);
    flags |= VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR;
  }

  VkDebugUtilsMessengerCreateInfoEXT messenger_info{
      VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
  messenger_info.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT |
                                   VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT;
  messenger_info.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
  messenger_info.pfnUserCallback = OnValidationMessage;
  messenger_info.pUserData = backend;
  if (backend->validation) {
    vk.vkEnumerateInstanceLayerProperties(&count, nullptr);
    std::vector<VkLayerProperties> available(count);
    vk.vkEnumerateInstanceLayerProperties(&count, available.data());
    available.resize(count);
    bool found = false;
    for (const VkLayerProperties& layer : available) {
      found = found || std::strcmp(layer.layerName, "VK_LAYER_KHRONOS_validation") == 0;
    }
    if (!found || !HasExtension(instance_extensions, VK_EXT_DEBUG_UTILS_EXTENSION_NAME)) {
      // A run that asked for validation must not pass silently without it.
      backend->reason =
          "PORTA_VULKAN_VALIDATION is set but VK_LAYER_KHRONOS_validation (package "
          "vulkan-validationlayers) or VK_EXT_debug_utils is not available";
      return;
    }
    layers.push_back("VK_LAYER_KHRONOS_validation");
    extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
  }

  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "porta";
  app.pEngineName = "porta";
  app.apiVersion = std::min<uint32_t>(instance_version, VK_API_VERSION_1_3);
  VkInstanceCreateInfo create{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  create.pNext = backend->validation ? &messenger_info : nullptr;
  create.flags = flags;
  create.pApplicationInfo = &app;
  create.enabledLayerCount = static_cast<uint32_t>(layers.size());
  create.ppEnabledLayerNames = layers.data();
  create.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
  create.ppEnabledExtensionNames = extensions.data();
  const VkResult result = vk.vkCreateInstance(&create, nullptr, &backend->instance);
  if (result != VK_SUCCESS) {
    backend->instance = VK_NULL_HANDLE;
    backend->reason = std::string("vkCreateInstance failed with ") + ResultName(result) +
                      (result == VK_ERROR_INCOMPATIBLE_DRIVER
                           ? " (no Vulkan driver: none is installed, or VK_ICD_FILENAMES / "
                             "VK_DRIVER_FILES names none)"
                           : "");
    return;
  }
  if (!vk.LoadInstance(backend->instance, &error)) {
    backend->reason = error;
    return;
  }
  if (backend->validation && vk.vkCreateDebugUtilsMessengerEXT != nullptr) {
    vk.vkCreateDebugUtilsMessengerEXT(backend->instance, &messenger_info, nullptr,
                                      &backend->messenger);
  }

  count = 0;
  VkResult enumerate = vk.vkEnumeratePhysicalDevices(backend->instance, &count, nullptr);
  std::vector<VkPhysicalDevice> physical(count);
  if (enumerate == VK_SUCCESS && count > 0) {
    enumerate = vk.vkEnumeratePhysicalDevices(backend->instance, &count, physical.data());
  }
  if (enumerate != VK_SUCCESS && enumerate != VK_INCOMPLETE) {
    backend->reason =
        std::string("vkEnumeratePhysicalDevices failed with ") + ResultName(enumerate);
    return;
  }
  physical.resize(count);
  if (physical.empty()) {
    backend->reason =
        "the Vulkan loader found no physical device (no Vulkan driver: none is installed, or "
        "VK_ICD_FILENAMES / VK_DRIVER_FILES names none)";
    return;
  }
  std::string skipped;
  for (uint32_t i = 0; i < physical.size(); ++i) {
    PhysicalDevice device;
    std::string why;
    if (ProbeDevice(backend, physical[i], static_cast<uint32_t>(backend->devices.size()), &device,
                    &why)) {
      backend->devices.push_back(device);
    } else {
      VkPhysicalDeviceProperties props{};
      vk.vkGetPhysicalDeviceProperties(physical[i], &props);
      if (!skipped.empty()) skipped += "; ";
      skipped += std::string("skipped '") + props.deviceName + "': " + why;
    }
  }
  backend->reason = backend->devices.empty() ? "no usable Vulkan device: " + skipped : skipped;
}

void Shutdown(porta_be_backend_t handle);

porta_status_t Init(const porta_backend_host_t* host, porta_be_backend_t* out_backend,
                    porta_be_msg msg) {
  if (host == nullptr || out_backend == nullptr) {
    return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT, "vulkan init: host and out_backend must be set");
  }
  auto backend = std::make_unique<Backend>();
  std::memcpy(&backend->host, host, std::min(sizeof(backend->host), host->struct_size));
  backend->host.struct_size = sizeof(backend->host);
  if (host->struct_size < offsetof(porta_backend_host_t, log_user) + sizeof(void*)) {
    backend->host.log = nullptr;
  }
  if (host->cache_dir != nullptr) backend->cache_dir = host->cache_dir;
  backend->porta_version = host->porta_version != nullptr ? host->porta_version : "unknown";
  backend->validation = EnvFlag("PORTA_VULKAN_VALIDATION");
  backend->force_staging = EnvFlag("PORTA_VULKAN_FORCE_STAGING");
  backend->disable_push_descriptor = EnvFlag("PORTA_VULKAN_DISABLE_PUSH_DESCRIPTOR");
  // No exception leaves a backend slot, and a failed init keeps nothing: the instance (and
  // messenger) Discover made are released by Shutdown, not by the destructor.
  try {
    Discover(backend.get());
  } catch (const std::bad_alloc&) {
    Shutdown(reinterpret_cast<porta_be_backend_t>(backend.release()));
    return Fail(msg, PORTA_ERROR_OUT_OF_MEMORY, "vulkan: init: host out of memory");
  } catch (const std::exception& e) {
    Shutdown(reinterpret_cast<porta_be_backend_t>(backend.release()));
    return Fail(msg, PORTA_ERROR_BACKEND, "vulkan: init failed: %s", e.what());
  }
  if (!backend->reason.empty()) {
    backend->Log(backend->devices.empty() ? PORTA_LOG_WARNING : PORTA_LOG_INFO, "vulkan: %s",
                 backend->reason.c_str());
  }
  *out_backend = reinterpret_cast<porta_be_backend_t>(backend.release());
  return PORTA_OK;
}

void Shutdown(porta_be_backend_t handle) {
  auto* backend = reinterpret_cast<Backend*>(handle);
  if (backend == nullptr) return;
  if (backend->messenger != VK_NULL_HANDLE) {
    backend->vk.vkDestroyDebugUtilsMessengerEXT(backend->instance, backend->messenger, nullptr);
  }
  if (backend->instance != VK_NULL_HANDLE)
    backend->vk.vkDestroyInstance(backend->instance, nullptr);
  if (backend->validation && backend->validation_log.total() > 0) {
    std::fprintf(stderr, "porta vulkan: the validation layer reported %llu error(s) in this run\n",
                 static_cast<unsigned long long>(backend->validation_log.total()));
  }
  delete backend;
}

porta_status_t DeviceCount(porta_be_backend_t handle, uint32_t* out_count, porta_be_msg msg) {
  auto* backend = reinterpret_cast<Backend*>(handle);
  *out_count = static_cast<uint32_t>(backend->devices.size());
  if (backend->devices.empty()) SetMessage(msg, "%s", backend->reason.c_str());
  return PORTA_OK;
}

porta_status_t DeviceOpenEntry(porta_be_backend_t handle, uint32_t index,
                               porta_be_device_t* out_device, porta_be_msg msg) {
  auto* backend = reinterpret_cast<Backend*>(handle);
  if (index >= backend->devices.size()) {
    return Fail(msg, PORTA_ERROR_OUT_OF_RANGE,
                "vulkan device index %u is out of range (%zu devices)", index,
                backend->devices.size());
  }
  Device* device = nullptr;
  const porta_status_t status = DeviceOpen(backend, index, &device, msg);
  if (status == PORTA_OK) *out_device = reinterpret_cast<porta_be_device_t>(device);
  return status;
}

void DeviceCloseEntry(porta_be_device_t device) {
  DeviceClose(reinterpret_cast<Device*>(device));
}

// Free memory from VK_EXT_memory_budget: over the device-local heaps (every heap where the device
// has none), the budget the driver gives this process less what the process uses of it.
porta_status_t DeviceMemoryInfo(porta_be_device_t handle, uint64_t* out_free_bytes,
                                porta_be_msg msg) {
  const auto* device = reinterpret_cast<Device*>(handle);
  const PhysicalDevice& physical = *device->physical;
  if (!physical.memory_budget) {
    return Fail(msg, PORTA_ERROR_UNSUPPORTED, "vulkan: '%s' lacks VK_EXT_memory_budget",
                physical.properties.deviceName);
  }
  VkPhysicalDeviceMemoryBudgetPropertiesEXT budget{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT};
  VkPhysicalDeviceMemoryProperties2 memory{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2,
                                           &budget};
  device->backend->vk.vkGetPhysicalDeviceMemoryProperties2(physical.handle, &memory);
  bool any_local = false;
  for (uint32_t i = 0; i < memory.memoryProperties.memoryHeapCount; ++i) {
    any_local |=
        (memory.memoryProperties.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) != 0;
  }
  uint64_t free_bytes = 0;
  for (uint32_t i = 0; i < memory.memoryProperties.memoryHeapCount; ++i) {
    const bool local =
        (memory.memoryProperties.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) != 0;
    if (any_local && !local) continue;
    if (budget.heapBudget[i] > budget.heapUsage[i]) {
      free_bytes += budget.heapBudget[i] - budget.heapUsage[i];
    }
  }
  *out_free_bytes = free_bytes;
  return PORTA_OK;
}

porta_status_t DeviceNativeHandles(porta_be_device_t handle, porta_native_handles_t* out,
                                   porta_be_msg /*msg*/) {
  const auto* device = reinterpret_cast<Device*>(handle);
  out->count = 4;
  out->handles[PORTA_NATIVE_VULKAN_INSTANCE] =
      reinterpret_cast<uint64_t>(device->backend->instance);
  out->handles[PORTA_NATIVE_VULKAN_PHYSICAL_DEVICE] =
      reinterpret_cast<uint64_t>(device->physical->handle);
  out->handles[PORTA_NATIVE_VULKAN_DEVICE] = reinterpret_cast<uint64_t>(device->device);
  out->handles[PORTA_NATIVE_VULKAN_QUEUE_FAMILY] = device->physical->queue_family;
  return PORTA_OK;
}

porta_status_t DeviceGetInfo(porta_be_device_t handle, porta_device_info_t* info,
                             porta_be_msg /*msg*/) {
  const auto* device = reinterpret_cast<Device*>(handle);
  const size_t size = std::min(info->struct_size, sizeof(porta_device_info_t));
  porta_device_info_t full = device->physical->info;
  full.struct_size = info->struct_size;
  std::memcpy(info, &full, size);
  return PORTA_OK;
}

}  // namespace

void ValidationLog::Add(const std::string& text) {
  std::lock_guard<std::mutex> lock(mutex_);
  pending_.push_back(text);
  total_.fetch_add(1);
}

bool ValidationLog::Take(std::string* out) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (pending_.empty()) return false;
  out->clear();
  for (const std::string& text : pending_) {
    if (!out->empty()) out->append("\n");
    out->append(text);
  }
  pending_.clear();
  return true;
}

void Backend::Log(int level, const char* format, ...) {
  if (host.log == nullptr) return;
  char text[2048];
  va_list args;
  va_start(args, format);
  std::vsnprintf(text, sizeof(text), format, args);
  va_end(args);
  host.log(host.log_user, level, text);
}

porta_status_t CheckValidation(Device* device, porta_status_t status, porta_be_msg msg) {
  std::string text;
  if (device == nullptr || !device->backend->validation_log.Take(&text)) return status;
  return Fail(msg, PORTA_ERROR_BACKEND, "the Vulkan validation layer reported: %s", text.c_str());
}

const porta_backend_table_t* BackendTable() {
  static const porta_backend_table_t table = [] {
    porta_backend_table_t t{};
    t.struct_size = sizeof(t);
    t.abi_major = PORTA_BACKEND_ABI_MAJOR;
    t.abi_minor = PORTA_BACKEND_ABI_MINOR;
    t.name = "vulkan";
    t.init = Init;
    t.shutdown = Shutdown;
    t.device_count = DeviceCount;
    t.device_open = DeviceOpenEntry;
    t.device_close = DeviceCloseEntry;
    t.device_get_info = DeviceGetInfo;
    t.device_memory_info = DeviceMemoryInfo;
    t.device_native_handles = DeviceNativeHandles;
    AddMemorySlots(&t);
    AddStreamSlots(&t);
    AddModuleSlots(&t);
    AddGraphSlots(&t);
    AddHostRegisterSlots(&t);
    return t;
  }();
  return &table;
}

}  // namespace porta::vulkan

extern "C" porta_status_t porta_vulkan_backend_entry(const porta_backend_host_t* host,
                                                     const porta_backend_table_t** out_table,
                                                     porta_be_msg msg) {
  if (out_table == nullptr) {
    return porta::common::Fail(msg, PORTA_ERROR_INVALID_ARGUMENT, "vulkan: out_table is NULL");
  }
  if (host != nullptr && host->abi_major != PORTA_BACKEND_ABI_MAJOR) {
    return porta::common::Fail(msg, PORTA_ERROR_ABI_MISMATCH,
                               "the vulkan backend implements backend ABI %u.%u; the runtime "
                               "offers major %u",
                               PORTA_BACKEND_ABI_MAJOR, PORTA_BACKEND_ABI_MINOR, host->abi_major);
  }
  *out_table = porta::vulkan::BackendTable();
  return PORTA_OK;
}
