// Checked tensor views and the shape arithmetic the op front ends share: validation against the
// buffer and the 32-bit index limit, NumPy broadcasting, dimension coalescing, and splitting an
// index space the kernels cannot take in one launch (more than 4 dimensions) into launches.
#ifndef PORTA_KERNELS_CORE_TENSOR_H_
#define PORTA_KERNELS_CORE_TENSOR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "porta/porta_ops.h"

namespace porta::ops {

struct Context;

// True for Q4_0, Q4_1 and Q8_0 (32 elements per block).
bool IsBlockDtype(porta_dtype_t dtype);

// A tensor that passed CheckTensor. Offsets are in elements of |dtype|, except for the
// block-quantized types, whose offset is in bytes (an element has no address of its own there).
struct View {
  const char* name = "";
  porta_buffer_t buffer = nullptr;
  porta_dtype_t dtype = PORTA_DTYPE_F32;
  uint32_t rank = 0;
  int64_t shape[PORTA_TENSOR_MAX_RANK] = {};
  int64_t strides[PORTA_TENSOR_MAX_RANK] = {};
  uint64_t offset = 0;
  uint64_t numel = 1;
  // Bytes [byte_begin, byte_end) of the buffer the view can address; empty when numel == 0.
  uint64_t byte_begin = 0;
  uint64_t byte_end = 0;

  int64_t dim(int32_t axis) const {
    return shape[axis < 0 ? axis + static_cast<int32_t>(rank) : axis];
  }
};

// Checks |tensor| (called |name| in messages) for use on |context|'s device: non-NULL, known and
// accepted dtype (i8 is reserved), rank <= 8, non-negative shape and strides, a live buffer of
// the context's device, an offset that is a multiple of the element size, every addressable
// element inside the buffer and below the 32-bit index limit. A block-quantized tensor follows
// porta_ops.h's tensor rule instead (rank >= 1, last stride 1 and size a multiple of 32, other
// strides multiples of 32, an even byte offset) and its furthest byte must lie below 2^32.
porta_status_t CheckTensor(const Context& context, const porta_tensor_t* tensor, const char* name,
                           View* out);

// As CheckTensor, but NULL is allowed and leaves *present false.
porta_status_t CheckOptionalTensor(const Context& context, const porta_tensor_t* tensor,
                                   const char* name, View* out, bool* present);

// "[2, 3, 4]".
std::string ShapeText(const View& view);
std::string ShapeText(const int64_t* shape, uint32_t rank);

// Fails unless |view| has exactly |shape| (|rank| dimensions); |what| names the expectation in
// the message ("x's shape").
porta_status_t RequireShape(const View& view, const int64_t* shape, uint32_t rank,
                            const char* what);

// Writes |in|'s strides aligned to a |rank|-dimensional |shape| by NumPy's rule (dimensions
// aligned at the end, missing or size-1 dimensions broadcast with stride 0). Fails naming |in|
// and the dimension when |in| does not broadcast to |shape|.
porta_status_t BroadcastStrides(const View& in, const int64_t* shape, uint32_t rank,
                                int64_t* strides);

// Fails when |out| and |in| share bytes without being the identical view (in-place use of the
// identical view is allowed only where |identical_ok|).
porta_status_t CheckOverlap(const View& out, const View& in, bool identical_ok);

// An index space shared by several tensors, after dropping size-1 dimensions and merging
// dimensions that are contiguous in every tensor.
struct Coalesced {
  uint32_t rank = 0;
  int64_t shape[PORTA_TENSOR_MAX_RANK] = {};
  // strides[t][d] of tensor t.
  std::vector<std::vector<int64_t>> strides;
};

// Coalesces |rank| dimensions of |shape| with |count| stride arrays.
Coalesced Coalesce(const int64_t* shape, uint32_t rank, const int64_t* const* strides,
                   uint32_t count);

// Splits a coalesced space into pieces of at most |max_rank| trailing dimensions: calls
// |fn(offsets)| once per index of the leading dimensions, with each tensor's element offset of
// that index. |inner| receives the trailing shape (padded at the front with 1 to max_rank) and
// |inner_strides[t]| the tensors' trailing strides (padded with 0).
struct Split {
  int64_t inner_shape[4] = {1, 1, 1, 1};
  std::vector<std::vector<int64_t>> inner_strides;
  // One entry per launch: each tensor's added element offset.
  std::vector<std::vector<uint64_t>> offsets;
};
Split SplitSpace(const Coalesced& space, uint32_t max_rank);

// Largest power of two <= |value| (|value| >= 1).
uint32_t FloorPow2(uint64_t value);

// Launch geometry of a "linear" kernel (kernels/common/params.h): |groups| work-groups as a 2D
// grid. Fails when the device's grid limits cannot hold them.
porta_status_t LinearGrid(const Context& context, uint64_t groups, uint32_t grid[3]);

}  // namespace porta::ops

#endif  // PORTA_KERNELS_CORE_TENSOR_H_
