// A test-only stand-in for libcuda.so.1: one device, allocations at made-up addresses, kernels
// that take (pointer, 32-bit scalar, pointer), and a graph API that records what it is asked to
// build (fake_cuda_driver.h). Every exported name is one the CUDA backend resolves with dlsym.
// Built without the graph functions when PORTA_FAKE_CUDA_NO_GRAPHS is defined.
#include "backends/cuda/fake_cuda_driver.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>

#define FAKE_API extern "C" __attribute__((visibility("default")))

namespace {

using porta::cuda::fake::Node;
using porta::cuda::fake::NodeKind;
using porta::cuda::fake::State;

State& Fake() {
  static State state;
  return state;
}

template <typename T>
T Handle(uintptr_t value) {
  return reinterpret_cast<T>(value);
}

CUcontext current_context = nullptr;
CUdeviceptr next_pointer = 0x100000;
// Sizes of the live allocations of cuMemAlloc, by address.
std::map<CUdeviceptr, size_t> allocation_sizes;

}  // namespace

FAKE_API State* porta_fake_cuda_state() {
  return &Fake();
}

namespace {

// The result the test asked |name|'s next call to return, or CUDA_SUCCESS.
CUresult Injected(const char* name) {
  State& state = Fake();
  if (state.fail_call != name) return CUDA_SUCCESS;
  state.fail_call.clear();
  return state.fail_result;
}

// The result of the walk's countdown for a call of |name| (see State::countdown).
CUresult Counted(const char* name) {
  State& state = Fake();
  ++state.calls;
  if (state.countdown < 0 || state.countdown-- > 0) return CUDA_SUCCESS;
  state.countdown_call = name;
  return state.countdown_result;
}

}  // namespace

FAKE_API CUresult cuInit(unsigned int) {
  if (const CUresult counted = Counted(__func__)) return counted;
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuDriverGetVersion(int* version) {
  if (const CUresult counted = Counted(__func__)) return counted;
  *version = 13000;
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuGetErrorName(CUresult, const char** text) {
  *text = "FAKE_CUDA_ERROR";
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuGetErrorString(CUresult, const char** text) {
  *text = "an error the test asked the fake driver for";
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuDeviceGetCount(int* count) {
  if (const CUresult counted = Counted(__func__)) return counted;
  *count = 1;
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuDeviceGet(CUdevice* device, int ordinal) {
  if (const CUresult counted = Counted(__func__)) return counted;
  *device = ordinal;
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuDeviceGetName(char* name, int length, CUdevice) {
  if (const CUresult counted = Counted(__func__)) return counted;
  std::strncpy(name, "Fake GPU", static_cast<size_t>(length));
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuDeviceGetAttribute(int* value, CUdevice_attribute attribute, CUdevice) {
  if (const CUresult counted = Counted(__func__)) return counted;
  switch (attribute) {
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK:
      *value = 48 * 1024;
      break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN:
      *value = 96 * 1024;
      break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR:
      *value = 9;
      break;
    default:
      *value = 1;
      break;
  }
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice) {
  if (const CUresult counted = Counted(__func__)) return counted;
  *bytes = size_t{1} << 30;
  return CUDA_SUCCESS;
}
// Three quarters of the device free, whatever was allocated.
FAKE_API CUresult cuMemGetInfo_v2(size_t* free_bytes, size_t* total_bytes) {
  if (const CUresult counted = Counted(__func__)) return counted;
  *free_bytes = size_t{3} << 28;
  *total_bytes = size_t{1} << 30;
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuDeviceGetUuid_v2(CUuuid* uuid, CUdevice) {
  if (const CUresult counted = Counted(__func__)) return counted;
  std::memset(uuid, 0, sizeof(*uuid));
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuDeviceCanAccessPeer(int* can, CUdevice, CUdevice) {
  if (const CUresult counted = Counted(__func__)) return counted;
  *can = 0;
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuDevicePrimaryCtxRetain(CUcontext* context, CUdevice) {
  if (const CUresult counted = Counted(__func__)) return counted;
  *context = Handle<CUcontext>(0xC0);
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuDevicePrimaryCtxRelease_v2(CUdevice) {
  if (const CUresult counted = Counted(__func__)) return counted;
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuCtxGetCurrent(CUcontext* context) {
  if (const CUresult counted = Counted(__func__)) return counted;
  *context = current_context;
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuCtxSetCurrent(CUcontext context) {
  if (const CUresult counted = Counted(__func__)) return counted;
  current_context = context;
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuCtxEnablePeerAccess(CUcontext, unsigned int) {
  if (const CUresult counted = Counted(__func__)) return counted;
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuMemAlloc_v2(CUdeviceptr* pointer, size_t size) {
  if (const CUresult counted = Counted(__func__)) return counted;
  *pointer = next_pointer;
  allocation_sizes[next_pointer] = size;
  next_pointer += std::max<size_t>(0x100000, (size + 0xfffff) & ~size_t{0xfffff});
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuMemGetAddressRange_v2(CUdeviceptr* base, size_t* size, CUdeviceptr pointer) {
  if (const CUresult counted = Counted(__func__)) return counted;
  auto it = allocation_sizes.upper_bound(pointer);
  if (it == allocation_sizes.begin()) return CUDA_ERROR_NOT_FOUND;
  --it;
  if (pointer >= it->first + it->second) return CUDA_ERROR_NOT_FOUND;
  *base = it->first;
  *size = it->second;
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuMemFree_v2(CUdeviceptr pointer) {
  if (const CUresult counted = Counted(__func__)) return counted;
  allocation_sizes.erase(pointer);
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuMemHostAlloc(void**, size_t, unsigned int) {
  if (const CUresult counted = Counted(__func__)) return counted;
  return CUDA_ERROR_NOT_SUPPORTED;
}
FAKE_API CUresult cuMemFreeHost(void*) {
  if (const CUresult counted = Counted(__func__)) return counted;
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuMemHostGetDevicePointer_v2(CUdeviceptr*, void*, unsigned int) {
  if (const CUresult counted = Counted(__func__)) return counted;
  return CUDA_ERROR_NOT_SUPPORTED;
}
FAKE_API CUresult cuMemHostRegister_v2(void* pointer, size_t size, unsigned int) {
  if (const CUresult counted = Counted(__func__)) return counted;
  if (const CUresult injected = Injected("cuMemHostRegister")) return injected;
  State& state = Fake();
  const auto begin = reinterpret_cast<uintptr_t>(pointer);
  for (const auto& [other, other_size] : state.host_registered) {
    const auto other_begin = reinterpret_cast<uintptr_t>(other);
    if (begin < other_begin + other_size && other_begin < begin + size) {
      return CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
    }
  }
  state.host_registered.emplace_back(pointer, size);
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuMemHostUnregister(void* pointer) {
  if (const CUresult counted = Counted(__func__)) return counted;
  State& state = Fake();
  for (auto it = state.host_registered.begin(); it != state.host_registered.end(); ++it) {
    if (it->first == pointer) {
      state.host_registered.erase(it);
      ++state.host_unregistered;
      return CUDA_SUCCESS;
    }
  }
  return CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;
}
FAKE_API CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr, const void*, size_t, CUstream) {
  if (const CUresult counted = Counted(__func__)) return counted;
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuMemcpyDtoHAsync_v2(void*, CUdeviceptr, size_t, CUstream) {
  if (const CUresult counted = Counted(__func__)) return counted;
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr, CUdeviceptr, size_t, CUstream) {
  if (const CUresult counted = Counted(__func__)) return counted;
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuMemcpyPeerAsync(CUdeviceptr, CUcontext, CUdeviceptr, CUcontext, size_t,
                                    CUstream) {
  if (const CUresult counted = Counted(__func__)) return counted;
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuMemsetD8Async(CUdeviceptr, unsigned char, size_t, CUstream) {
  if (const CUresult counted = Counted(__func__)) return counted;
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuMemsetD16Async(CUdeviceptr, unsigned short, size_t, CUstream) {
  if (const CUresult counted = Counted(__func__)) return counted;
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuMemsetD32Async(CUdeviceptr, unsigned int, size_t, CUstream) {
  if (const CUresult counted = Counted(__func__)) return counted;
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuStreamCreate(CUstream* stream, unsigned int) {
  if (const CUresult counted = Counted(__func__)) return counted;
  *stream = Handle<CUstream>(0x5000);
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuStreamDestroy_v2(CUstream) {
  if (const CUresult counted = Counted(__func__)) return counted;
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuStreamSynchronize(CUstream) {
  if (const CUresult counted = Counted(__func__)) return counted;
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuStreamQuery(CUstream) {
  if (const CUresult counted = Counted(__func__)) return counted;
  return CUDA_SUCCESS;
}
// The fake's work completes as it is queued, so the host function runs at once.
FAKE_API CUresult cuLaunchHostFunc(CUstream, CUhostFn fn, void* user_data) {
  if (const CUresult counted = Counted(__func__)) return counted;
  fn(user_data);
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuStreamWaitEvent(CUstream, CUevent, unsigned int) {
  if (const CUresult counted = Counted(__func__)) return counted;
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuEventCreate(CUevent* event, unsigned int) {
  if (const CUresult counted = Counted(__func__)) return counted;
  *event = Handle<CUevent>(0xE0);
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuEventDestroy_v2(CUevent) {
  if (const CUresult counted = Counted(__func__)) return counted;
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuEventRecord(CUevent, CUstream) {
  if (const CUresult counted = Counted(__func__)) return counted;
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuEventQuery(CUevent) {
  if (const CUresult counted = Counted(__func__)) return counted;
  return Injected("cuEventQuery");
}
FAKE_API CUresult cuEventSynchronize(CUevent) {
  if (const CUresult counted = Counted(__func__)) return counted;
  return Injected("cuEventSynchronize");
}
// The backend resolves this one by its unversioned name (cuda.h renames it for CUDA 13).
#undef cuEventElapsedTime
FAKE_API CUresult cuEventElapsedTime(float* ms, CUevent, CUevent) {
  if (const CUresult counted = Counted(__func__)) return counted;
  *ms = 0.0f;
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuModuleLoadDataEx(CUmodule* module, const void*, unsigned int, CUjit_option*,
                                     void**) {
  if (const CUresult counted = Counted(__func__)) return counted;
  *module = Handle<CUmodule>(0x300);
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuModuleUnload(CUmodule) {
  if (const CUresult counted = Counted(__func__)) return counted;
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuModuleGetFunction(CUfunction* function, CUmodule, const char*) {
  if (const CUresult counted = Counted(__func__)) return counted;
  *function = Handle<CUfunction>(0xF00);
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuFuncGetAttribute(int* value, CUfunction_attribute attribute, CUfunction) {
  if (const CUresult counted = Counted(__func__)) return counted;
  *value = attribute == CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK ? 1024 : 0;
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuFuncSetAttribute(CUfunction, CUfunction_attribute, int) {
  if (const CUresult counted = Counted(__func__)) return counted;
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuFuncGetParamInfo(CUfunction, size_t index, size_t* offset, size_t* size) {
  if (const CUresult counted = Counted(__func__)) return counted;
  if (index >= porta::cuda::fake::kParamCount) return CUDA_ERROR_INVALID_VALUE;
  *offset = index * 8;
  *size = porta::cuda::fake::kParamSizes[index];
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuLaunchKernel(CUfunction, unsigned int, unsigned int, unsigned int, unsigned int,
                                 unsigned int, unsigned int, unsigned int, CUstream, void**,
                                 void**) {
  if (const CUresult counted = Counted(__func__)) return counted;
  return CUDA_SUCCESS;
}

#ifndef PORTA_FAKE_CUDA_NO_GRAPHS

namespace {

std::vector<std::vector<unsigned char>> ParamBytes(void** params) {
  std::vector<std::vector<unsigned char>> bytes;
  for (size_t i = 0; i < porta::cuda::fake::kParamCount; ++i) {
    const auto* p = static_cast<const unsigned char*>(params[i]);
    bytes.emplace_back(p, p + porta::cuda::fake::kParamSizes[i]);
  }
  return bytes;
}

CUresult AddNode(CUgraphNode* out, CUgraph graph, const CUgraphNode* dependencies, size_t count,
                 Node node) {
  node.graph = graph;
  node.dependencies.assign(dependencies, dependencies + count);
  State& state = Fake();
  state.nodes.push_back(std::move(node));
  *out = Handle<CUgraphNode>(state.nodes.size());
  return CUDA_SUCCESS;
}

}  // namespace

FAKE_API CUresult cuGraphCreate(CUgraph* graph, unsigned int) {
  if (const CUresult counted = Counted(__func__)) return counted;
  if (const CUresult injected = Injected("cuGraphCreate")) return injected;
  *graph = Handle<CUgraph>(0x6000 + ++Fake().graphs_created);
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuGraphDestroy(CUgraph) {
  if (const CUresult counted = Counted(__func__)) return counted;
  ++Fake().graphs_destroyed;
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuGraphAddKernelNode_v2(CUgraphNode* out, CUgraph graph,
                                          const CUgraphNode* dependencies, size_t count,
                                          const CUDA_KERNEL_NODE_PARAMS* params) {
  if (const CUresult counted = Counted(__func__)) return counted;
  if (const CUresult injected = Injected("cuGraphAddKernelNode")) return injected;
  Node node;
  node.kind = NodeKind::kKernel;
  node.kernel = *params;
  node.kernel.kernelParams = nullptr;
  node.params = ParamBytes(params->kernelParams);
  return AddNode(out, graph, dependencies, count, std::move(node));
}
FAKE_API CUresult cuGraphAddMemcpyNode(CUgraphNode* out, CUgraph graph,
                                       const CUgraphNode* dependencies, size_t count,
                                       const CUDA_MEMCPY3D* copy, CUcontext context) {
  if (const CUresult counted = Counted(__func__)) return counted;
  if (const CUresult injected = Injected("cuGraphAddMemcpyNode")) return injected;
  Node node;
  node.kind = NodeKind::kMemcpy;
  node.copy = *copy;
  node.context = context;
  return AddNode(out, graph, dependencies, count, std::move(node));
}
FAKE_API CUresult cuGraphAddMemsetNode(CUgraphNode* out, CUgraph graph,
                                       const CUgraphNode* dependencies, size_t count,
                                       const CUDA_MEMSET_NODE_PARAMS* fill, CUcontext context) {
  if (const CUresult counted = Counted(__func__)) return counted;
  if (const CUresult injected = Injected("cuGraphAddMemsetNode")) return injected;
  Node node;
  node.kind = NodeKind::kMemset;
  node.fill = *fill;
  node.context = context;
  return AddNode(out, graph, dependencies, count, std::move(node));
}
FAKE_API CUresult cuGraphInstantiateWithFlags(CUgraphExec* exec, CUgraph graph,
                                              unsigned long long) {
  if (const CUresult counted = Counted(__func__)) return counted;
  if (const CUresult injected = Injected("cuGraphInstantiateWithFlags")) return injected;
  ++Fake().execs_instantiated;
  *exec = Handle<CUgraphExec>(reinterpret_cast<uintptr_t>(graph) + 0x1000);
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuGraphLaunch(CUgraphExec exec, CUstream stream) {
  if (const CUresult counted = Counted(__func__)) return counted;
  if (const CUresult injected = Injected("cuGraphLaunch")) return injected;
  Fake().launches.emplace_back(exec, stream);
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuGraphExecKernelNodeSetParams_v2(CUgraphExec, CUgraphNode node,
                                                    const CUDA_KERNEL_NODE_PARAMS* params) {
  if (const CUresult counted = Counted(__func__)) return counted;
  if (const CUresult injected = Injected("cuGraphExecKernelNodeSetParams")) return injected;
  Fake().updates.emplace_back(node, ParamBytes(params->kernelParams));
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuGraphExecDestroy(CUgraphExec) {
  if (const CUresult counted = Counted(__func__)) return counted;
  ++Fake().execs_destroyed;
  return CUDA_SUCCESS;
}

#endif  // PORTA_FAKE_CUDA_NO_GRAPHS
