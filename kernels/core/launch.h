// What every op front end does after checking its tensors: describe its kernel launches, get
// the kernels (building modules on first use), and only then enqueue, so that a failure enqueues
// nothing.
#ifndef PORTA_KERNELS_CORE_LAUNCH_H_
#define PORTA_KERNELS_CORE_LAUNCH_H_

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <vector>

#include "kernels/core/context.h"
#include "kernels/core/tensor.h"
#include "kernels/core/tuning.h"

namespace porta::ops {

struct KernelLaunch {
  KernelLaunch(const Context& context, Family kernel_family);

  // Binds |buffer| as the next buffer argument, for a tensor whose lowest element the launch
  // reaches is |element| (in elements of |dtype|); returns the element offset the kernel's
  // parameter block must carry. Vulkan binds a storage buffer with a range the device may cap
  // (lavapipe: 128 MiB), so there the binding starts at the 256-byte boundary below the tensor
  // (256 is the largest minStorageBufferOffsetAlignment Vulkan allows) and a tensor deep inside
  // a large buffer stays reachable. Elsewhere the binding starts at 0: an OpenCL sub-buffer costs
  // an object per launch, and a pointer offset buys nothing.
  uint32_t Bind(porta_buffer_t buffer, porta_dtype_t dtype, uint64_t element);

  Family family = Family::kEw;
  // Tuning parameters (the matmul tile selects the kernel).
  Params params;
  // The 16-bit-storage build of the kernel (spirv-shader).
  bool wide = false;
  // Buffer arguments and their byte offsets.
  std::vector<porta_buffer_t> buffers;
  std::vector<uint64_t> buffer_offsets;
  // Rebase bindings (Vulkan; see Bind).
  bool rebase = false;
  std::vector<uint8_t> param_bytes;
  uint32_t grid[3] = {1, 1, 1};
  uint32_t block[3] = {1, 1, 1};

  template <typename P>
  void SetParams(const P& block_params) {
    static_assert(sizeof(P) <= 128, "parameter blocks must fit Vulkan's 128-byte push constants");
    param_bytes.resize(sizeof(P));
    std::memcpy(param_bytes.data(), &block_params, sizeof(P));
  }
};

// Checks the context handle and that |stream| is a stream of the context's device.
porta_status_t BeginOp(porta_ops_context_t handle, porta_stream_t stream, Context** out);

// Fails unless |desc| is non-NULL with a struct_size covering the whole descriptor; |init| names
// the initializer macro for the message.
porta_status_t CheckDescSize(const void* desc, size_t struct_size, size_t expected,
                             const char* init);

template <typename Desc>
porta_status_t CheckDesc(const Desc* desc, const char* init) {
  return CheckDescSize(desc, desc != nullptr ? desc->struct_size : 0, sizeof(Desc), init);
}

// Gets every launch's kernel, then enqueues them in order on |stream|.
porta_status_t EnqueueAll(Context& context, porta_stream_t stream,
                          const std::vector<KernelLaunch>& launches);

// A workspace buffer for the duration of one op call; given back (stream-ordered) on scope exit.
class ScopedWorkspace {
 public:
  ScopedWorkspace(Context& context, porta_stream_t stream) : context_(context), stream_(stream) {}
  ~ScopedWorkspace() {
    if (buffer_ != nullptr) ReleaseWorkspace(stream_, buffer_);
  }
  ScopedWorkspace(const ScopedWorkspace&) = delete;
  ScopedWorkspace& operator=(const ScopedWorkspace&) = delete;

  porta_status_t Acquire(uint64_t size) {
    if (buffer_ != nullptr) ReleaseWorkspace(stream_, buffer_);
    buffer_ = nullptr;
    return AcquireWorkspace(context_, stream_, size, &buffer_);
  }
  porta_buffer_t buffer() const { return buffer_; }

 private:
  Context& context_;
  porta_stream_t stream_;
  porta_buffer_t buffer_ = nullptr;
};

// True when any of |dtypes| is stored in 16 bits (selects the wide spirv-shader build).
bool AnyWide(std::initializer_list<porta_dtype_t> dtypes);

// Shape bucket of an op with |elements| output elements: "small" below 2^16, else "large".
const char* ElementBucket(uint64_t elements);

// Work-group size from a parameter set, clamped for the host (which runs a group per call).
uint32_t WorkGroup(const Params& params);

// A kernel scalar field. Every value passed fits 32 bits: CheckTensor bounds every element index
// of every tensor below 2^32, and sizes and strides follow from those indices.
inline uint32_t U32(uint64_t value) {
  return static_cast<uint32_t>(value);
}

}  // namespace porta::ops

#endif  // PORTA_KERNELS_CORE_LAUNCH_H_
