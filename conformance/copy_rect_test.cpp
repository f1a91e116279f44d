// Strided copies (porta_copy_rect_*): 2D and 3D boxes host to device, device to host and between
// buffers, with pitches wider than the rows, slice pitches wider than the slices, offsets, boxes
// whose rows or slices are contiguous (one backend copy), sub-boxes of a bigger volume, boxes
// that interleave within one buffer, empty boxes, every validation error (status and the argument
// the message names), capture and replay, and copies between two devices. Every byte of each
// destination, the gaps between rows and slices included, is checked against a host reference.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "conformance/cts.h"

namespace porta_cts {
namespace {

using GraphHandle = Handle<porta_graph_t, porta_graph_destroy>;
using ExecHandle = Handle<porta_graph_exec_t, porta_graph_exec_destroy>;

// Where one side of a box lies.
struct Layout {
  uint64_t offset = 0;
  uint64_t row_pitch = 0;
  uint64_t slice_pitch = 0;
};

// A box and the layouts of its two sides.
struct Shape {
  const char* name;
  Layout src, dst;
  uint64_t width, height, depth;
};

porta_copy_region_t Region(const Shape& shape) {
  porta_copy_region_t region = PORTA_COPY_REGION_INIT;
  region.src_offset = shape.src.offset;
  region.src_row_pitch = shape.src.row_pitch;
  region.src_slice_pitch = shape.src.slice_pitch;
  region.dst_offset = shape.dst.offset;
  region.dst_row_pitch = shape.dst.row_pitch;
  region.dst_slice_pitch = shape.dst.slice_pitch;
  region.width_bytes = shape.width;
  region.height = shape.height;
  region.depth = shape.depth;
  return region;
}

// |region| with its two layouts exchanged: the copy back.
porta_copy_region_t Swapped(const porta_copy_region_t& region) {
  porta_copy_region_t swapped = region;
  swapped.src_offset = region.dst_offset;
  swapped.src_row_pitch = region.dst_row_pitch;
  swapped.src_slice_pitch = region.dst_slice_pitch;
  swapped.dst_offset = region.src_offset;
  swapped.dst_row_pitch = region.src_row_pitch;
  swapped.dst_slice_pitch = region.src_slice_pitch;
  return swapped;
}

// Bytes a side needs: up to one past the box's last byte, plus a tail that must stay untouched.
uint64_t SideBytes(const Layout& side, const Shape& shape) {
  return side.offset + (shape.depth - 1) * side.slice_pitch + (shape.height - 1) * side.row_pitch +
         shape.width + 7;
}

// What a copy of |region| from |src| writes into |dst|, with plain loops.
void CopyOnHost(const porta_copy_region_t& region, const std::vector<uint8_t>& src,
                std::vector<uint8_t>* dst) {
  for (uint64_t z = 0; z < region.depth; ++z) {
    for (uint64_t y = 0; y < region.height; ++y) {
      for (uint64_t x = 0; x < region.width_bytes; ++x) {
        (*dst)[region.dst_offset + z * region.dst_slice_pitch + y * region.dst_row_pitch + x] =
            src[region.src_offset + z * region.src_slice_pitch + y * region.src_row_pitch + x];
      }
    }
  }
}

// The backend copies (and graph nodes) porta.h promises for |shape|: one for a box contiguous on
// both sides, one per slice where only the rows are, one per row otherwise.
uint64_t ExpectedRuns(const Shape& s) {
  const bool rows_contiguous =
      s.height == 1 || (s.src.row_pitch == s.width && s.dst.row_pitch == s.width);
  if (!rows_contiguous) return s.height * s.depth;
  const uint64_t slice = s.width * s.height;
  const bool slices_contiguous =
      s.depth == 1 || (s.src.slice_pitch == slice && s.dst.slice_pitch == slice);
  return slices_contiguous ? 1 : s.depth;
}

// Pitches wider than the rows, slice pitches wider than the slices, rows or slices contiguous on
// one side only, on both sides, a box of one row per slice, one row, one byte wide.
const Shape kShapes[] = {
    {"2d_pitched", {5, 37, 0}, {11, 53, 0}, 29, 7, 1},
    {"2d_contiguous", {0, 29, 0}, {3, 29, 0}, 29, 7, 1},
    {"2d_contiguous_src_only", {0, 29, 0}, {1, 31, 0}, 29, 7, 1},
    {"3d_pitched", {4, 17, 77}, {9, 20, 95}, 13, 4, 3},
    {"3d_contiguous_rows", {0, 13, 60}, {1, 13, 52}, 13, 4, 3},
    {"3d_contiguous", {2, 13, 52}, {0, 13, 52}, 13, 4, 3},
    {"3d_one_row_per_slice", {0, 0, 20}, {6, 0, 15}, 15, 1, 4},
    {"one_row", {3, 0, 0}, {0, 0, 0}, 64, 1, 1},
    {"one_byte_wide", {1, 3, 16}, {0, 1, 5}, 1, 5, 2},
};

class CopyRectTest : public StreamTest {
 protected:
  void Alloc(uint64_t size, BufferHandle* buffer) {
    ASSERT_PORTA_OK(porta_buffer_alloc(device_, size, PORTA_MEMORY_DEVICE, buffer->out()));
  }
  // A buffer of |size| bytes holding |bytes| (sized to match).
  void Upload(const std::vector<uint8_t>& bytes, BufferHandle* buffer) {
    Alloc(bytes.size(), buffer);
    if (HasFatalFailure()) return;
    ASSERT_PORTA_OK(
        porta_copy_host_to_device(stream_.get(), buffer->get(), 0, bytes.data(), bytes.size()));
    ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  }
  std::vector<uint8_t> Download(porta_buffer_t buffer, uint64_t size) {
    std::vector<uint8_t> bytes(size);
    EXPECT_TRUE(ReadBuffer(stream_.get(), buffer, 0, size, bytes.data()));
    return bytes;
  }
};

TEST_P(CopyRectTest, HostToDeviceMatchesTheHostReference) {
  for (const Shape& shape : kShapes) {
    SCOPED_TRACE(shape.name);
    const porta_copy_region_t region = Region(shape);
    const std::vector<uint8_t> src = RandomBytes(SideBytes(shape.src, shape), 1);
    std::vector<uint8_t> model = RandomBytes(SideBytes(shape.dst, shape), 2);
    BufferHandle dst;
    Upload(model, &dst);
    if (HasFatalFailure()) return;
    ASSERT_PORTA_OK(porta_copy_rect_host_to_device(stream_.get(), dst.get(), src.data(), &region));
    CopyOnHost(region, src, &model);
    EXPECT_TRUE(BytesEqual(Download(dst.get(), model.size()), model));
  }
}

TEST_P(CopyRectTest, DeviceToHostMatchesTheHostReference) {
  for (const Shape& shape : kShapes) {
    SCOPED_TRACE(shape.name);
    const porta_copy_region_t region = Region(shape);
    const std::vector<uint8_t> src_bytes = RandomBytes(SideBytes(shape.src, shape), 3);
    BufferHandle src;
    Upload(src_bytes, &src);
    if (HasFatalFailure()) return;
    // The gaps between the rows and slices keep what the host had there.
    std::vector<uint8_t> dst = RandomBytes(SideBytes(shape.dst, shape), 4);
    std::vector<uint8_t> model = dst;
    ASSERT_PORTA_OK(porta_copy_rect_device_to_host(stream_.get(), dst.data(), src.get(), &region));
    ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
    CopyOnHost(region, src_bytes, &model);
    EXPECT_TRUE(BytesEqual(dst, model));
  }
}

TEST_P(CopyRectTest, DeviceToDeviceMatchesTheHostReference) {
  for (const Shape& shape : kShapes) {
    SCOPED_TRACE(shape.name);
    const porta_copy_region_t region = Region(shape);
    const std::vector<uint8_t> src_bytes = RandomBytes(SideBytes(shape.src, shape), 5);
    std::vector<uint8_t> model = RandomBytes(SideBytes(shape.dst, shape), 6);
    BufferHandle src, dst;
    Upload(src_bytes, &src);
    Upload(model, &dst);
    if (HasFatalFailure()) return;
    ASSERT_PORTA_OK(porta_copy_rect_device_to_device(stream_.get(), dst.get(), src.get(), &region));
    CopyOnHost(region, src_bytes, &model);
    EXPECT_TRUE(BytesEqual(Download(dst.get(), model.size()), model));
  }
}

// A 4x3x2 sub-box at (2, 1, 1) of an 8x6x5 volume goes out packed to the host and into another
// volume at (1, 2, 0), as a framework moves a tile of a tensor.
TEST_P(CopyRectTest, SubBoxOfABiggerVolume) {
  constexpr uint64_t kW = 8, kH = 6, kD = 5;
  const std::vector<uint8_t> volume = RandomBytes(kW * kH * kD, 7);
  BufferHandle src, dst;
  Upload(volume, &src);
  std::vector<uint8_t> model = RandomBytes(kW * kH * kD, 8);
  Upload(model, &dst);
  if (HasFatalFailure()) return;
  const auto at = [&](uint64_t x, uint64_t y, uint64_t z) { return x + y * kW + z * kW * kH; };

  porta_copy_region_t out = PORTA_COPY_REGION_INIT;
  out.src_offset = at(2, 1, 1);
  out.src_row_pitch = kW;
  out.src_slice_pitch = kW * kH;
  out.dst_row_pitch = 4;
  out.dst_slice_pitch = 12;
  out.width_bytes = 4;
  out.height = 3;
  out.depth = 2;
  std::vector<uint8_t> tile(4 * 3 * 2, 0);
  ASSERT_PORTA_OK(porta_copy_rect_device_to_host(stream_.get(), tile.data(), src.get(), &out));
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  for (uint64_t z = 0; z < 2; ++z) {
    for (uint64_t y = 0; y < 3; ++y) {
      for (uint64_t x = 0; x < 4; ++x) {
        ASSERT_EQ(tile[x + y * 4 + z * 12], volume[at(2 + x, 1 + y, 1 + z)])
            << "x " << x << " y " << y << " z " << z;
      }
    }
  }

  porta_copy_region_t move = out;
  move.dst_offset = at(1, 2, 0);
  move.dst_row_pitch = kW;
  move.dst_slice_pitch = kW * kH;
  ASSERT_PORTA_OK(porta_copy_rect_device_to_device(stream_.get(), dst.get(), src.get(), &move));
  CopyOnHost(move, volume, &model);
  EXPECT_TRUE(BytesEqual(Download(dst.get(), model.size()), model));
}

// Columns of one image interleave row by row without sharing a byte: legal, as the 1D call allows
// adjacent ranges. A box that shares one byte with the other is refused, naming the overlap.
TEST_P(CopyRectTest, WithinOneBufferInterleavedBoxesCopyAndOverlappingOnesAreRefused) {
  constexpr uint64_t kPitch = 16, kRows = 8;
  std::vector<uint8_t> model = RandomBytes(kPitch * kRows, 9);
  const std::vector<uint8_t> initial = model;
  BufferHandle image;
  Upload(model, &image);
  if (HasFatalFailure()) return;
  porta_copy_region_t region = PORTA_COPY_REGION_INIT;
  region.src_offset = 0;
  region.dst_offset = 8;
  region.src_row_pitch = region.dst_row_pitch = kPitch;
  region.width_bytes = 8;
  region.height = kRows;
  ASSERT_PORTA_OK(
      porta_copy_rect_device_to_device(stream_.get(), image.get(), image.get(), &region));
  CopyOnHost(region, initial, &model);
  EXPECT_TRUE(BytesEqual(Download(image.get(), model.size()), model));

  region.dst_offset = 7;
  EXPECT_PORTA_ERROR(
      PORTA_ERROR_INVALID_ARGUMENT, "overlap",
      porta_copy_rect_device_to_device(stream_.get(), image.get(), image.get(), &region));
  // Only the src box's last row meets the dst box's first row, four rows down.
  region.src_offset = 0;
  region.dst_offset = 3 * kPitch + 4;
  region.height = 4;
  EXPECT_PORTA_ERROR(
      PORTA_ERROR_INVALID_ARGUMENT, "overlap",
      porta_copy_rect_device_to_device(stream_.get(), image.get(), image.get(), &region));
  EXPECT_TRUE(BytesEqual(Download(image.get(), model.size()), model));
}

TEST_P(CopyRectTest, EmptyBoxesAreNoOps) {
  std::vector<uint8_t> model = RandomBytes(64, 10);
  BufferHandle buffer, other;
  Upload(model, &buffer);
  Upload(model, &other);
  if (HasFatalFailure()) return;
  const uint8_t byte = 0x5a;
  uint8_t host = 0x11;
  for (int empty = 0; empty < 3; ++empty) {
    SCOPED_TRACE("empty dimension " + std::to_string(empty));
    porta_copy_region_t region = PORTA_COPY_REGION_INIT;
    region.width_bytes = empty == 0 ? 0 : 4;
    region.height = empty == 1 ? 0 : 2;
    region.depth = empty == 2 ? 0 : 2;
    region.src_row_pitch = region.dst_row_pitch = 4;
    region.src_slice_pitch = region.dst_slice_pitch = 8;
    // An empty box may start at a buffer's end, as a size-0 1D copy may.
    region.dst_offset = 64;
    EXPECT_PORTA_OK(porta_copy_rect_host_to_device(stream_.get(), buffer.get(), &byte, &region));
    EXPECT_PORTA_OK(
        porta_copy_rect_device_to_device(stream_.get(), buffer.get(), other.get(), &region));
    region.dst_offset = 0;
    region.src_offset = 64;
    EXPECT_PORTA_OK(porta_copy_rect_device_to_host(stream_.get(), &host, buffer.get(), &region));
  }
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  EXPECT_EQ(host, 0x11);
  EXPECT_TRUE(BytesEqual(Download(buffer.get(), model.size()), model));
}

// Pitches are read only where the box uses them: a 2D box leaves the slice pitches 0 (as
// PORTA_COPY_REGION_INIT sets them), a single row its row pitches too.
TEST_P(CopyRectTest, UnusedPitchesAreIgnored) {
  std::vector<uint8_t> model = RandomBytes(256, 11);
  BufferHandle buffer;
  Upload(model, &buffer);
  if (HasFatalFailure()) return;
  const std::vector<uint8_t> src = RandomBytes(256, 12);
  porta_copy_region_t region = PORTA_COPY_REGION_INIT;
  region.width_bytes = 10;
  region.src_row_pitch = 12;
  region.dst_row_pitch = 20;
  region.height = 3;
  region.dst_offset = 100;
  ASSERT_PORTA_OK(porta_copy_rect_host_to_device(stream_.get(), buffer.get(), src.data(), &region));
  CopyOnHost(region, src, &model);
  porta_copy_region_t row = PORTA_COPY_REGION_INIT;
  row.width_bytes = 50;
  row.src_offset = 3;
  row.src_row_pitch = 1;  // below width_bytes, but there is only one row
  ASSERT_PORTA_OK(porta_copy_rect_host_to_device(stream_.get(), buffer.get(), src.data(), &row));
  CopyOnHost(row, src, &model);
  EXPECT_TRUE(BytesEqual(Download(buffer.get(), model.size()), model));
}

TEST_P(CopyRectTest, ValidationErrorsNameTheArgument) {
  constexpr uint64_t kSize = 1000;
  BufferHandle buffer, other;
  Alloc(kSize, &buffer);
  Alloc(kSize, &other);
  if (HasFatalFailure()) return;
  std::vector<uint8_t> host(kSize);
  porta_stream_t s = stream_.get();
  porta_buffer_t b = buffer.get();
  porta_copy_region_t ok = PORTA_COPY_REGION_INIT;
  ok.width_bytes = 10;
  ok.height = 4;
  ok.depth = 2;
  ok.src_row_pitch = ok.dst_row_pitch = 10;
  ok.src_slice_pitch = ok.dst_slice_pitch = 40;

  // Handles and NULL pointers.
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "stream",
                     porta_copy_rect_host_to_device(nullptr, b, host.data(), &ok));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "dst",
                     porta_copy_rect_host_to_device(s, nullptr, host.data(), &ok));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "src",
                     porta_copy_rect_device_to_host(s, host.data(), nullptr, &ok));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "src",
                     porta_copy_rect_device_to_device(s, b, nullptr, &ok));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "dst",
                     porta_copy_rect_device_to_device(s, nullptr, b, &ok));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "src is NULL",
                     porta_copy_rect_host_to_device(s, b, nullptr, &ok));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "dst is NULL",
                     porta_copy_rect_device_to_host(s, nullptr, b, &ok));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "region",
                     porta_copy_rect_host_to_device(s, b, host.data(), nullptr));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "region",
                     porta_copy_rect_device_to_host(s, host.data(), b, nullptr));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "region",
                     porta_copy_rect_device_to_device(s, other.get(), b, nullptr));
  porta_copy_region_t r = ok;
  r.struct_size = sizeof(porta_copy_region_t) - sizeof(uint64_t);
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "struct_size",
                     porta_copy_rect_device_to_device(s, other.get(), b, &r));

  // Rows or slices that would overlap, on either side.
  r = ok;
  r.src_row_pitch = 9;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "src_row_pitch",
                     porta_copy_rect_host_to_device(s, b, host.data(), &r));
  EXPECT_TRUE(LastErrorNamesNumber(9));
  EXPECT_TRUE(LastErrorNamesNumber(10));
  r = ok;
  r.dst_row_pitch = 0;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "dst_row_pitch",
                     porta_copy_rect_device_to_host(s, host.data(), b, &r));
  r = ok;
  r.src_slice_pitch = 39;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "src_slice_pitch",
                     porta_copy_rect_device_to_device(s, other.get(), b, &r));
  EXPECT_TRUE(LastErrorNamesNumber(39));
  r = ok;
  r.dst_row_pitch = 12;  // slices of 4 rows of 12 bytes need a slice pitch of 48
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "dst_slice_pitch",
                     porta_copy_rect_device_to_device(s, other.get(), b, &r));
  r = ok;
  r.height = 1;
  r.dst_slice_pitch = 9;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "dst_slice_pitch",
                     porta_copy_rect_host_to_device(s, b, host.data(), &r));
  r = ok;
  r.src_row_pitch = UINT64_MAX / 2;  // row pitch * height overflows 64 bits
  r.src_slice_pitch = UINT64_MAX;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "src_slice_pitch",
                     porta_copy_rect_device_to_host(s, host.data(), b, &r));

  // A box beyond its buffer names the end it needs and the buffer's size.
  r = ok;
  r.dst_offset = kSize - 79;  // the box spans 80 bytes
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "dst",
                     porta_copy_rect_host_to_device(s, b, host.data(), &r));
  EXPECT_TRUE(LastErrorNamesNumber(kSize + 1));
  EXPECT_TRUE(LastErrorNamesNumber(kSize));
  r = ok;
  r.src_offset = kSize - 79;
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "src",
                     porta_copy_rect_device_to_host(s, host.data(), b, &r));
  EXPECT_TRUE(LastErrorNamesNumber(kSize + 1));
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "src",
                     porta_copy_rect_device_to_device(s, other.get(), b, &r));
  r = ok;
  r.dst_slice_pitch = 1000;  // the second slice ends at 1040
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "dst",
                     porta_copy_rect_device_to_device(s, other.get(), b, &r));
  EXPECT_TRUE(LastErrorNamesNumber(1040));
  r = ok;
  r.width_bytes = 0;
  r.dst_offset = kSize + 1;  // even an empty box starts inside its buffer or at its end
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "dst",
                     porta_copy_rect_host_to_device(s, b, host.data(), &r));

  // Arithmetic that leaves 64 bits, or the address space, on either side.
  r = ok;
  r.src_offset = UINT64_MAX - 50;
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "src_offset",
                     porta_copy_rect_device_to_device(s, other.get(), b, &r));
  r = ok;
  r.dst_slice_pitch = UINT64_MAX / 2 + 1;
  r.depth = 3;
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "dst_offset",
                     porta_copy_rect_device_to_host(s, host.data(), b, &r));
  r = ok;
  r.src_offset = UINT64_MAX - 100;  // fits 64 bits, but not after the host pointer
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "address space",
                     porta_copy_rect_host_to_device(s, b, host.data(), &r));

  // Nothing was queued by any of the refused calls, and the stream is fine.
  EXPECT_PORTA_OK(porta_stream_synchronize(s));
}

TEST_P(CopyRectTest, BuffersOfAnotherDeviceAreRefused) {
  PORTA_CTS_REQUIRE_DEVICES(2);
  const porta_device_t other_device = OtherDevices(device_).front();
  BufferHandle remote, remote2;
  ASSERT_PORTA_OK(porta_buffer_alloc(other_device, 256, PORTA_MEMORY_DEVICE, remote.out()));
  ASSERT_PORTA_OK(porta_buffer_alloc(other_device, 256, PORTA_MEMORY_DEVICE, remote2.out()));
  std::vector<uint8_t> host(256);
  porta_copy_region_t r = PORTA_COPY_REGION_INIT;
  r.width_bytes = 8;
  r.height = 2;
  r.src_row_pitch = r.dst_row_pitch = 16;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "dst",
                     porta_copy_rect_host_to_device(stream_.get(), remote.get(), host.data(), &r));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "src",
                     porta_copy_rect_device_to_host(stream_.get(), host.data(), remote.get(), &r));
  EXPECT_PORTA_ERROR(
      PORTA_ERROR_INVALID_ARGUMENT, "neither",
      porta_copy_rect_device_to_device(stream_.get(), remote.get(), remote2.get(), &r));
}

// Each run is one node of a capture, in order; replays read and write host memory when they run
// and give what the direct calls give.
TEST_P(CopyRectTest, CaptureRecordsOneNodePerRunAndReplays) {
  for (const Shape& shape : kShapes) {
    SCOPED_TRACE(shape.name);
    const porta_copy_region_t region = Region(shape);
    // Host -> a, a -> b, b -> host: the same box on each hop (the layouts swap in the middle so
    // that each hop reads what the one before it wrote).
    const porta_copy_region_t middle = Swapped(region);
    const uint64_t src_bytes = SideBytes(shape.src, shape);
    const uint64_t dst_bytes = SideBytes(shape.dst, shape);
    const std::vector<uint8_t> a_initial = RandomBytes(dst_bytes, 13);
    const std::vector<uint8_t> b_initial = RandomBytes(src_bytes, 14);
    BufferHandle a, b;
    Upload(a_initial, &a);
    Upload(b_initial, &b);
    if (HasFatalFailure()) return;
    std::vector<uint8_t> in = RandomBytes(src_bytes, 15);
    std::vector<uint8_t> out = RandomBytes(dst_bytes, 16);
    std::vector<uint8_t> out_before = out;

    GraphHandle graph;
    ASSERT_PORTA_OK(porta_stream_begin_capture(stream_.get()));
    porta_status_t statuses[3] = {
        porta_copy_rect_host_to_device(stream_.get(), a.get(), in.data(), &region),
        porta_copy_rect_device_to_device(stream_.get(), b.get(), a.get(), &middle),
        porta_copy_rect_device_to_host(stream_.get(), out.data(), b.get(), &region)};
    ASSERT_PORTA_OK(porta_stream_end_capture(stream_.get(), graph.out()));
    for (porta_status_t status : statuses) EXPECT_PORTA_OK(status);
    ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
    EXPECT_TRUE(BytesEqual(out, out_before)) << "captured work ran during capture";

    const uint64_t runs = ExpectedRuns(shape);
    uint32_t count = 0;
    ASSERT_PORTA_OK(porta_graph_node_count(graph.get(), &count));
    ASSERT_EQ(count, 3 * runs);
    const porta_graph_node_kind_t kinds[] = {PORTA_GRAPH_NODE_COPY_HOST_TO_DEVICE,
                                             PORTA_GRAPH_NODE_COPY_DEVICE_TO_DEVICE,
                                             PORTA_GRAPH_NODE_COPY_DEVICE_TO_HOST};
    for (uint32_t i = 0; i < count; ++i) {
      porta_graph_node_kind_t kind{};
      ASSERT_PORTA_OK(porta_graph_node_kind(graph.get(), i, &kind));
      EXPECT_EQ(kind, kinds[i / runs]) << "node " << i;
    }

    ExecHandle exec;
    ASSERT_PORTA_OK(porta_graph_instantiate(graph.get(), exec.out()));
    for (uint32_t replay = 0; replay < 2; ++replay) {
      SCOPED_TRACE("replay " + std::to_string(replay));
      // New source bytes in the same memory: the graph holds its address.
      const std::vector<uint8_t> fresh = RandomBytes(src_bytes, 20 + replay);
      std::memcpy(in.data(), fresh.data(), fresh.size());
      std::vector<uint8_t> model_a = a_initial, model_b = b_initial, model_out = out;
      CopyOnHost(region, in, &model_a);
      CopyOnHost(middle, model_a, &model_b);
      CopyOnHost(region, model_b, &model_out);
      ASSERT_PORTA_OK(porta_graph_launch(exec.get(), stream_.get()));
      ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
      EXPECT_TRUE(BytesEqual(out, model_out));
      EXPECT_TRUE(BytesEqual(Download(b.get(), src_bytes), model_b));
    }
  }
}

// Between two devices (two backends here, or two devices of one), the copy goes through the
// peer path or host staging; gaps stay untouched either way, and a capture refuses it.
TEST_P(CopyRectTest, BetweenTwoDevices) {
  PORTA_CTS_REQUIRE_DEVICES(2);
  const porta_device_t other_device = OtherDevices(device_).front();
  const Shape shape = {"3d_pitched", {4, 17, 77}, {9, 20, 95}, 13, 4, 3};
  const porta_copy_region_t region = Region(shape);
  const std::vector<uint8_t> local_bytes = RandomBytes(SideBytes(shape.src, shape), 30);
  std::vector<uint8_t> model = RandomBytes(SideBytes(shape.dst, shape), 31);
  BufferHandle local, remote, back;
  Upload(local_bytes, &local);
  if (HasFatalFailure()) return;
  ASSERT_PORTA_OK(
      porta_buffer_alloc(other_device, model.size(), PORTA_MEMORY_DEVICE, remote.out()));
  StreamHandle other_stream;
  ASSERT_PORTA_OK(porta_stream_create(other_device, other_stream.out()));
  ASSERT_PORTA_OK(
      porta_copy_host_to_device(other_stream.get(), remote.get(), 0, model.data(), model.size()));
  ASSERT_PORTA_OK(porta_stream_synchronize(other_stream.get()));

  // This device's stream pushes the box to the other device...
  ASSERT_PORTA_OK(
      porta_copy_rect_device_to_device(stream_.get(), remote.get(), local.get(), &region));
  // The copy is in this stream's order (a peer path queues it there); the other device's stream
  // sees it once this one has been synchronized.
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  CopyOnHost(region, local_bytes, &model);
  std::vector<uint8_t> remote_read(model.size());
  ASSERT_TRUE(ReadBuffer(other_stream.get(), remote.get(), 0, model.size(), remote_read.data()));
  EXPECT_TRUE(BytesEqual(remote_read, model));

  // ...and pulls it back into a fresh layout.
  const porta_copy_region_t pull = Swapped(region);
  std::vector<uint8_t> back_model = RandomBytes(local_bytes.size(), 32);
  Upload(back_model, &back);
  if (HasFatalFailure()) return;
  ASSERT_PORTA_OK(porta_copy_rect_device_to_device(stream_.get(), back.get(), remote.get(), &pull));
  CopyOnHost(pull, model, &back_model);
  EXPECT_TRUE(BytesEqual(Download(back.get(), back_model.size()), back_model));

  ASSERT_PORTA_OK(porta_stream_begin_capture(stream_.get()));
  EXPECT_PORTA_ERROR(
      PORTA_ERROR_INVALID_OPERATION, "two devices",
      porta_copy_rect_device_to_device(stream_.get(), remote.get(), local.get(), &region));
  GraphHandle graph;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_OPERATION, "porta_copy_rect_device_to_device",
                     porta_stream_end_capture(stream_.get(), graph.out()));
}

PORTA_CTS_INSTANTIATE(CopyRectTest);

}  // namespace
}  // namespace porta_cts
