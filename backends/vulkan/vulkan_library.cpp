#include "backends/vulkan/vulkan_library.h"

#include <vector>

namespace porta::vulkan {
namespace {

// Appends |name| to a comma-separated list of missing functions.
void NoteMissing(std::string* missing, const char* name) {
  if (!missing->empty()) missing->append(", ");
  missing->append(name);
}

}  // namespace

bool Library::Load(std::string* why) {
  const std::vector<std::string> names =
      common::LibraryNames("PORTA_VULKAN_LIBRARY", {"libvulkan.so.1", "libvulkan.so"});
  std::string error;
  library_ = common::DynamicLibrary::Open(names, &error);
  if (library_ == nullptr) {
    *why = "the Vulkan loader could not be opened: " + error;
    return false;
  }
  std::string missing;
  if (!library_->Load(&vkGetInstanceProcAddr, "vkGetInstanceProcAddr", &missing)) {
    *why = library_->name() + " does not export vkGetInstanceProcAddr";
    return false;
  }
#define PORTA_VK_LOAD_GLOBAL(name)                                                   \
  name = reinterpret_cast<PFN_##name>(vkGetInstanceProcAddr(VK_NULL_HANDLE, #name)); \
  if (name == nullptr) NoteMissing(&missing, #name);
  PORTA_VK_GLOBAL_FUNCTIONS(PORTA_VK_LOAD_GLOBAL)
#undef PORTA_VK_LOAD_GLOBAL
  if (!missing.empty()) {
    // vkEnumerateInstanceVersion is absent from Vulkan 1.0 loaders, which are too old anyway.
    *why = library_->name() + " lacks " + missing + " (a Vulkan 1.2 loader is required)";
    return false;
  }
  return true;
}

bool Library::LoadInstance(VkInstance instance, std::string* why) {
  std::string missing;
#define PORTA_VK_LOAD_INSTANCE(name)                                           \
  name = reinterpret_cast<PFN_##name>(vkGetInstanceProcAddr(instance, #name)); \
  if (name == nullptr) NoteMissing(&missing, #name);
  PORTA_VK_INSTANCE_FUNCTIONS(PORTA_VK_LOAD_INSTANCE)
#undef PORTA_VK_LOAD_INSTANCE
  vkCreateDebugUtilsMessengerEXT = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
      vkGetInstanceProcAddr(instance, "vkCreateDebugUtilsMessengerEXT"));
  vkDestroyDebugUtilsMessengerEXT = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
      vkGetInstanceProcAddr(instance, "vkDestroyDebugUtilsMessengerEXT"));
  if (!missing.empty()) {
    *why = "the Vulkan instance lacks " + missing;
    return false;
  }
  return true;
}

bool DeviceFunctions::Load(const Library& library, VkDevice device, std::string* why) {
  std::string missing;
#define PORTA_VK_LOAD_DEVICE(name)                                                 \
  name = reinterpret_cast<PFN_##name>(library.vkGetDeviceProcAddr(device, #name)); \
  if (name == nullptr) NoteMissing(&missing, #name);
  PORTA_VK_DEVICE_FUNCTIONS(PORTA_VK_LOAD_DEVICE)
#undef PORTA_VK_LOAD_DEVICE
  if (!missing.empty()) {
    *why = "the Vulkan device lacks " + missing;
    return false;
  }
  return true;
}

const char* ResultName(VkResult result) {
  switch (result) {
#define PORTA_VK_RESULT_CASE(name) \
  case name:                       \
    return #name;
    PORTA_VK_RESULT_CASE(VK_SUCCESS)
    PORTA_VK_RESULT_CASE(VK_NOT_READY)
    PORTA_VK_RESULT_CASE(VK_TIMEOUT)
    PORTA_VK_RESULT_CASE(VK_INCOMPLETE)
    PORTA_VK_RESULT_CASE(VK_ERROR_OUT_OF_HOST_MEMORY)
    PORTA_VK_RESULT_CASE(VK_ERROR_OUT_OF_DEVICE_MEMORY)
    PORTA_VK_RESULT_CASE(VK_ERROR_INITIALIZATION_FAILED)
    PORTA_VK_RESULT_CASE(VK_ERROR_DEVICE_LOST)
    PORTA_VK_RESULT_CASE(VK_ERROR_MEMORY_MAP_FAILED)
    PORTA_VK_RESULT_CASE(VK_ERROR_LAYER_NOT_PRESENT)
    PORTA_VK_RESULT_CASE(VK_ERROR_EXTENSION_NOT_PRESENT)
    PORTA_VK_RESULT_CASE(VK_ERROR_FEATURE_NOT_PRESENT)
    PORTA_VK_RESULT_CASE(VK_ERROR_INCOMPATIBLE_DRIVER)
    PORTA_VK_RESULT_CASE(VK_ERROR_TOO_MANY_OBJECTS)
    PORTA_VK_RESULT_CASE(VK_ERROR_FORMAT_NOT_SUPPORTED)
    PORTA_VK_RESULT_CASE(VK_ERROR_FRAGMENTED_POOL)
    PORTA_VK_RESULT_CASE(VK_ERROR_UNKNOWN)
    PORTA_VK_RESULT_CASE(VK_ERROR_OUT_OF_POOL_MEMORY)
    PORTA_VK_RESULT_CASE(VK_ERROR_INVALID_EXTERNAL_HANDLE)
    PORTA_VK_RESULT_CASE(VK_ERROR_FRAGMENTATION)
    PORTA_VK_RESULT_CASE(VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS)
    PORTA_VK_RESULT_CASE(VK_ERROR_INVALID_SHADER_NV)
#undef PORTA_VK_RESULT_CASE
    default:
      return "VkResult(unknown)";
  }
}

}  // namespace porta::vulkan
