// Launch planners one op front end lends to others.
#ifndef PORTA_KERNELS_OPS_PLANNERS_H_
#define PORTA_KERNELS_OPS_PLANNERS_H_

#include <vector>

#include "kernels/core/launch.h"

namespace porta::ops {

// Plans the copy of |src| into |dst| (same shape): bit-exact when the dtypes are equal, a
// conversion otherwise. Fails when |dst| broadcasts (a stride-0 dimension of size > 1).
porta_status_t PlanCopy(Context& context, const View& src, const View& dst,
                        std::vector<KernelLaunch>* launches);

// Packs views into one workspace block: Place returns the byte offset (256-byte aligned) of a
// region of |bytes|.
class WorkspaceLayout {
 public:
  uint64_t Place(uint64_t bytes) {
    const uint64_t offset = (size_ + 255) / 256 * 256;
    size_ = offset + bytes;
    return offset;
  }
  uint64_t size() const { return size_; }

 private:
  uint64_t size_ = 0;
};

// A contiguous view of |like|'s shape and dtype at byte |offset| of |buffer|.
View ContiguousView(const View& like, porta_buffer_t buffer, uint64_t byte_offset,
                    const char* name);

}  // namespace porta::ops

#endif  // PORTA_KERNELS_OPS_PLANNERS_H_
