// Assembly of the backend's function table: each source file fills the slots it implements.
#ifndef PORTA_BACKENDS_VULKAN_VULKAN_TABLE_H_
#define PORTA_BACKENDS_VULKAN_VULKAN_TABLE_H_

#include "porta/porta_backend.h"

namespace porta::vulkan {

// Buffers (vulkan_device.cpp).
void AddMemorySlots(porta_backend_table_t* table);
// Streams, copies, fills and events (vulkan_commands.cpp).
void AddStreamSlots(porta_backend_table_t* table);
// Modules, kernels and launches (vulkan_kernel.cpp).
void AddModuleSlots(porta_backend_table_t* table);
// Native graphs (vulkan_graph.cpp).
void AddGraphSlots(porta_backend_table_t* table);
// Host memory registration and the copies through it (vulkan_host_register.cpp).
void AddHostRegisterSlots(porta_backend_table_t* table);
// The complete table.
const porta_backend_table_t* BackendTable();

}  // namespace porta::vulkan

#endif  // PORTA_BACKENDS_VULKAN_VULKAN_TABLE_H_
