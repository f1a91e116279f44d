// Vulkan devices: which physical devices qualify and what they report (ProbeDevice), opening and
// closing one, its pipeline layouts, timestamp slots and on-disk pipeline cache, and the device
// slots.
#include <algorithm>
#include <cinttypes>
#include <cstring>

#include "backends/vulkan/vulkan_objects.h"
#include "porta/sdk/disk_cache.h"
#include "porta/sdk/message.h"

namespace porta::vulkan {
namespace {

using common::Fail;

constexpr uint32_t kMaxQueues = 4;

std::string PipelineCacheKey(const Device& device) {
  const VkPhysicalDeviceProperties& props = device.physical->properties;
  std::string key = "vulkan-pipeline-cache;porta=" + device.backend->porta_version;
  char text[96];
  std::snprintf(text, sizeof(text), ";vendor=%04x;device=%04x;driver=%08x;uuid=", props.vendorID,
                props.deviceID, props.driverVersion);
  key += text;
  for (uint8_t byte : props.pipelineCacheUUID) {
    std::snprintf(text, sizeof(text), "%02x", byte);
    key += text;
  }
  return key;
}

// True when |data| starts with a VkPipelineCacheHeaderVersionOne that matches this device; the
// driver would reject (or, with a buggy driver, misread) anything else.
bool PipelineCacheHeaderMatches(const std::vector<uint8_t>& data,
                                const VkPhysicalDeviceProperties& props) {
  VkPipelineCacheHeaderVersionOne header{};
  if (data.size() < sizeof(header)) return false;
  std::memcpy(&header, data.data(), sizeof(header));
  return header.headerSize >= sizeof(header) && header.headerSize <= data.size() &&
         header.headerVersion == VK_PIPELINE_CACHE_HEADER_VERSION_ONE &&
         header.vendorID == props.vendorID && header.deviceID == props.deviceID &&
         std::memcmp(header.pipelineCacheUUID, props.pipelineCacheUUID, VK_UUID_SIZE) == 0;
}

void CreatePipelineCache(Device* device) {
  Backend* backend = device->backend;
  device->pipeline_cache_key = PipelineCacheKey(*device);
  std::vector<uint8_t> initial;
  common::DiskCache cache(backend->cache_dir.empty() ? "" : backend->cache_dir + "/vulkan");
  if (auto loaded = cache.Load(device->pipeline_cache_key)) {
    if (PipelineCacheHeaderMatches(*loaded, device->physical->properties)) {
      initial = std::move(*loaded);
      common::Log(PORTA_LOG_INFO, "vulkan: pipeline cache: loaded %zu bytes from %s",
                  initial.size(), cache.PathFor(device->pipeline_cache_key).c_str());
    } else {
      common::Log(PORTA_LOG_WARNING,
                  "vulkan: pipeline cache: ignoring %s, its header does not match this device",
                  cache.PathFor(device->pipeline_cache_key).c_str());
    }
  }
  VkPipelineCacheCreateInfo info{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
  info.initialDataSize = initial.size();
  info.pInitialData = initial.empty() ? nullptr : initial.data();
  if (device->vk.vkCreatePipelineCache(device->device, &info, nullptr, &device->pipeline_cache) !=
      VK_SUCCESS) {
    info.initialDataSize = 0;
    info.pInitialData = nullptr;
    if (device->vk.vkCreatePipelineCache(device->device, &info, nullptr, &device->pipeline_cache) !=
        VK_SUCCESS) {
      // Pipelines are still created without a cache; only reuse across runs is lost.
      device->pipeline_cache = VK_NULL_HANDLE;
    }
  }
}

void SavePipelineCache(Device* device) {
  Backend* backend = device->backend;
  if (device->pipeline_cache == VK_NULL_HANDLE || !device->pipeline_cache_dirty.load() ||
      backend->cache_dir.empty()) {
    return;
  }
  size_t size = 0;
  if (device->vk.vkGetPipelineCacheData(device->device, device->pipeline_cache, &size, nullptr) !=
          VK_SUCCESS ||
      size == 0) {
    return;
  }
  std::vector<uint8_t> data(size);
  if (device->vk.vkGetPipelineCacheData(device->device, device->pipeline_cache, &size,
                                        data.data()) != VK_SUCCESS) {
    return;
  }
  common::DiskCache cache(backend->cache_dir + "/vulkan");
  if (cache.Store(device->pipeline_cache_key, data.data(), size)) {
    common::Log(PORTA_LOG_INFO, "vulkan: pipeline cache: stored %zu bytes in %s", size,
                cache.PathFor(device->pipeline_cache_key).c_str());
  } else {
    common::Log(PORTA_LOG_WARNING, "vulkan: pipeline cache: could not write %s",
                cache.PathFor(device->pipeline_cache_key).c_str());
  }
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

std::vector<VkExtensionProperties> DeviceExtensions(const Library& vk, VkPhysicalDevice pd) {
  uint32_t count = 0;
  vk.vkEnumerateDeviceExtensionProperties(pd, nullptr, &count, nullptr);
  std::vector<VkExtensionProperties> extensions(count);
  if (count > 0) vk.vkEnumerateDeviceExtensionProperties(pd, nullptr, &count, extensions.data());
  extensions.resize(count);
  return extensions;
}

}  // namespace

bool ProbeDevice(Backend* backend, VkPhysicalDevice handle, uint32_t index, PhysicalDevice* out,
                 std::string* why) {
  const Library& vk = backend->vk;
  out->handle = handle;
  vk.vkGetPhysicalDeviceProperties(handle, &out->properties);
  const VkPhysicalDeviceProperties& props = out->properties;
  if (props.apiVersion < kRequiredApi) {
    *why = "supports Vulkan " + VersionString(props.apiVersion) + ", Porta needs 1.2";
    return false;
  }
  const std::vector<VkExtensionProperties> extensions = DeviceExtensions(vk, handle);
  out->memory_budget = HasExtension(extensions, VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);
  if (HasExtension(extensions, VK_EXT_CALIBRATED_TIMESTAMPS_EXTENSION_NAME)) {
    auto domains_fn = reinterpret_cast<PFN_vkGetPhysicalDeviceCalibrateableTimeDomainsEXT>(
        vk.vkGetInstanceProcAddr(backend->instance,
                                 "vkGetPhysicalDeviceCalibrateableTimeDomainsEXT"));
    uint32_t count = 0;
    if (domains_fn != nullptr && domains_fn(handle, &count, nullptr) == VK_SUCCESS && count > 0) {
      std::vector<VkTimeDomainEXT> domains(count);
      if (domains_fn(handle, &count, domains.data()) == VK_SUCCESS) {
        domains.resize(count);
        out->calibrated_device_time =
            std::find(domains.begin(), domains.end(), VK_TIME_DOMAIN_DEVICE_EXT) != domains.end();
      }
    }
  }
  VkFormatProperties texel_format{};
  vk.vkGetPhysicalDeviceFormatProperties(handle, VK_FORMAT_R32G32B32A32_UINT, &texel_format);
  out->texel_views =
      (texel_format.bufferFeatures & VK_FORMAT_FEATURE_UNIFORM_TEXEL_BUFFER_BIT) != 0 &&
      !backend->disable_texel_views;

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

porta_status_t Device::CreateTimestampSlot(TimestampSlot* out, porta_be_msg msg) {
  TimestampSlot slot;
  VkQueryPoolCreateInfo info{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
  info.queryType = VK_QUERY_TYPE_TIMESTAMP;
  info.queryCount = 1;
  porta_status_t status =
      Check(vk.vkCreateQueryPool(device, &info, nullptr, &slot.pool), "vkCreateQueryPool", msg);
  if (status == PORTA_OK) {
    status = CreateBuffer(sizeof(uint64_t), VK_BUFFER_USAGE_TRANSFER_DST_BIT, kHostMappable,
                          VK_MEMORY_PROPERTY_HOST_CACHED_BIT, 0, &slot.buffer, &slot.memory,
                          nullptr, msg);
  }
  void* mapped = nullptr;
  if (status == PORTA_OK) {
    status = Check(vk.vkMapMemory(device, slot.memory, 0, VK_WHOLE_SIZE, 0, &mapped),
                   "vkMapMemory (timestamp)", msg);
  }
  if (status != PORTA_OK) {
    DestroyTimestampSlot(slot);
    return status;
  }
  slot.result = static_cast<volatile uint64_t*>(mapped);
  *out = slot;
  return PORTA_OK;
}

void Device::DestroyTimestampSlot(const TimestampSlot& slot) {
  if (slot.buffer != VK_NULL_HANDLE) vk.vkDestroyBuffer(device, slot.buffer, nullptr);
  if (slot.memory != VK_NULL_HANDLE) vk.vkFreeMemory(device, slot.memory, nullptr);
  if (slot.pool != VK_NULL_HANDLE) vk.vkDestroyQueryPool(device, slot.pool, nullptr);
}

porta_status_t Device::GetLayout(uint32_t buffer_count, uint32_t texel_views, uint32_t push_bytes,
                                 const Layout** out, porta_be_msg msg) {
  std::lock_guard<std::mutex> lock(layout_mutex);
  const auto key = std::make_tuple(buffer_count, texel_views, push_bytes);
  auto& slot = layouts[key];
  if (slot != nullptr) {
    *out = slot.get();
    return PORTA_OK;
  }
  auto layout = std::make_unique<Layout>();
  layout->buffer_count = buffer_count;
  layout->texel_views = texel_views;
  layout->push_bytes = push_bytes;
  std::vector<VkDescriptorSetLayoutBinding> bindings(buffer_count);
  for (uint32_t i = 0; i < buffer_count; ++i) {
    bindings[i] = {i, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
  }
  for (uint32_t i = 0; i < kMaxTexelViews; ++i) {
    if (!(texel_views & (1u << i))) continue;
    bindings.push_back({kTexelBindingBase + i, VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, 1,
                        VK_SHADER_STAGE_COMPUTE_BIT, nullptr});
    ++layout->texel_count;
  }
  const auto descriptors = static_cast<uint32_t>(bindings.size());
  layout->push_descriptor = vk.vkCmdPushDescriptorSetKHR != nullptr && descriptors > 0 &&
                            descriptors <= physical->max_push_descriptors;
  if (descriptors > 0) {
    VkDescriptorSetLayoutCreateInfo set_info{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    set_info.flags =
        layout->push_descriptor ? VK_DESCRIPTOR_SET_LAYOUT_CREATE_PUSH_DESCRIPTOR_BIT_KHR : 0;
    set_info.bindingCount = descriptors;
    set_info.pBindings = bindings.data();
    porta_status_t status =
        Check(vk.vkCreateDescriptorSetLayout(device, &set_info, nullptr, &layout->set_layout),
              "vkCreateDescriptorSetLayout", msg);
    if (status != PORTA_OK) {
      layouts.erase(key);
      return status;
    }
  }
  VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, push_bytes};
  VkPipelineLayoutCreateInfo info{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  info.setLayoutCount = descriptors > 0 ? 1 : 0;
  info.pSetLayouts = &layout->set_layout;
  info.pushConstantRangeCount = push_bytes > 0 ? 1 : 0;
  info.pPushConstantRanges = &range;
  porta_status_t status =
      Check(vk.vkCreatePipelineLayout(device, &info, nullptr, &layout->pipeline_layout),
            "vkCreatePipelineLayout", msg);
  if (status != PORTA_OK) {
    if (layout->set_layout != VK_NULL_HANDLE) {
      vk.vkDestroyDescriptorSetLayout(device, layout->set_layout, nullptr);
    }
    layouts.erase(key);
    return status;
  }
  slot = std::move(layout);
  *out = slot.get();
  return PORTA_OK;
}

porta_status_t Device::TexelView(Buffer* buffer, uint64_t offset, VkBufferView* out,
                                 porta_be_msg msg) {
  *out = VK_NULL_HANDLE;
  const VkPhysicalDeviceLimits& limits = physical->properties.limits;
  const uint64_t alignment = std::max<uint64_t>(16, limits.minTexelBufferOffsetAlignment);
  // A view covers every whole texel from the offset, or there is none: a kernel must not read
  // a view that ends short of its buffer.
  if (!buffer->texel_usage || offset % alignment != 0 || buffer->padded_size < offset + 16 ||
      (buffer->padded_size - offset) / 16 > limits.maxTexelBufferElements) {
    return PORTA_OK;
  }
  std::lock_guard<std::mutex> lock(buffer->view_mutex);
  for (const auto& [view_offset, view] : buffer->views) {
    if (view_offset == offset) {
      *out = view;
      return PORTA_OK;
    }
  }
  VkBufferViewCreateInfo info{VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO};
  info.buffer = buffer->buffer;
  info.format = VK_FORMAT_R32G32B32A32_UINT;
  info.offset = offset;
  info.range = (buffer->padded_size - offset) / 16 * 16;
  VkBufferView view = VK_NULL_HANDLE;
  const porta_status_t status =
      Check(vk.vkCreateBufferView(device, &info, nullptr, &view), "vkCreateBufferView", msg);
  if (status != PORTA_OK) return status;
  buffer->views.push_back({offset, view});
  *out = view;
  return PORTA_OK;
}

porta_status_t Device::DummyView(VkBufferView* out, porta_be_msg msg) {
  std::lock_guard<std::mutex> lock(dummy_view_mutex);
  if (dummy_view == VK_NULL_HANDLE) {
    porta_status_t status = CreateBuffer(16, VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT, 0, 0, 0,
                                         &dummy_view_buffer, &dummy_view_memory, nullptr, msg);
    if (status != PORTA_OK) return status;
    VkBufferViewCreateInfo info{VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO};
    info.buffer = dummy_view_buffer;
    info.format = VK_FORMAT_R32G32B32A32_UINT;
    info.range = 16;
    status = Check(vk.vkCreateBufferView(device, &info, nullptr, &dummy_view),
                   "vkCreateBufferView (placeholder view)", msg);
    if (status != PORTA_OK) {
      vk.vkDestroyBuffer(device, dummy_view_buffer, nullptr);
      vk.vkFreeMemory(device, dummy_view_memory, nullptr);
      dummy_view_buffer = VK_NULL_HANDLE;
      dummy_view_memory = VK_NULL_HANDLE;
      dummy_view = VK_NULL_HANDLE;
      return status;
    }
  }
  *out = dummy_view;
  return PORTA_OK;
}

porta_status_t Device::Check(VkResult result, const char* what, porta_be_msg msg) {
  if (result == VK_SUCCESS) return PORTA_OK;
  if (result == VK_ERROR_DEVICE_LOST) {
    {
      std::lock_guard<std::mutex> lock(lost_mutex);
      if (lost_reason.empty()) lost_reason = std::string(what) + " returned VK_ERROR_DEVICE_LOST";
    }
    lost.store(true);
    return LostStatus(msg);
  }
  const porta_status_t status =
      result == VK_ERROR_OUT_OF_HOST_MEMORY || result == VK_ERROR_OUT_OF_DEVICE_MEMORY
          ? PORTA_ERROR_OUT_OF_MEMORY
          : PORTA_ERROR_BACKEND;
  return Fail(msg, status, "vulkan: %s failed with %s (%d)", what, ResultName(result),
              static_cast<int>(result));
}

porta_status_t Device::LostStatus(porta_be_msg msg) {
  if (!lost.load()) return PORTA_OK;
  std::lock_guard<std::mutex> lock(lost_mutex);
  return Fail(msg, PORTA_ERROR_DEVICE_LOST, "vulkan: the device was lost: %s", lost_reason.c_str());
}

// Creates the VkDevice with up to kMaxQueues queues of the compute family (streams share them),
// the optional features kernels may use and the extensions the backend uses.
porta_status_t DeviceOpen(porta_be_backend_t handle, uint32_t index, porta_be_device_t* out,
                          porta_be_msg msg) {
  Backend* backend = As<Backend>(handle);
  const PhysicalDevice& physical = backend->devices[index];
  auto device = std::make_unique<Device>();
  device->backend = backend;
  device->physical = &physical;

  const uint32_t queue_count = std::min(physical.queue_count, kMaxQueues);
  const float priorities[kMaxQueues] = {1.0f, 1.0f, 1.0f, 1.0f};
  VkDeviceQueueCreateInfo queue_info{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  queue_info.queueFamilyIndex = physical.queue_family;
  queue_info.queueCount = queue_count;
  queue_info.pQueuePriorities = priorities;

  // Enable the optional features kernels may rely on, each only where the device has it.
  VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  const VkPhysicalDeviceVulkan12Features& h12 = physical.features12;
  f12.timelineSemaphore = VK_TRUE;
  f12.shaderFloat16 = h12.shaderFloat16;
  f12.shaderInt8 = h12.shaderInt8;
  f12.storageBuffer8BitAccess = h12.storageBuffer8BitAccess;
  f12.uniformAndStorageBuffer8BitAccess = h12.uniformAndStorageBuffer8BitAccess;
  f12.storagePushConstant8 = h12.storagePushConstant8;
  f12.shaderBufferInt64Atomics = h12.shaderBufferInt64Atomics;
  f12.shaderSharedInt64Atomics = h12.shaderSharedInt64Atomics;
  f12.scalarBlockLayout = h12.scalarBlockLayout;
  f12.vulkanMemoryModel = h12.vulkanMemoryModel;
  f12.vulkanMemoryModelDeviceScope = h12.vulkanMemoryModelDeviceScope;
  f12.subgroupBroadcastDynamicId = h12.subgroupBroadcastDynamicId;
  VkPhysicalDeviceVulkan11Features f11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES, &f12};
  f11.storageBuffer16BitAccess = physical.features11.storageBuffer16BitAccess;
  f11.uniformAndStorageBuffer16BitAccess = physical.features11.uniformAndStorageBuffer16BitAccess;
  f11.storagePushConstant16 = physical.features11.storagePushConstant16;
  f11.variablePointersStorageBuffer = physical.features11.variablePointersStorageBuffer;
  f11.variablePointers = physical.features11.variablePointers;
  VkPhysicalDeviceFeatures2 features{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &f11};
  features.features.shaderFloat64 = physical.core_features.shaderFloat64;
  features.features.shaderInt64 = physical.core_features.shaderInt64;
  features.features.shaderInt16 = physical.core_features.shaderInt16;

  std::vector<const char*> extensions;
  if (physical.max_push_descriptors > 0)
    extensions.push_back(VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME);
  if (physical.host_import_alignment > 0)
    extensions.push_back(VK_EXT_EXTERNAL_MEMORY_HOST_EXTENSION_NAME);
  if (physical.calibrated_device_time)
    extensions.push_back(VK_EXT_CALIBRATED_TIMESTAMPS_EXTENSION_NAME);
  VkDeviceCreateInfo info{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, &features};
  info.queueCreateInfoCount = 1;
  info.pQueueCreateInfos = &queue_info;
  info.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
  info.ppEnabledExtensionNames = extensions.data();
  const VkResult result =
      backend->vk.vkCreateDevice(physical.handle, &info, nullptr, &device->device);
  if (result != VK_SUCCESS) {
    return Fail(msg, PORTA_ERROR_BACKEND, "vulkan: vkCreateDevice for '%s' failed with %s (%d)",
                physical.info.name, ResultName(result), static_cast<int>(result));
  }
  std::string error;
  if (!device->vk.Load(backend->vk, device->device, &error)) {
    auto destroy = reinterpret_cast<PFN_vkDestroyDevice>(
        backend->vk.vkGetDeviceProcAddr(device->device, "vkDestroyDevice"));
    if (destroy != nullptr) destroy(device->device, nullptr);
    return Fail(msg, PORTA_ERROR_BACKEND, "vulkan: %s", error.c_str());
  }
  if (physical.max_push_descriptors > 0) {
    device->vk.vkCmdPushDescriptorSetKHR = reinterpret_cast<PFN_vkCmdPushDescriptorSetKHR>(
        backend->vk.vkGetDeviceProcAddr(device->device, "vkCmdPushDescriptorSetKHR"));
  }
  if (physical.host_import_alignment > 0) {
    device->vk.vkGetMemoryHostPointerPropertiesEXT =
        reinterpret_cast<PFN_vkGetMemoryHostPointerPropertiesEXT>(
            backend->vk.vkGetDeviceProcAddr(device->device, "vkGetMemoryHostPointerPropertiesEXT"));
  }
  if (physical.calibrated_device_time) {
    device->vk.vkGetCalibratedTimestampsEXT = reinterpret_cast<PFN_vkGetCalibratedTimestampsEXT>(
        backend->vk.vkGetDeviceProcAddr(device->device, "vkGetCalibratedTimestampsEXT"));
  }
  for (uint32_t i = 0; i < queue_count; ++i) {
    auto queue = std::make_unique<Queue>();
    device->vk.vkGetDeviceQueue(device->device, physical.queue_family, i, &queue->queue);
    device->queues.push_back(std::move(queue));
  }
  CreatePipelineCache(device.get());
  Device* opened = device.release();
  *out = ToHandle<porta_be_device_t>(opened);
  return CheckValidation(opened, PORTA_OK, msg);
}

void DeviceClose(porta_be_device_t handle) {
  Device* device = As<Device>(handle);
  const DeviceFunctions& vk = device->vk;
  vk.vkDeviceWaitIdle(device->device);
  if (device->fill_module != nullptr) DestroyModule(device->fill_module);
  SavePipelineCache(device);
  if (device->pipeline_cache != VK_NULL_HANDLE) {
    vk.vkDestroyPipelineCache(device->device, device->pipeline_cache, nullptr);
  }
  for (auto& [key, layout] : device->layouts) {
    vk.vkDestroyPipelineLayout(device->device, layout->pipeline_layout, nullptr);
    if (layout->set_layout != VK_NULL_HANDLE) {
      vk.vkDestroyDescriptorSetLayout(device->device, layout->set_layout, nullptr);
    }
  }
  for (const StagingBlock& block : device->free_staging) device->DestroyStaging(block);
  if (device->dummy_view != VK_NULL_HANDLE) {
    vk.vkDestroyBufferView(device->device, device->dummy_view, nullptr);
  }
  if (device->dummy_view_buffer != VK_NULL_HANDLE) {
    vk.vkDestroyBuffer(device->device, device->dummy_view_buffer, nullptr);
    vk.vkFreeMemory(device->device, device->dummy_view_memory, nullptr);
  }
  vk.vkDestroyDevice(device->device, nullptr);
  delete device;
}

// Free memory from VK_EXT_memory_budget: over the device-local heaps (every heap where the device
// has none), the budget the driver gives this process less what the process uses of it.
porta_status_t DeviceMemoryInfo(porta_be_device_t handle, uint64_t* out_free_bytes,
                                porta_be_msg msg) {
  const auto* device = As<Device>(handle);
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
  const auto* device = As<Device>(handle);
  out->count = 4;
  out->handles[PORTA_NATIVE_VULKAN_INSTANCE] =
      reinterpret_cast<uint64_t>(device->backend->instance);
  out->handles[PORTA_NATIVE_VULKAN_PHYSICAL_DEVICE] =
      reinterpret_cast<uint64_t>(device->physical->handle);
  out->handles[PORTA_NATIVE_VULKAN_DEVICE] = reinterpret_cast<uint64_t>(device->device);
  out->handles[PORTA_NATIVE_VULKAN_QUEUE_FAMILY] = device->physical->queue_family;
  return PORTA_OK;
}

// The runtime passes a full-size, zeroed struct.
porta_status_t DeviceGetInfo(porta_be_device_t handle, porta_device_info_t* info,
                             porta_be_msg /*msg*/) {
  *info = As<Device>(handle)->physical->info;
  return PORTA_OK;
}

}  // namespace porta::vulkan
