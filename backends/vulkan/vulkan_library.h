// The Vulkan API, resolved at run time: the backend never links libvulkan, it opens the loader
// (libvulkan.so.1) with dlopen and resolves every function through vkGetInstanceProcAddr /
// vkGetDeviceProcAddr, so that libporta loads on machines without Vulkan.
#ifndef PORTA_BACKENDS_VULKAN_VULKAN_LIBRARY_H_
#define PORTA_BACKENDS_VULKAN_VULKAN_LIBRARY_H_

#include <vulkan/vulkan.h>

#include <memory>
#include <string>

#include "porta/sdk/dynamic_library.h"

namespace porta::vulkan {

// Functions resolved with vkGetInstanceProcAddr(NULL, ...).
#define PORTA_VK_GLOBAL_FUNCTIONS(X)        \
  X(vkEnumerateInstanceVersion)             \
  X(vkEnumerateInstanceExtensionProperties) \
  X(vkEnumerateInstanceLayerProperties)     \
  X(vkCreateInstance)

// Functions resolved with vkGetInstanceProcAddr(instance, ...); all are core Vulkan 1.1.
#define PORTA_VK_INSTANCE_FUNCTIONS(X)        \
  X(vkDestroyInstance)                        \
  X(vkEnumeratePhysicalDevices)               \
  X(vkGetPhysicalDeviceProperties)            \
  X(vkGetPhysicalDeviceProperties2)           \
  X(vkGetPhysicalDeviceFeatures2)             \
  X(vkGetPhysicalDeviceMemoryProperties)      \
  X(vkGetPhysicalDeviceMemoryProperties2)     \
  X(vkGetPhysicalDeviceFormatProperties)      \
  X(vkGetPhysicalDeviceQueueFamilyProperties) \
  X(vkEnumerateDeviceExtensionProperties)     \
  X(vkCreateDevice)                           \
  X(vkGetDeviceProcAddr)

// Functions resolved with vkGetDeviceProcAddr; all are core Vulkan 1.2.
#define PORTA_VK_DEVICE_FUNCTIONS(X) \
  X(vkDestroyDevice)                 \
  X(vkGetDeviceQueue)                \
  X(vkDeviceWaitIdle)                \
  X(vkQueueWaitIdle)                 \
  X(vkCreateBuffer)                  \
  X(vkDestroyBuffer)                 \
  X(vkCreateBufferView)              \
  X(vkDestroyBufferView)             \
  X(vkGetBufferMemoryRequirements)   \
  X(vkAllocateMemory)                \
  X(vkFreeMemory)                    \
  X(vkBindBufferMemory)              \
  X(vkMapMemory)                     \
  X(vkUnmapMemory)                   \
  X(vkCreateCommandPool)             \
  X(vkDestroyCommandPool)            \
  X(vkAllocateCommandBuffers)        \
  X(vkFreeCommandBuffers)            \
  X(vkBeginCommandBuffer)            \
  X(vkEndCommandBuffer)              \
  X(vkCmdPipelineBarrier)            \
  X(vkCmdCopyBuffer)                 \
  X(vkCmdFillBuffer)                 \
  X(vkCmdBindPipeline)               \
  X(vkCmdBindDescriptorSets)         \
  X(vkCmdPushConstants)              \
  X(vkCmdDispatch)                   \
  X(vkCmdExecuteCommands)            \
  X(vkCmdWriteTimestamp)             \
  X(vkCmdResetQueryPool)             \
  X(vkQueueSubmit)                   \
  X(vkCreateSemaphore)               \
  X(vkDestroySemaphore)              \
  X(vkWaitSemaphores)                \
  X(vkGetSemaphoreCounterValue)      \
  X(vkCreateQueryPool)               \
  X(vkDestroyQueryPool)              \
  X(vkCmdCopyQueryPoolResults)       \
  X(vkCreateShaderModule)            \
  X(vkDestroyShaderModule)           \
  X(vkCreatePipelineCache)           \
  X(vkDestroyPipelineCache)          \
  X(vkGetPipelineCacheData)          \
  X(vkCreateComputePipelines)        \
  X(vkDestroyPipeline)               \
  X(vkCreatePipelineLayout)          \
  X(vkDestroyPipelineLayout)         \
  X(vkCreateDescriptorSetLayout)     \
  X(vkDestroyDescriptorSetLayout)    \
  X(vkCreateDescriptorPool)          \
  X(vkDestroyDescriptorPool)         \
  X(vkResetDescriptorPool)           \
  X(vkAllocateDescriptorSets)        \
  X(vkUpdateDescriptorSets)

#define PORTA_VK_DECLARE_MEMBER(name) PFN_##name name = nullptr;

// The resolved loader: its global functions and the instance-level functions of one instance.
struct Library {
  // Opens the loader (PORTA_VULKAN_LIBRARY, when set, replaces the default names) and resolves
  // the global functions. Returns false with the reason in |why|, naming each function the
  // loader lacks.
  bool Load(std::string* why);
  // Resolves the instance-level functions of |instance|. Returns false naming the missing ones.
  bool LoadInstance(VkInstance instance, std::string* why);

  PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr = nullptr;
  PORTA_VK_GLOBAL_FUNCTIONS(PORTA_VK_DECLARE_MEMBER)
  PORTA_VK_INSTANCE_FUNCTIONS(PORTA_VK_DECLARE_MEMBER)
  // VK_EXT_debug_utils; null unless validation is enabled.
  PFN_vkCreateDebugUtilsMessengerEXT vkCreateDebugUtilsMessengerEXT = nullptr;
  PFN_vkDestroyDebugUtilsMessengerEXT vkDestroyDebugUtilsMessengerEXT = nullptr;

 private:
  std::unique_ptr<common::DynamicLibrary> library_;
};

// The device-level functions of one VkDevice.
struct DeviceFunctions {
  PORTA_VK_DEVICE_FUNCTIONS(PORTA_VK_DECLARE_MEMBER)
  // VK_KHR_push_descriptor; null when the device lacks it or it is disabled.
  PFN_vkCmdPushDescriptorSetKHR vkCmdPushDescriptorSetKHR = nullptr;
  // VK_EXT_external_memory_host; null when the device lacks it.
  PFN_vkGetMemoryHostPointerPropertiesEXT vkGetMemoryHostPointerPropertiesEXT = nullptr;
  // VK_EXT_calibrated_timestamps; null when the device lacks it or its device time domain.
  PFN_vkGetCalibratedTimestampsEXT vkGetCalibratedTimestampsEXT = nullptr;

  // Resolves every device function of |device| through |library|. Returns false naming the
  // missing ones.
  bool Load(const Library& library, VkDevice device, std::string* why);
};

#undef PORTA_VK_DECLARE_MEMBER

// "VK_ERROR_DEVICE_LOST" for a VkResult; "VkResult(unknown)" for codes this file does not name
// (callers print the number beside it).
const char* ResultName(VkResult result);

}  // namespace porta::vulkan

#endif  // PORTA_BACKENDS_VULKAN_VULKAN_LIBRARY_H_
