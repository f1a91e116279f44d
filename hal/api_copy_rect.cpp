// Public API: the strided (2D and 3D) copies. Validates the box on each side, then queues it as
// contiguous runs through the 1D copy machinery of hal/copy.cpp.
#include <cstddef>
#include <cstdint>

#include "hal/copy.h"
#include "hal/objects.h"

using porta::hal::Buffer;
using porta::hal::CheckEitherOnStreamDevice;
using porta::hal::CheckOnStreamDevice;
using porta::hal::CopyRun;
using porta::hal::CopyRuns;
using porta::hal::Fail;
using porta::hal::Lookup;
using porta::hal::Ref;
using porta::hal::Stream;

namespace {

using ull = unsigned long long;

porta_status_t CheckRegion(const char* fn, const porta_copy_region_t* region) {
  if (region == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, fn, "region is NULL");
  if (region->struct_size < sizeof(porta_copy_region_t)) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, fn,
                "region->struct_size is %zu; set it to sizeof(porta_copy_region_t) (%zu), as "
                "PORTA_COPY_REGION_INIT does",
                region->struct_size, sizeof(porta_copy_region_t));
  }
  return PORTA_OK;
}

bool Empty(const porta_copy_region_t& region) {
  return region.width_bytes == 0 || region.height == 0 || region.depth == 0;
}

// One side of a box: "src" or "dst" with its offset and pitches.
struct Side {
  const char* name;
  uint64_t offset;
  uint64_t row_pitch;
  uint64_t slice_pitch;
};

Side SrcSide(const porta_copy_region_t& r) {
  return Side{"src", r.src_offset, r.src_row_pitch, r.src_slice_pitch};
}
Side DstSide(const porta_copy_region_t& r) {
  return Side{"dst", r.dst_offset, r.dst_row_pitch, r.dst_slice_pitch};
}

// Checks that the pitches of |side| keep the box's rows and slices apart, and writes where the
// box ends on that side: one past its last byte (the offset for an empty box).
porta_status_t SideEnd(const char* fn, const porta_copy_region_t& r, const Side& side,
                       uint64_t* out_end) {
  if (r.height > 1 && side.row_pitch < r.width_bytes) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, fn,
                "region->%s_row_pitch (%llu) is smaller than region->width_bytes (%llu), so the "
                "rows would overlap",
                side.name, ull{side.row_pitch}, ull{r.width_bytes});
  }
  if (r.depth > 1 && r.height > 1) {
    uint64_t slice_bytes = 0;
    if (__builtin_mul_overflow(side.row_pitch, r.height, &slice_bytes) ||
        side.slice_pitch < slice_bytes) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT, fn,
                  "region->%s_slice_pitch (%llu) is smaller than region->%s_row_pitch (%llu) * "
                  "region->height (%llu), so the slices would overlap",
                  side.name, ull{side.slice_pitch}, side.name, ull{side.row_pitch}, ull{r.height});
    }
  }
  if (r.depth > 1 && r.height <= 1 && side.slice_pitch < r.width_bytes) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, fn,
                "region->%s_slice_pitch (%llu) is smaller than region->width_bytes (%llu) in a "
                "box of one row per slice, so the slices would overlap",
                side.name, ull{side.slice_pitch}, ull{r.width_bytes});
  }
  if (Empty(r)) {
    *out_end = side.offset;
    return PORTA_OK;
  }
  uint64_t slices = 0, rows = 0, end = 0;
  if (__builtin_mul_overflow(r.depth - 1, side.slice_pitch, &slices) ||
      __builtin_mul_overflow(r.height - 1, side.row_pitch, &rows) ||
      __builtin_add_overflow(side.offset, slices, &end) ||
      __builtin_add_overflow(end, rows, &end) || __builtin_add_overflow(end, r.width_bytes, &end)) {
    return Fail(PORTA_ERROR_OUT_OF_RANGE, fn,
                "the %s box does not fit in 64 bits: region->%s_offset (%llu) + (depth - 1) * "
                "region->%s_slice_pitch + (height - 1) * region->%s_row_pitch + width_bytes "
                "overflows",
                side.name, side.name, ull{side.offset}, side.name, side.name);
  }
  *out_end = end;
  return PORTA_OK;
}

// Checks that the box of |side|, ending at |end|, lies inside |buffer|.
porta_status_t CheckBufferEnd(const char* fn, const Side& side, const Buffer& buffer,
                              uint64_t end) {
  if (end > buffer.size) {
    return Fail(PORTA_ERROR_OUT_OF_RANGE, fn,
                "the %s box (region->%s_offset %llu) ends at byte %llu, beyond %s's %llu bytes",
                side.name, side.name, ull{side.offset}, ull{end}, side.name, ull{buffer.size});
  }
  return PORTA_OK;
}

// Checks that the box of |side|, ending |end| bytes past host pointer |host|, stays inside the
// address space.
porta_status_t CheckHostEnd(const char* fn, const Side& side, const void* host, uint64_t end) {
  if (end > UINTPTR_MAX - reinterpret_cast<uintptr_t>(host)) {
    return Fail(PORTA_ERROR_OUT_OF_RANGE, fn,
                "the %s box (region->%s_offset %llu) ends %llu bytes past %s (%p), beyond the "
                "address space",
                side.name, side.name, ull{side.offset}, ull{end}, side.name, host);
  }
  return PORTA_OK;
}

// Validates a copy between host memory and a buffer: the region, the box's pitches on both
// sides, and its ends in the buffer and in the address space.
porta_status_t CheckHostCopy(const char* fn, const porta_copy_region_t* region, const Side& host,
                             const void* host_ptr, const Side& device, const Buffer& buffer) {
  porta_status_t status = PORTA_OK;
  uint64_t host_end = 0, device_end = 0;
  if ((status = SideEnd(fn, *region, host, &host_end)) != PORTA_OK) return status;
  if ((status = SideEnd(fn, *region, device, &device_end)) != PORTA_OK) return status;
  if ((status = CheckHostEnd(fn, host, host_ptr, host_end)) != PORTA_OK) return status;
  return CheckBufferEnd(fn, device, buffer, device_end);
}

}  // namespace

extern "C" {

PORTA_API porta_status_t porta_copy_rect_host_to_device(porta_stream_t stream, porta_buffer_t dst,
                                                        const void* src,
                                                        const porta_copy_region_t* region) try {
  constexpr const char* kFn = "porta_copy_rect_host_to_device";
  porta_status_t status;
  Ref<Stream> s = Lookup<Stream>(stream, kFn, "stream", &status);
  if (!s) return status;
  Ref<Buffer> d = Lookup<Buffer>(dst, kFn, "dst", &status);
  if (!d) return status;
  if (src == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "src is NULL");
  if ((status = CheckRegion(kFn, region)) != PORTA_OK) return status;
  if ((status = CheckOnStreamDevice(kFn, "dst", *d, *s)) != PORTA_OK) return status;
  status = CheckHostCopy(kFn, region, SrcSide(*region), src, DstSide(*region), *d);
  if (status != PORTA_OK || Empty(*region)) return status;
  return porta::hal::QueueHostToDevice(kFn, *s, d, static_cast<const uint8_t*>(src),
                                       CopyRuns::Box(*region));
} catch (...) {
  return porta::hal::ExceptionStatus("porta_copy_rect_host_to_device");
}

PORTA_API porta_status_t porta_copy_rect_device_to_host(porta_stream_t stream, void* dst,
                                                        porta_buffer_t src,
                                                        const porta_copy_region_t* region) try {
  constexpr const char* kFn = "porta_copy_rect_device_to_host";
  porta_status_t status;
  Ref<Stream> s = Lookup<Stream>(stream, kFn, "stream", &status);
  if (!s) return status;
  Ref<Buffer> b = Lookup<Buffer>(src, kFn, "src", &status);
  if (!b) return status;
  if (dst == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "dst is NULL");
  if ((status = CheckRegion(kFn, region)) != PORTA_OK) return status;
  if ((status = CheckOnStreamDevice(kFn, "src", *b, *s)) != PORTA_OK) return status;
  status = CheckHostCopy(kFn, region, DstSide(*region), dst, SrcSide(*region), *b);
  if (status != PORTA_OK || Empty(*region)) return status;
  return porta::hal::QueueDeviceToHost(kFn, *s, static_cast<uint8_t*>(dst), b,
                                       CopyRuns::Box(*region));
} catch (...) {
  return porta::hal::ExceptionStatus("porta_copy_rect_device_to_host");
}

PORTA_API porta_status_t porta_copy_rect_device_to_device(porta_stream_t stream, porta_buffer_t dst,
                                                          porta_buffer_t src,
                                                          const porta_copy_region_t* region) try {
  constexpr const char* kFn = "porta_copy_rect_device_to_device";
  porta_status_t status;
  Ref<Stream> s = Lookup<Stream>(stream, kFn, "stream", &status);
  if (!s) return status;
  Ref<Buffer> d = Lookup<Buffer>(dst, kFn, "dst", &status);
  if (!d) return status;
  Ref<Buffer> b = Lookup<Buffer>(src, kFn, "src", &status);
  if (!b) return status;
  if ((status = CheckRegion(kFn, region)) != PORTA_OK) return status;
  const Side src_side = SrcSide(*region), dst_side = DstSide(*region);
  uint64_t src_end = 0, dst_end = 0;
  if ((status = SideEnd(kFn, *region, src_side, &src_end)) != PORTA_OK) return status;
  if ((status = SideEnd(kFn, *region, dst_side, &dst_end)) != PORTA_OK) return status;
  if ((status = CheckBufferEnd(kFn, dst_side, *d, dst_end)) != PORTA_OK) return status;
  if ((status = CheckBufferEnd(kFn, src_side, *b, src_end)) != PORTA_OK) return status;
  if ((status = CheckEitherOnStreamDevice(kFn, *d, *b, *s)) != PORTA_OK) return status;
  if (Empty(*region)) return PORTA_OK;
  const CopyRuns runs = CopyRuns::Box(*region);
  CopyRun src_run, dst_run;
  if (d.get() == b.get() && runs.FindOverlap(&src_run, &dst_run)) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn,
                "src and dst are the same buffer and the boxes share bytes: src bytes [%llu, "
                "+%llu) overlap dst bytes [%llu, +%llu)",
                ull{src_run.src_offset}, ull{src_run.size}, ull{dst_run.dst_offset},
                ull{dst_run.size});
  }
  return porta::hal::QueueDeviceToDevice(kFn, *s, d, b, runs);
} catch (...) {
  return porta::hal::ExceptionStatus("porta_copy_rect_device_to_device");
}

}  // extern "C"
