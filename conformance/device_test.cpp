// Device info: every field plausible, stable across calls, and struct_size honoured both ways.
#include <cctype>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "conformance/cts.h"

namespace porta_cts {
namespace {

class DeviceInfoTest : public DeviceTest {};

// True when |field| holds a NUL-terminated, non-empty string.
testing::AssertionResult IsNonEmptyString(const char* field, size_t capacity) {
  if (std::memchr(field, '\0', capacity) == nullptr) {
    return testing::AssertionFailure() << "not NUL-terminated within " << capacity << " bytes";
  }
  if (field[0] == '\0') return testing::AssertionFailure() << "empty";
  return testing::AssertionSuccess();
}

TEST_P(DeviceInfoTest, FieldsArePlausible) {
  EXPECT_TRUE(IsNonEmptyString(info_.name, sizeof(info_.name))) << "name";
  EXPECT_TRUE(IsNonEmptyString(info_.vendor, sizeof(info_.vendor))) << "vendor";
  EXPECT_TRUE(IsNonEmptyString(info_.backend, sizeof(info_.backend))) << "backend";
  EXPECT_NE(std::memchr(info_.architecture, '\0', sizeof(info_.architecture)), nullptr);
  EXPECT_NE(std::memchr(info_.driver_version, '\0', sizeof(info_.driver_version)), nullptr);
  EXPECT_GE(info_.type, PORTA_DEVICE_TYPE_CPU);
  EXPECT_LE(info_.type, PORTA_DEVICE_TYPE_ACCELERATOR);

  EXPECT_GT(info_.global_memory_bytes, 0u);
  EXPECT_GT(info_.max_allocation_bytes, 0u);
  EXPECT_LE(info_.max_allocation_bytes, info_.global_memory_bytes);
  EXPECT_GT(info_.max_kernel_buffer_range_bytes, 0u);
  EXPECT_LE(info_.max_kernel_buffer_range_bytes, info_.max_allocation_bytes);
  EXPECT_GT(info_.compute_units, 0u);
  EXPECT_GT(info_.max_work_group_size, 0u);
  for (int d = 0; d < 3; ++d) {
    SCOPED_TRACE("dimension " + std::to_string(d));
    EXPECT_GT(info_.max_work_group_dims[d], 0u);
    EXPECT_LE(info_.max_work_group_dims[d], info_.max_work_group_size);
    EXPECT_GT(info_.max_grid_dims[d], 0u);
  }
  EXPECT_GT(info_.local_memory_bytes, 0u);

  EXPECT_LE(info_.subgroup_size_count, static_cast<uint32_t>(PORTA_MAX_SUBGROUP_SIZES));
  for (uint32_t i = 0; i < info_.subgroup_size_count && i < PORTA_MAX_SUBGROUP_SIZES; ++i) {
    EXPECT_GT(info_.subgroup_sizes[i], 0u) << "subgroup_sizes[" << i << "]";
    EXPECT_LE(info_.subgroup_sizes[i], info_.max_work_group_size) << "subgroup_sizes[" << i << "]";
  }

  uint32_t valid_formats = 0;
  for (uint32_t format = 1; format < PORTA_FORMAT_COUNT; ++format) {
    valid_formats |= PORTA_FORMAT_BIT(format);
  }
  EXPECT_NE(info_.kernel_formats, 0u) << "the device accepts no kernel format";
  EXPECT_EQ(info_.kernel_formats & ~valid_formats, 0u)
      << "kernel_formats has bits outside PORTA_FORMAT_BIT(1.." << PORTA_FORMAT_COUNT - 1 << "): 0x"
      << std::hex << info_.kernel_formats;
}

// The tags a device runs native binaries of (porta_native_header_t): well-formed, distinct, as
// many as native_tag_count says, and declared exactly when kernel_formats has
// PORTA_FORMAT_NATIVE.
TEST_P(DeviceInfoTest, NativeTagsAreWellFormed) {
  ASSERT_LE(info_.native_tag_count, static_cast<uint32_t>(PORTA_MAX_NATIVE_TAGS));
  EXPECT_EQ((info_.kernel_formats & PORTA_FORMAT_BIT(PORTA_FORMAT_NATIVE)) != 0,
            info_.native_tag_count > 0)
      << "kernel_formats 0x" << std::hex << info_.kernel_formats << std::dec
      << " and native_tag_count " << info_.native_tag_count << " disagree";
  for (uint32_t i = 0; i < PORTA_MAX_NATIVE_TAGS; ++i) {
    const char* tag = info_.native_tags[i];
    const size_t length = strnlen(tag, PORTA_NATIVE_TAG_SIZE);
    SCOPED_TRACE("native_tags[" + std::to_string(i) + "]");
    if (i >= info_.native_tag_count) {
      EXPECT_EQ(length, 0u) << "an unused tag slot is not empty";
      continue;
    }
    ASSERT_LT(length, static_cast<size_t>(PORTA_NATIVE_TAG_SIZE)) << "not NUL-terminated";
    EXPECT_GT(length, 0u);
    for (size_t c = 0; c < length; ++c) {
      EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(tag[c])) ||
                  std::strchr("._:+-", tag[c]) != nullptr)
          << "character " << c << " of \"" << tag << "\"";
    }
    for (uint32_t k = 0; k < i; ++k) {
      EXPECT_STRNE(tag, info_.native_tags[k]) << "repeats native_tags[" << k << "]";
    }
  }
}

TEST_P(DeviceInfoTest, InfoIsStableAcrossCalls) {
  porta_device_info_t again = PORTA_DEVICE_INFO_INIT;
  ASSERT_PORTA_OK(porta_device_get_info(device_, &again));
  EXPECT_EQ(std::memcmp(&info_, &again, sizeof(again)), 0);
}

TEST_P(DeviceInfoTest, BackendIsALoadedBackendWithThisDevice) {
  const porta_runtime_t runtime = Env().runtime;
  uint32_t backends = 0;
  ASSERT_PORTA_OK(porta_runtime_backend_count(runtime, &backends));
  bool found = false;
  for (uint32_t i = 0; i < backends && !found; ++i) {
    porta_backend_report_t report = PORTA_BACKEND_REPORT_INIT;
    ASSERT_PORTA_OK(porta_runtime_backend_report(runtime, i, &report));
    if (std::strcmp(report.name, info_.backend) != 0 || report.loaded == 0) continue;
    found = true;
    EXPECT_LT(info_.backend_device_index, report.device_count)
        << "backend_device_index beyond the devices the backend reported";
  }
  EXPECT_TRUE(found) << "no loaded backend named \"" << info_.backend << "\"";
}

TEST_P(DeviceInfoTest, DeviceHandleMatchesRuntimeIndex) {
  porta_device_t device = nullptr;
  ASSERT_PORTA_OK(porta_runtime_device(Env().runtime, GetParam().index, &device));
  EXPECT_EQ(device, device_);
}

struct Field {
  const char* name;
  size_t offset;
  size_t size;
};

#define PORTA_CTS_FIELD(f)                                               \
  Field {                                                                \
#f, offsetof(porta_device_info_t, f), sizeof(porta_device_info_t::f) \
  }

std::vector<Field> InfoFields() {
  return {PORTA_CTS_FIELD(struct_size),
          PORTA_CTS_FIELD(name),
          PORTA_CTS_FIELD(vendor),
          PORTA_CTS_FIELD(backend),
          PORTA_CTS_FIELD(type),
          PORTA_CTS_FIELD(architecture),
          PORTA_CTS_FIELD(driver_version),
          PORTA_CTS_FIELD(backend_device_index),
          PORTA_CTS_FIELD(global_memory_bytes),
          PORTA_CTS_FIELD(max_allocation_bytes),
          PORTA_CTS_FIELD(compute_units),
          PORTA_CTS_FIELD(max_work_group_size),
          PORTA_CTS_FIELD(max_work_group_dims),
          PORTA_CTS_FIELD(max_grid_dims),
          PORTA_CTS_FIELD(local_memory_bytes),
          PORTA_CTS_FIELD(subgroup_sizes),
          PORTA_CTS_FIELD(subgroup_size_count),
          PORTA_CTS_FIELD(capabilities),
          PORTA_CTS_FIELD(kernel_formats),
          PORTA_CTS_FIELD(uuid),
          PORTA_CTS_FIELD(max_kernel_buffer_range_bytes),
          PORTA_CTS_FIELD(native_tags),
          PORTA_CTS_FIELD(native_tag_count)};
}

constexpr unsigned char kCanary = 0xcd;
constexpr size_t kSlack = 64;

// Calls porta_device_get_info on a canary-filled buffer whose struct_size is |struct_size|. The
// vector's storage comes from operator new, aligned for the struct.
porta_status_t InfoWithCanary(porta_device_t device, size_t struct_size,
                              std::vector<unsigned char>* bytes) {
  bytes->assign(sizeof(porta_device_info_t) + kSlack, kCanary);
  std::memcpy(bytes->data(), &struct_size, sizeof(struct_size));
  return porta_device_get_info(device, reinterpret_cast<porta_device_info_t*>(bytes->data()));
}

TEST_P(DeviceInfoTest, SmallerStructSizeWritesOnlyTheFieldsThatFit) {
  // Every field end, plus sizes that cut a field in half: an older caller's struct ends there.
  std::vector<size_t> sizes;
  for (const Field& field : InfoFields()) {
    sizes.push_back(field.offset + field.size);
    if (field.size > 1) sizes.push_back(field.offset + field.size / 2);
  }
  for (size_t struct_size : sizes) {
    // The API requires at least the first field after struct_size (name) to fit.
    if (struct_size < offsetof(porta_device_info_t, name) + sizeof(info_.name)) continue;
    SCOPED_TRACE("struct_size " + std::to_string(struct_size));
    std::vector<unsigned char> bytes;
    ASSERT_PORTA_OK(InfoWithCanary(device_, struct_size, &bytes));
    for (size_t i = struct_size; i < bytes.size(); ++i) {
      ASSERT_EQ(bytes[i], kCanary) << "byte " << i << " beyond struct_size was written";
    }
    const unsigned char* full = reinterpret_cast<const unsigned char*>(&info_);
    for (const Field& field : InfoFields()) {
      if (field.offset == 0 || field.offset + field.size > struct_size) continue;
      EXPECT_EQ(std::memcmp(bytes.data() + field.offset, full + field.offset, field.size), 0)
          << "field " << field.name << " fits but differs from the full-size answer";
    }
  }
}

TEST_P(DeviceInfoTest, LargerStructSizeWritesNothingBeyondKnownFields) {
  // A caller built against a newer header passes a bigger struct; this runtime fills what it
  // knows and leaves the rest alone.
  std::vector<unsigned char> bytes;
  ASSERT_PORTA_OK(InfoWithCanary(device_, sizeof(porta_device_info_t) + kSlack, &bytes));
  for (size_t i = sizeof(porta_device_info_t); i < bytes.size(); ++i) {
    ASSERT_EQ(bytes[i], kCanary) << "byte " << i << " beyond the known struct was written";
  }
  const unsigned char* full = reinterpret_cast<const unsigned char*>(&info_);
  for (const Field& field : InfoFields()) {
    if (field.offset == 0) continue;
    EXPECT_EQ(std::memcmp(bytes.data() + field.offset, full + field.offset, field.size), 0)
        << "field " << field.name;
  }
}

PORTA_CTS_INSTANTIATE(DeviceInfoTest);

}  // namespace
}  // namespace porta_cts
