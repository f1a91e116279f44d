// What the fake CUDA driver (fake_cuda_driver.cpp, a test-only stand-in for libcuda.so.1 with one
// device and one kind of kernel) records of the graph calls it receives, so that the CUDA
// backend's native graphs can be checked on machines without a GPU.
#ifndef PORTA_BACKENDS_CUDA_FAKE_CUDA_DRIVER_H_
#define PORTA_BACKENDS_CUDA_FAKE_CUDA_DRIVER_H_

#include <cuda.h>

#include <string>
#include <utility>
#include <vector>

namespace porta::cuda::fake {

// Every kernel of the fake driver takes (pointer, 32-bit scalar, pointer).
inline constexpr size_t kParamSizes[] = {8, 4, 8};
inline constexpr size_t kParamCount = 3;

enum class NodeKind { kKernel, kMemcpy, kMemset };

struct Node {
  NodeKind kind = NodeKind::kKernel;
  CUgraph graph = nullptr;
  std::vector<CUgraphNode> dependencies;
  CUDA_KERNEL_NODE_PARAMS kernel = {};  // kernelParams is not kept: see |params|
  std::vector<std::vector<unsigned char>> params;
  CUDA_MEMCPY3D copy = {};
  CUDA_MEMSET_NODE_PARAMS fill = {};
  CUcontext context = nullptr;
};

struct State {
  // Node handle i + 1 is nodes[i].
  std::vector<Node> nodes;
  int graphs_created = 0;
  int graphs_destroyed = 0;
  int execs_instantiated = 0;
  int execs_destroyed = 0;
  std::vector<std::pair<CUgraphExec, CUstream>> launches;
  // Each kernel node update: the node and the parameter bytes it was given.
  std::vector<std::pair<CUgraphNode, std::vector<std::vector<unsigned char>>>> updates;
  // Host ranges registered with cuMemHostRegister and not unregistered yet, by address.
  std::vector<std::pair<void*, size_t>> host_registered;
  int host_unregistered = 0;
  // The next call of the function named |fail_call| returns |fail_result| (then this clears).
  std::string fail_call;
  CUresult fail_result = CUDA_SUCCESS;
  // Walks over every call (tests/call_fault_test.cpp): while |countdown| is not negative, each
  // call of an exported function (the error-text ones aside) counts it down, and the call that
  // takes it below zero returns |countdown_result|, counts in |calls| and is named in
  // |countdown_call|.
  long long countdown = -1;
  CUresult countdown_result = CUDA_ERROR_UNKNOWN;
  std::string countdown_call;
  long long calls = 0;
};

// Exported by the fake driver library as porta_fake_cuda_state.
using StateFn = State* (*)();

}  // namespace porta::cuda::fake

#endif  // PORTA_BACKENDS_CUDA_FAKE_CUDA_DRIVER_H_
