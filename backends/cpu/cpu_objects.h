// The CPU backend's objects behind the opaque porta_be_* handles.
//
// The types live in porta::cpu and are reinterpret_cast to and from the handles instead of
// defining struct porta_be_device & co.: every built-in backend is linked into libporta, and two
// different global definitions of one struct name would break the one-definition rule.
#ifndef PORTA_BACKENDS_CPU_CPU_OBJECTS_H_
#define PORTA_BACKENDS_CPU_CPU_OBJECTS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backends/cpu/thread_pool.h"
#include "porta/porta_backend.h"

namespace porta::cpu {

// What init learned about the host; shared by every device opened from it.
struct Backend {
  porta_device_info_t info{};
};

// An open CPU device: its description and the pool that runs its work-groups.
struct Device {
  porta_device_info_t info{};
  std::unique_ptr<ThreadPool> pool;
};

// Host memory; both memory kinds are the same allocation, at least 64-byte aligned.
struct Buffer {
  Device* device = nullptr;
  uint8_t* data = nullptr;
  uint64_t size = 0;
  // True when |data| came from mmap (large buffers) rather than the heap.
  bool mapped = false;
  // True when |data| is the application's memory (buffer_import): never freed here.
  bool imported = false;
};

// One entry of a host-format module.
struct Kernel {
  std::string name;
  porta_host_kernel_fn fn = nullptr;
};

// A copied porta_host_kernel_t table.
struct Module {
  Device* device = nullptr;
  std::vector<std::unique_ptr<Kernel>> kernels;
};

class Stream;
class Event;
struct Graph;

// Work a stream's worker executes: returns false and writes a description into |fault| when it
// faulted; runs with the worker's scratch, used for the work-groups it executes.
using Work = std::function<bool(std::string* fault, Scratch& scratch)>;

// Handle conversions. Each handle type maps to exactly one object type.
inline Backend* ToBackend(porta_be_backend_t h) {
  return reinterpret_cast<Backend*>(h);
}
inline Device* ToDevice(porta_be_device_t h) {
  return reinterpret_cast<Device*>(h);
}
inline Buffer* ToBuffer(porta_be_buffer_t h) {
  return reinterpret_cast<Buffer*>(h);
}
inline Stream* ToStream(porta_be_stream_t h) {
  return reinterpret_cast<Stream*>(h);
}
inline Event* ToEvent(porta_be_event_t h) {
  return reinterpret_cast<Event*>(h);
}
inline Module* ToModule(porta_be_module_t h) {
  return reinterpret_cast<Module*>(h);
}
inline Kernel* ToKernel(porta_be_kernel_t h) {
  return reinterpret_cast<Kernel*>(h);
}
inline Graph* ToGraph(porta_be_graph_t h) {
  return reinterpret_cast<Graph*>(h);
}

// Module and launch entry points (cpu_module.cpp).
porta_status_t LoadModule(Device* device, const porta_module_source_t* source, Module** out_module,
                          porta_be_msg msg);
porta_status_t GetKernel(Module* module, const char* name, Kernel** out_kernel, porta_be_msg msg);
// The work of one launch, everything copied: validation and argument packing happen here, once.
porta_status_t MakeLaunchWork(Device* device, const Kernel* kernel,
                              const porta_launch_config_t* config, const porta_be_arg_t* args,
                              uint32_t arg_count, Work* out_work, porta_be_msg msg);
porta_status_t LaunchKernel(Stream* stream, const Kernel* kernel,
                            const porta_launch_config_t* config, const porta_be_arg_t* args,
                            uint32_t arg_count, porta_be_msg msg);

// The work of a byte move (memmove: host pointers may alias buffer memory) and of a fill with a
// 1-, 2- or 4-byte pattern.
Work MakeMoveWork(void* dst, const void* src, uint64_t size);
Work MakeFillWork(uint8_t* target, uint64_t size, const void* pattern, uint32_t pattern_size);

// Native graphs (cpu_graph.cpp): a prebuilt list of the nodes' work that a replay queues as one
// command.
porta_status_t CreateGraph(Device* device, const porta_be_graph_node_t* nodes, uint32_t count,
                           Graph** out_graph, porta_be_msg msg);
porta_status_t LaunchGraph(Stream* stream, Graph* graph, porta_be_msg msg);
porta_status_t UpdateGraphKernelArgs(Graph* graph, uint32_t node, const porta_be_arg_t* args,
                                     uint32_t arg_count, porta_be_msg msg);
void DestroyGraph(Graph* graph);

}  // namespace porta::cpu

#endif  // PORTA_BACKENDS_CPU_CPU_OBJECTS_H_
