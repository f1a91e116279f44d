// Copies inside the runtime: a copy as a list of contiguous runs (a 1D copy is one run; a strided
// box one run per row, or fewer where rows or slices follow one another on both sides), and the
// queuing of those runs through the backend's copy slots, between devices too.
#ifndef PORTA_HAL_COPY_H_
#define PORTA_HAL_COPY_H_

#include <cstdint>

#include "hal/objects.h"
#include "porta/porta.h"

namespace porta::hal {

// One contiguous piece of a copy: |size| bytes from |src_offset| to |dst_offset|.
struct CopyRun {
  uint64_t src_offset = 0;
  uint64_t dst_offset = 0;
  uint64_t size = 0;
};

// The runs of one copy, slices of rows of equal size. On each side the runs lie in increasing
// order and do not overlap one another.
class CopyRuns {
 public:
  // |size| bytes (nonzero) as one run.
  static CopyRuns Linear(uint64_t src_offset, uint64_t dst_offset, uint64_t size);
  // The box of |region|, which is not empty, whose pitches keep its rows and slices apart on each
  // side (as porta.h requires) and whose last byte on each side is within 64 bits. Rows that
  // follow one another without a gap on both sides merge into one run per slice, and such slices
  // into one run for the whole box.
  static CopyRuns Box(const porta_copy_region_t& region);

  uint64_t count() const { return rows_ * slices_; }
  uint64_t run_size() const { return size_; }
  uint64_t bytes() const { return count() * size_; }
  // Run |index| (< count()), slice by slice, row by row.
  CopyRun At(uint64_t index) const;
  // Finds a src run and a dst run that share bytes (a copy within one buffer), writing them;
  // false when no run of one side meets a run of the other.
  bool FindOverlap(CopyRun* src_run, CopyRun* dst_run) const;

 private:
  uint64_t size_ = 0;
  uint64_t rows_ = 1;
  uint64_t slices_ = 1;
  uint64_t src_offset_ = 0;
  uint64_t src_row_pitch_ = 0;
  uint64_t src_slice_pitch_ = 0;
  uint64_t dst_offset_ = 0;
  uint64_t dst_row_pitch_ = 0;
  uint64_t dst_slice_pitch_ = 0;
};

// Fails with PORTA_ERROR_INVALID_ARGUMENT, naming |arg|, unless |buffer| belongs to the stream's
// device.
porta_status_t CheckOnStreamDevice(const char* function, const char* arg, const Buffer& buffer,
                                   const Stream& stream);

// Fails with PORTA_ERROR_INVALID_ARGUMENT unless |dst| or |src| belongs to the stream's device.
porta_status_t CheckEitherOnStreamDevice(const char* function, const Buffer& dst, const Buffer& src,
                                         const Stream& stream);

// Queue validated copies on |stream| (or record them into its capture), one backend call or graph
// node per run. Host run offsets count from |src| or |dst|. When the backend fails part way, the
// runs before the failing one stay queued (see EnqueueEach).
porta_status_t QueueHostToDevice(const char* function, Stream& stream, const Ref<Buffer>& dst,
                                 const uint8_t* src, const CopyRuns& runs);
porta_status_t QueueDeviceToHost(const char* function, Stream& stream, uint8_t* dst,
                                 const Ref<Buffer>& src, const CopyRuns& runs);
// Between buffers of which at least one belongs to the stream's device, whose runs do not overlap
// (validated). Buffers of one device: the device's copy slot. Of two devices: the backend's peer
// path where it has one (not in a capture); otherwise staged through host memory, blocking until
// done.
porta_status_t QueueDeviceToDevice(const char* function, Stream& stream, const Ref<Buffer>& dst,
                                   const Ref<Buffer>& src, const CopyRuns& runs);

}  // namespace porta::hal

#endif  // PORTA_HAL_COPY_H_
