// A test-only stand-in for libamdhip64: one device, allocations at made-up addresses, kernels
// that take (pointer, 32-bit scalar, pointer), events that complete when their stream is
// synchronized, and a graph API that records what it is asked to build (fake_hip_runtime.h).
// Every exported name is one the HIP backend resolves with dlsym.
#include "backends/hip/fake_hip_runtime.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>

#define FAKE_API extern "C" __attribute__((visibility("default")))

namespace {

using porta::hip::fake::Node;
using porta::hip::fake::NodeKind;
using porta::hip::fake::State;

State& Fake() {
  static State state;
  return state;
}

// The result the test asked |name|'s next call to return, or hipSuccess.
hipError_t Injected(const char* name) {
  State& state = Fake();
  if (state.fail_call != name) return hipSuccess;
  state.fail_call.clear();
  return state.fail_result;
}

// The result of the walk's countdown for a call of |name| (see State::countdown).
hipError_t Counted(const char* name) {
  State& state = Fake();
  ++state.calls;
  if (state.countdown < 0 || state.countdown-- > 0) return hipSuccess;
  state.countdown_call = name;
  return state.countdown_result;
}

template <typename T>
T Handle(uintptr_t value) {
  return reinterpret_cast<T>(value);
}

int current_device = 0;
uintptr_t next_pointer = 0x100000;
// Sizes of the live allocations of hipMalloc, by address.
std::map<uintptr_t, size_t> allocation_sizes;
uintptr_t next_handle = 0x1000;

std::vector<std::vector<unsigned char>> ParamBytes(void** params) {
  std::vector<std::vector<unsigned char>> bytes;
  for (size_t i = 0; i < porta::hip::fake::kParamCount; ++i) {
    const auto* p = static_cast<const unsigned char*>(params[i]);
    bytes.emplace_back(p, p + porta::hip::fake::kParamSizes[i]);
  }
  return bytes;
}

hipError_t AddNode(hipGraphNode_t* out, const hipGraphNode_t* dependencies, size_t count,
                   Node node) {
  node.dependencies.assign(dependencies, dependencies + count);
  State& state = Fake();
  state.nodes.push_back(std::move(node));
  *out = Handle<hipGraphNode_t>(state.nodes.size());
  return hipSuccess;
}

}  // namespace

FAKE_API State* porta_fake_hip_state() {
  return &Fake();
}

FAKE_API hipError_t hipInit(unsigned int) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  return hipSuccess;
}
FAKE_API hipError_t hipDriverGetVersion(int* version) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  *version = 50221153;
  return hipSuccess;
}
FAKE_API hipError_t hipRuntimeGetVersion(int* version) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  *version = 50221153;
  return hipSuccess;
}
FAKE_API const char* hipGetErrorName(hipError_t) {
  return "fakeHipError";
}
FAKE_API const char* hipGetErrorString(hipError_t) {
  return "an error the test asked the fake runtime for";
}
FAKE_API hipError_t hipGetDeviceCount(int* count) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  *count = 1;
  return hipSuccess;
}
FAKE_API hipError_t hipDeviceGetName(char* name, int length, hipDevice_t) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  std::strncpy(name, "Fake AMD GPU", static_cast<size_t>(length));
  return hipSuccess;
}
FAKE_API hipError_t hipDeviceGetAttribute(int* value, hipDeviceAttribute_t attribute, int) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  *value = attribute == hipDeviceAttributeMaxSharedMemoryPerBlock ? 64 * 1024 : 1;
  return hipSuccess;
}
FAKE_API hipError_t hipDeviceTotalMem(size_t* bytes, hipDevice_t) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  *bytes = size_t{1} << 30;
  return hipSuccess;
}
// Three quarters of the device free, whatever was allocated.
FAKE_API hipError_t hipMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  *free_bytes = size_t{3} << 28;
  *total_bytes = size_t{1} << 30;
  return hipSuccess;
}
FAKE_API hipError_t hipDeviceCanAccessPeer(int* can, int, int) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  *can = 0;
  return hipSuccess;
}
FAKE_API hipError_t hipDeviceEnablePeerAccess(int, unsigned int) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  return hipSuccess;
}
FAKE_API hipError_t hipSetDevice(int device) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  current_device = device;
  return hipSuccess;
}
FAKE_API hipError_t hipGetDevice(int* device) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  *device = current_device;
  return hipSuccess;
}
FAKE_API hipError_t hipMalloc(void** pointer, size_t size) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  *pointer = Handle<void*>(next_pointer);
  allocation_sizes[next_pointer] = size;
  next_pointer += std::max<size_t>(0x100000, (size + 0xfffff) & ~size_t{0xfffff});
  return hipSuccess;
}
FAKE_API hipError_t hipMemGetAddressRange(hipDeviceptr_t* base, size_t* size,
                                          hipDeviceptr_t pointer) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  const auto address = reinterpret_cast<uintptr_t>(pointer);
  auto it = allocation_sizes.upper_bound(address);
  if (it == allocation_sizes.begin()) return hipErrorInvalidValue;
  --it;
  if (address >= it->first + it->second) return hipErrorInvalidValue;
  *base = Handle<hipDeviceptr_t>(it->first);
  *size = it->second;
  return hipSuccess;
}
FAKE_API hipError_t hipHostMalloc(void**, size_t, unsigned int) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  return hipErrorNotSupported;
}
FAKE_API hipError_t hipFree(void* pointer) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  allocation_sizes.erase(reinterpret_cast<uintptr_t>(pointer));
  return hipSuccess;
}
FAKE_API hipError_t hipHostFree(void*) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  return hipSuccess;
}
FAKE_API hipError_t hipHostGetDevicePointer(void**, void*, unsigned int) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  return hipErrorNotSupported;
}
FAKE_API hipError_t hipHostRegister(void* pointer, size_t size, unsigned int) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  if (const hipError_t injected = Injected("hipHostRegister")) return injected;
  State& state = Fake();
  const auto begin = reinterpret_cast<uintptr_t>(pointer);
  for (const auto& [other, other_size] : state.host_registered) {
    const auto other_begin = reinterpret_cast<uintptr_t>(other);
    if (begin < other_begin + other_size && other_begin < begin + size) {
      return hipErrorHostMemoryAlreadyRegistered;
    }
  }
  state.host_registered.emplace_back(pointer, size);
  return hipSuccess;
}
FAKE_API hipError_t hipHostUnregister(void* pointer) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  State& state = Fake();
  for (auto it = state.host_registered.begin(); it != state.host_registered.end(); ++it) {
    if (it->first == pointer) {
      state.host_registered.erase(it);
      ++state.host_unregistered;
      return hipSuccess;
    }
  }
  return hipErrorHostMemoryNotRegistered;
}
FAKE_API hipError_t hipMemcpyHtoDAsync(hipDeviceptr_t, void*, size_t, hipStream_t) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  return hipSuccess;
}
FAKE_API hipError_t hipMemcpyDtoHAsync(void*, hipDeviceptr_t, size_t, hipStream_t) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  return hipSuccess;
}
FAKE_API hipError_t hipMemcpyDtoDAsync(hipDeviceptr_t, hipDeviceptr_t, size_t, hipStream_t) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  return hipSuccess;
}
FAKE_API hipError_t hipMemcpyPeerAsync(void*, int, const void*, int, size_t, hipStream_t) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  return hipSuccess;
}
FAKE_API hipError_t hipMemsetD8Async(hipDeviceptr_t, unsigned char, size_t, hipStream_t) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  return hipSuccess;
}
FAKE_API hipError_t hipMemsetD16Async(hipDeviceptr_t, unsigned short, size_t, hipStream_t) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  return hipSuccess;
}
FAKE_API hipError_t hipMemsetD32Async(hipDeviceptr_t, int, size_t, hipStream_t) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  return hipSuccess;
}
FAKE_API hipError_t hipStreamCreateWithFlags(hipStream_t* stream, unsigned int) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  *stream = Handle<hipStream_t>(next_handle++);
  return hipSuccess;
}
FAKE_API hipError_t hipStreamDestroy(hipStream_t) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  return hipSuccess;
}
FAKE_API hipError_t hipStreamSynchronize(hipStream_t) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  Fake().CompleteAll();
  return hipSuccess;
}
FAKE_API hipError_t hipStreamQuery(hipStream_t) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  return Fake().pending_events.empty() ? hipSuccess : hipErrorNotReady;
}
// The fake's copies and launches complete as they are queued, so the host function runs at once.
FAKE_API hipError_t hipLaunchHostFunc(hipStream_t, hipHostFn_t fn, void* user_data) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  fn(user_data);
  return hipSuccess;
}
FAKE_API hipError_t hipStreamWaitEvent(hipStream_t stream, hipEvent_t event, unsigned int) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  Fake().waits.emplace_back(stream, event);
  return hipSuccess;
}
FAKE_API hipError_t hipEventCreateWithFlags(hipEvent_t* event, unsigned) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  *event = Handle<hipEvent_t>(next_handle++);
  return hipSuccess;
}
FAKE_API hipError_t hipEventDestroy(hipEvent_t) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  return hipSuccess;
}
FAKE_API hipError_t hipEventRecord(hipEvent_t event, hipStream_t stream) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  State& state = Fake();
  state.records.emplace_back(event, stream);
  state.pending_events.push_back(event);
  return hipSuccess;
}
FAKE_API hipError_t hipEventQuery(hipEvent_t event) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  if (const hipError_t injected = Injected("hipEventQuery")) return injected;
  const auto& pending = Fake().pending_events;
  return std::find(pending.begin(), pending.end(), event) == pending.end() ? hipSuccess
                                                                           : hipErrorNotReady;
}
FAKE_API hipError_t hipEventSynchronize(hipEvent_t) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  Fake().CompleteAll();
  return hipSuccess;
}
FAKE_API hipError_t hipEventElapsedTime(float* ms, hipEvent_t, hipEvent_t) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  *ms = 0.0f;
  return hipSuccess;
}
FAKE_API hipError_t hipModuleLoadData(hipModule_t* module, const void*) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  *module = Handle<hipModule_t>(0x300);
  return hipSuccess;
}
FAKE_API hipError_t hipModuleUnload(hipModule_t) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  return hipSuccess;
}
FAKE_API hipError_t hipModuleGetFunction(hipFunction_t* function, hipModule_t, const char*) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  *function = Handle<hipFunction_t>(0xF00);
  return hipSuccess;
}
FAKE_API hipError_t hipFuncGetAttribute(int* value, hipFunction_attribute attribute,
                                        hipFunction_t) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  *value = attribute == HIP_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK ? 1024 : 0;
  return hipSuccess;
}
FAKE_API hipError_t hipModuleLaunchKernel(hipFunction_t, unsigned int, unsigned int, unsigned int,
                                          unsigned int, unsigned int, unsigned int, unsigned int,
                                          hipStream_t, void**, void**) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  return hipSuccess;
}
FAKE_API hipError_t hipGraphCreate(hipGraph_t* graph, unsigned int) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  *graph = Handle<hipGraph_t>(next_handle++);
  return hipSuccess;
}
FAKE_API hipError_t hipGraphDestroy(hipGraph_t) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  ++Fake().graphs_destroyed;
  return hipSuccess;
}
FAKE_API hipError_t hipGraphAddKernelNode(hipGraphNode_t* out, hipGraph_t,
                                          const hipGraphNode_t* dependencies, size_t count,
                                          const hipKernelNodeParams* params) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  if (const hipError_t injected = Injected("hipGraphAddKernelNode")) return injected;
  Node node;
  node.kind = NodeKind::kKernel;
  node.func = params->func;
  node.grid = params->gridDim;
  node.block = params->blockDim;
  node.shared = params->sharedMemBytes;
  node.params = ParamBytes(params->kernelParams);
  return AddNode(out, dependencies, count, std::move(node));
}
FAKE_API hipError_t hipGraphAddMemcpyNode1D(hipGraphNode_t* out, hipGraph_t,
                                            const hipGraphNode_t* dependencies, size_t count,
                                            void* dst, const void* src, size_t bytes,
                                            hipMemcpyKind kind) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  Node node;
  node.kind = NodeKind::kMemcpy;
  node.dst = dst;
  node.src = src;
  node.count = bytes;
  node.copy_kind = kind;
  return AddNode(out, dependencies, count, std::move(node));
}
FAKE_API hipError_t hipGraphAddMemsetNode(hipGraphNode_t* out, hipGraph_t,
                                          const hipGraphNode_t* dependencies, size_t count,
                                          const hipMemsetParams* fill) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  if (const hipError_t injected = Injected("hipGraphAddMemsetNode")) return injected;
  Node node;
  node.kind = NodeKind::kMemset;
  node.fill = *fill;
  return AddNode(out, dependencies, count, std::move(node));
}
FAKE_API hipError_t hipGraphInstantiateWithFlags(hipGraphExec_t* exec, hipGraph_t,
                                                 unsigned long long) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  *exec = Handle<hipGraphExec_t>(next_handle++);
  return hipSuccess;
}
FAKE_API hipError_t hipGraphLaunch(hipGraphExec_t exec, hipStream_t stream) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  Fake().launches.emplace_back(exec, stream);
  return hipSuccess;
}
FAKE_API hipError_t hipGraphExecKernelNodeSetParams(hipGraphExec_t, hipGraphNode_t node,
                                                    const hipKernelNodeParams* params) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  if (const hipError_t injected = Injected("hipGraphExecKernelNodeSetParams")) return injected;
  Fake().updates.emplace_back(node, ParamBytes(params->kernelParams));
  return hipSuccess;
}
FAKE_API hipError_t hipGraphExecDestroy(hipGraphExec_t) {
  if (const hipError_t counted = Counted(__func__)) return counted;
  ++Fake().execs_destroyed;
  return hipSuccess;
}
