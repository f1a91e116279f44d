// What the fake HIP runtime (fake_hip_runtime.cpp, a test-only stand-in for libamdhip64 with one
// device whose kernels take three arguments) records of the graph and event calls it receives,
// so that the HIP backend's native graphs can be checked on machines without ROCm. Events
// complete only when a stream is synchronized or the test says so.
#ifndef PORTA_BACKENDS_HIP_FAKE_HIP_RUNTIME_H_
#define PORTA_BACKENDS_HIP_FAKE_HIP_RUNTIME_H_

#include <hip/hip_runtime_api.h>

#include <string>
#include <utility>
#include <vector>

namespace porta::hip::fake {

// Every kernel of the fake runtime takes (pointer, 32-bit scalar, pointer).
inline constexpr size_t kParamSizes[] = {8, 4, 8};
inline constexpr size_t kParamCount = 3;

enum class NodeKind { kKernel, kMemcpy, kMemset };

struct Node {
  NodeKind kind = NodeKind::kKernel;
  std::vector<hipGraphNode_t> dependencies;
  void* func = nullptr;
  dim3 grid;
  dim3 block;
  unsigned int shared = 0;
  std::vector<std::vector<unsigned char>> params;
  void* dst = nullptr;
  const void* src = nullptr;
  size_t count = 0;
  hipMemcpyKind copy_kind = hipMemcpyDefault;
  hipMemsetParams fill = {};
};

struct State {
  // Node handle i + 1 is nodes[i].
  std::vector<Node> nodes;
  int graphs_destroyed = 0;
  int execs_destroyed = 0;
  std::vector<std::pair<hipGraphExec_t, hipStream_t>> launches;
  std::vector<std::pair<hipEvent_t, hipStream_t>> records;
  std::vector<std::pair<hipStream_t, hipEvent_t>> waits;
  std::vector<std::pair<hipGraphNode_t, std::vector<std::vector<unsigned char>>>> updates;
  // Events recorded and not yet complete.
  std::vector<hipEvent_t> pending_events;
  // Host ranges registered with hipHostRegister and not unregistered yet, by address.
  std::vector<std::pair<void*, size_t>> host_registered;
  int host_unregistered = 0;
  // The next call of the function named |fail_call| returns |fail_result| (then this clears).
  std::string fail_call;
  hipError_t fail_result = hipSuccess;
  // Walks over every call (tests/call_fault_test.cpp): while |countdown| is not negative, each
  // call of an exported function (the error-text ones aside) counts it down, and the call that
  // takes it below zero returns |countdown_result|, counts in |calls| and is named in
  // |countdown_call|.
  long long countdown = -1;
  hipError_t countdown_result = hipErrorUnknown;
  std::string countdown_call;
  long long calls = 0;

  // Completes all recorded work, as a device catching up would.
  void CompleteAll() { pending_events.clear(); }
};

// Exported by the fake runtime as porta_fake_hip_state.
using StateFn = State* (*)();

}  // namespace porta::hip::fake

#endif  // PORTA_BACKENDS_HIP_FAKE_HIP_RUNTIME_H_
