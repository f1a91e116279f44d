// The Vulkan backend's entry, its table, init (instance creation and device discovery) and the
// validation layer's messages. vulkan_objects.h says where the other slots are;
// docs/backends/vulkan.md describes the backend.
#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "backends/vulkan/vulkan_objects.h"
#include "porta/sdk/message.h"

namespace porta::vulkan {
namespace {

using common::Fail;
using common::SetMessage;

bool EnvFlag(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && value[0] != '\0' && std::strcmp(value, "0") != 0;
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

// Creates the instance (with validation when asked) and finds the devices. Leaves a reason in
// backend->reason whenever a step fails or finds nothing; never fails the backend itself.
void Discover(Backend* backend) {
  Library& vk = backend->vk;
  std::string error;
  if (!vk.Load(&error)) {
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

}  // namespace

std::string VersionString(uint32_t version) {
  char text[48];
  std::snprintf(text, sizeof(text), "%u.%u.%u", VK_API_VERSION_MAJOR(version),
                VK_API_VERSION_MINOR(version), VK_API_VERSION_PATCH(version));
  return text;
}

bool HasExtension(const std::vector<VkExtensionProperties>& extensions, const char* name) {
  for (const VkExtensionProperties& extension : extensions) {
    if (std::strcmp(extension.extensionName, name) == 0) return true;
  }
  return false;
}

// The instance (with validation when PORTA_VULKAN_VALIDATION is set) and the devices. A missing
// loader, driver or device is not an error: the backend loads with zero devices and the reason.
porta_status_t Init(const porta_backend_host_t* host, porta_be_backend_t* out_backend,
                    porta_be_msg) {
  common::SetLogSink(host);
  auto backend = std::make_unique<Backend>();
  if (host->cache_dir != nullptr) backend->cache_dir = host->cache_dir;
  backend->porta_version = host->porta_version != nullptr ? host->porta_version : "unknown";
  backend->validation = EnvFlag("PORTA_VULKAN_VALIDATION");
  backend->force_staging = EnvFlag("PORTA_VULKAN_FORCE_STAGING");
  backend->disable_push_descriptor = EnvFlag("PORTA_VULKAN_DISABLE_PUSH_DESCRIPTOR");
  backend->disable_texel_views = EnvFlag("PORTA_VULKAN_DISABLE_TEXEL_VIEWS");
  Discover(backend.get());
  if (!backend->reason.empty()) {
    common::Log(backend->devices.empty() ? PORTA_LOG_WARNING : PORTA_LOG_INFO, "vulkan: %s",
                backend->reason.c_str());
  }
  *out_backend = ToHandle<porta_be_backend_t>(backend.release());
  return PORTA_OK;
}

void Shutdown(porta_be_backend_t handle) {
  delete As<Backend>(handle);
}

porta_status_t DeviceCount(porta_be_backend_t handle, uint32_t* out_count, porta_be_msg msg) {
  auto* backend = As<Backend>(handle);
  *out_count = static_cast<uint32_t>(backend->devices.size());
  if (backend->devices.empty()) SetMessage(msg, "%s", backend->reason.c_str());
  return PORTA_OK;
}

Backend::~Backend() {
  if (messenger != VK_NULL_HANDLE) vk.vkDestroyDebugUtilsMessengerEXT(instance, messenger, nullptr);
  if (instance != VK_NULL_HANDLE) vk.vkDestroyInstance(instance, nullptr);
  if (validation && validation_log.total() > 0) {
    std::fprintf(stderr, "porta vulkan: the validation layer reported %llu error(s) in this run\n",
                 static_cast<unsigned long long>(validation_log.total()));
  }
}

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

porta_status_t CheckValidation(Device* device, porta_status_t status, porta_be_msg msg) {
  std::string text;
  if (device == nullptr || !device->backend->validation_log.Take(&text)) return status;
  return Fail(msg, PORTA_ERROR_BACKEND, "the Vulkan validation layer reported: %s", text.c_str());
}

namespace {

// Every slot, each behind the SDK's slot guard.
constinit const porta_backend_table_t kTable = PORTA_BACKEND_TABLE_WITH_GRAPHS("vulkan");

}  // namespace
}  // namespace porta::vulkan

// The entry the runtime calls for the built-in backend (and, through the generated shim, for the
// stand-alone plugin).
extern "C" porta_status_t porta_vulkan_backend_entry(const porta_backend_host_t* host,
                                                     const porta_backend_table_t** out_table,
                                                     porta_be_msg msg) {
  return porta::common::ServeTable(porta::vulkan::kTable, host, out_table, msg);
}
