// Host-format versions of the CTS test kernels (contract in ../README.md). Each function handles
// one work-group. Arguments are checked before any access: a malformed launch returns a nonzero
// code, which the runtime turns into a device fault, instead of touching memory out of bounds.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <span>
#include <thread>

#include "conformance/kernels/kernel_registry.h"
#include "porta/porta.h"

namespace porta_cts::internal {
namespace {

// Fault codes, distinct so a failing test's message says which check tripped.
constexpr int32_t kBadArgCount = 1;
constexpr int32_t kBadScalar = 2;
constexpr int32_t kBufferTooSmall = 3;
constexpr int32_t kBadBlock = 4;
constexpr int32_t kBadLocalMemory = 5;
// The value the README promises the `fault` kernel reports.
constexpr int32_t kFaultKernelCode = 7;

bool ReadU32(const porta_host_arg_t& arg, uint32_t* value) {
  if (arg.ptr == nullptr || arg.size != sizeof(uint32_t)) return false;
  std::memcpy(value, arg.ptr, sizeof(uint32_t));
  return true;
}

bool ReadF32(const porta_host_arg_t& arg, float* value) {
  if (arg.ptr == nullptr || arg.size != sizeof(float)) return false;
  std::memcpy(value, arg.ptr, sizeof(float));
  return true;
}

// True when element |index| of a buffer of 4-byte values lies inside the argument.
bool Fits(const porta_host_arg_t& arg, uint64_t index) {
  return arg.ptr != nullptr && (index + 1) * 4u <= arg.size;
}

uint64_t GlobalX(const porta_host_group_t* group, uint32_t local_x) {
  return uint64_t{group->group_id[0]} * group->group_size[0] + local_x;
}

int32_t VectorAdd(const porta_host_group_t* group) {
  if (group->arg_count != 4) return kBadArgCount;
  uint32_t n = 0;
  if (!ReadU32(group->args[3], &n)) return kBadScalar;
  const porta_host_arg_t& a = group->args[0];
  const porta_host_arg_t& b = group->args[1];
  const porta_host_arg_t& c = group->args[2];
  for (uint32_t x = 0; x < group->group_size[0]; ++x) {
    const uint64_t i = GlobalX(group, x);
    if (i >= n) break;
    if (!Fits(a, i) || !Fits(b, i) || !Fits(c, i)) return kBufferTooSmall;
    static_cast<float*>(c.ptr)[i] =
        static_cast<const float*>(a.ptr)[i] + static_cast<const float*>(b.ptr)[i];
  }
  return 0;
}

int32_t ScaleAdd(const porta_host_group_t* group) {
  if (group->arg_count != 4) return kBadArgCount;
  float alpha = 0.0f;
  uint32_t n = 0;
  if (!ReadF32(group->args[2], &alpha) || !ReadU32(group->args[3], &n)) return kBadScalar;
  const porta_host_arg_t& y = group->args[0];
  const porta_host_arg_t& x = group->args[1];
  for (uint32_t lx = 0; lx < group->group_size[0]; ++lx) {
    const uint64_t i = GlobalX(group, lx);
    if (i >= n) break;
    if (!Fits(y, i) || !Fits(x, i)) return kBufferTooSmall;
    float* out = static_cast<float*>(y.ptr);
    out[i] = alpha * static_cast<const float*>(x.ptr)[i] + out[i];
  }
  return 0;
}

// Tree reduction over the work-group in dynamic local memory, in the same order a GPU kernel
// uses, so the host format checks the same numerical behaviour.
int32_t ReduceSum(const porta_host_group_t* group) {
  if (group->arg_count != 3) return kBadArgCount;
  uint32_t n = 0;
  if (!ReadU32(group->args[2], &n)) return kBadScalar;
  const uint32_t block = group->group_size[0];
  if (block == 0 || (block & (block - 1)) != 0) return kBadBlock;
  if (group->local_memory == nullptr || group->local_memory_bytes < uint64_t{block} * 4u) {
    return kBadLocalMemory;
  }
  const porta_host_arg_t& in = group->args[0];
  const porta_host_arg_t& out = group->args[1];
  float* partial = static_cast<float*>(group->local_memory);
  for (uint32_t x = 0; x < block; ++x) {
    const uint64_t i = GlobalX(group, x);
    if (i < n && !Fits(in, i)) return kBufferTooSmall;
    partial[x] = i < n ? static_cast<const float*>(in.ptr)[i] : 0.0f;
  }
  for (uint32_t stride = block / 2; stride > 0; stride /= 2) {
    for (uint32_t x = 0; x < stride; ++x) partial[x] += partial[x + stride];
  }
  if (!Fits(out, group->group_id[0])) return kBufferTooSmall;
  static_cast<float*>(out.ptr)[group->group_id[0]] = partial[0];
  return 0;
}

int32_t Index2d(const porta_host_group_t* group) {
  if (group->arg_count != 3) return kBadArgCount;
  uint32_t width = 0;
  uint32_t height = 0;
  if (!ReadU32(group->args[1], &width) || !ReadU32(group->args[2], &height)) return kBadScalar;
  const porta_host_arg_t& out = group->args[0];
  for (uint32_t ly = 0; ly < group->group_size[1]; ++ly) {
    const uint64_t y = uint64_t{group->group_id[1]} * group->group_size[1] + ly;
    if (y >= height) break;
    for (uint32_t lx = 0; lx < group->group_size[0]; ++lx) {
      const uint64_t x = GlobalX(group, lx);
      if (x >= width) break;
      const uint64_t index = y * width + x;
      if (!Fits(out, index)) return kBufferTooSmall;
      static_cast<uint32_t*>(out.ptr)[index] = static_cast<uint32_t>((y << 16) | x);
    }
  }
  return 0;
}

// Spins (sleeping between reads, so a held stream does not take a core from the test) until the
// host writes a nonzero words[0] or |rounds| rounds have passed; words[1] reports the state
// (1 spinning, 2 opened, 3 timed out) as on every other format. The host writes the words while
// the kernel reads them, so both sides go through atomics.
int32_t Gate(const porta_host_group_t* group) {
  if (group->arg_count != 2) return kBadArgCount;
  uint32_t rounds = 0;
  if (!ReadU32(group->args[1], &rounds)) return kBadScalar;
  if (group->group_id[0] != 0 || group->group_id[1] != 0 || group->group_id[2] != 0) return 0;
  const porta_host_arg_t& buffer = group->args[0];
  if (!Fits(buffer, 1)) return kBufferTooSmall;
  uint32_t* words = static_cast<uint32_t*>(buffer.ptr);
  std::atomic_ref<uint32_t> open(words[0]);
  std::atomic_ref<uint32_t> state(words[1]);
  state.store(1);
  bool opened = open.load() != 0;
  for (uint32_t round = 0; round < rounds && !opened; ++round) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
    opened = open.load() != 0;
  }
  state.store(opened ? 2 : 3);
  return 0;
}

int32_t Fault(const porta_host_group_t* group) {
  if (group->arg_count != 1) return kBadArgCount;
  const bool first_group =
      group->group_id[0] == 0 && group->group_id[1] == 0 && group->group_id[2] == 0;
  return first_group ? kFaultKernelCode : 0;
}

constexpr porta_host_kernel_t kHostTestKernels[] = {
    {"vector_add", VectorAdd}, {"scale_add", ScaleAdd}, {"reduce_sum", ReduceSum},
    {"index_2d", Index2d},     {"gate", Gate},          {"fault", Fault},
};

}  // namespace

std::span<const porta_host_kernel_t> HostTestKernels() {
  return kHostTestKernels;
}

}  // namespace porta_cts::internal
