// PORTA_FORMAT_NATIVE: a vendor's own binary behind a porta_native_header_t that names its
// architecture. A device runs only the native binaries whose tag it lists; porta-cts gets a
// vendor's through --kernel-file NAME:native:FILE. Every device checks that a foreign tag is
// refused, naming both sides, that the next source in the list is taken instead, and that a
// malformed header is an invalid argument; a device with native tags also runs a supplied native
// vector_add and checks its result.
#include <cstring>
#include <string>
#include <vector>

#include "conformance/cts.h"
#include "conformance/kernels/test_kernels.h"

namespace porta_cts {
namespace {

class NativeFormatTest : public StreamTest {};

// A PORTA_FORMAT_NATIVE source whose header carries |tag| (copied as given, NUL-padded to the
// field) and whose binary is |payload|.
std::vector<unsigned char> NativeBytes(const std::string& tag,
                                       const std::vector<unsigned char>& payload) {
  porta_native_header_t header;
  std::memset(&header, 0, sizeof(header));
  std::memcpy(header.magic, PORTA_NATIVE_MAGIC, sizeof(header.magic));
  std::memcpy(header.tag, tag.data(), std::min(tag.size(), sizeof(header.tag)));
  std::vector<unsigned char> bytes(sizeof(header) + payload.size());
  std::memcpy(bytes.data(), &header, sizeof(header));
  if (!payload.empty()) {
    std::memcpy(bytes.data() + sizeof(header), payload.data(), payload.size());
  }
  return bytes;
}

porta_module_source_t NativeSource(const std::vector<unsigned char>& bytes,
                                   const char* const* entry) {
  porta_module_source_t source = {};
  source.format = PORTA_FORMAT_NATIVE;
  source.data = bytes.data();
  source.size = bytes.size();
  source.entry_names = entry;
  source.entry_count = 1;
  return source;
}

std::string DeviceTags(const porta_device_info_t& info) {
  std::string tags;
  for (uint32_t i = 0; i < info.native_tag_count && i < PORTA_MAX_NATIVE_TAGS; ++i) {
    tags += (tags.empty() ? "" : ", ") + std::string(info.native_tags[i]);
  }
  return tags.empty() ? "none" : tags;
}

// A tag the device does not list.
std::string ForeignTag(const porta_device_info_t& info) {
  std::string tag = "porta-cts-foreign:v0";
  porta_module_source_t probe = {};
  probe.format = PORTA_FORMAT_NATIVE;
  for (char revision = '0'; revision <= '9'; ++revision) {
    tag.back() = revision;
    const std::vector<unsigned char> bytes = NativeBytes(tag, {0});
    probe.data = bytes.data();
    probe.size = bytes.size();
    if (!SourceFits(info, probe)) break;
  }
  return tag;
}

porta_status_t Load(porta_device_t device, const std::vector<porta_module_source_t>& sources,
                    ModuleHandle* module) {
  porta_module_desc_t desc = PORTA_MODULE_DESC_INIT;
  desc.sources = sources.data();
  desc.source_count = static_cast<uint32_t>(sources.size());
  return porta_module_load(device, &desc, module->out());
}

constexpr const char* kVectorAdd[] = {"vector_add"};

TEST_P(NativeFormatTest, SuppliedNativeKernelRunsAndForeignTagsAreSkipped) {
  if (info_.native_tag_count == 0) {
    RecordSkipReason("native kernel tags");
    GTEST_SKIP() << "the device declares no native kernel tag (porta_device_info_t.native_tags): "
                    "it runs no vendor binaries";
  }
  std::vector<porta_module_source_t> fitting;
  std::string supplied;
  for (const porta_module_source_t& source : TestModuleSources("vector_add")) {
    if (source.format != PORTA_FORMAT_NATIVE) continue;
    supplied += (supplied.empty() ? "" : ", ") + NativeSourceTag(source);
    if (SourceFits(info_, source)) fitting.push_back(source);
  }
  if (fitting.empty()) {
    RecordSkipReason("a native vector_add for the device's tags (--kernel-file)");
    GTEST_SKIP()
        << "the device runs native tags [" << DeviceTags(info_)
        << "] but no --kernel-file vector_add:native:FILE supplies one of them (supplied: ["
        << (supplied.empty() ? "none" : supplied) << "])";
  }
  const porta_module_source_t& native = fitting.front();
  // The same binary under a foreign tag comes first: the runtime must pass over it.
  const auto* payload = static_cast<const unsigned char*>(native.data);
  const std::vector<unsigned char> foreign = NativeBytes(
      ForeignTag(info_),
      std::vector<unsigned char>(payload + sizeof(porta_native_header_t), payload + native.size));
  ModuleHandle module;
  ASSERT_PORTA_OK(Load(device_, {NativeSource(foreign, kVectorAdd), native}, &module));
  porta_kernel_t kernel = nullptr;
  ASSERT_PORTA_OK(porta_module_get_kernel(module.get(), "vector_add", &kernel));
  const uint32_t block = BlockSizeFor(info_, 64);
  EXPECT_TRUE(RunVectorAdd(device_, stream_.get(), kernel, 1000, block, 11));
  EXPECT_TRUE(RunVectorAdd(device_, stream_.get(), kernel, 1, block, 12));
}

TEST_P(NativeFormatTest, ForeignTagIsUnsupportedNamingBothSides) {
  const std::string tag = ForeignTag(info_);
  const std::vector<unsigned char> bytes = NativeBytes(tag, {1, 2, 3, 4});
  ModuleHandle module;
  PrimeErrorMessage(tag.c_str());
  ASSERT_PORTA_STATUS(PORTA_ERROR_UNSUPPORTED,
                      Load(device_, {NativeSource(bytes, kVectorAdd)}, &module));
  EXPECT_TRUE(LastErrorSays(("native (tag " + tag + ")").c_str()));
  if (info_.native_tag_count == 0) {
    EXPECT_TRUE(LastErrorSays("no native tags"));
  } else {
    EXPECT_TRUE(LastErrorSays(("native tags [" + DeviceTags(info_) + "]").c_str()));
  }
}

TEST_P(NativeFormatTest, ForeignTagFallsThroughToThePortableSources) {
  PORTA_CTS_REQUIRE_KERNEL(info_, "vector_add");
  const std::vector<unsigned char> bytes = NativeBytes(ForeignTag(info_), {1, 2, 3, 4});
  std::vector<porta_module_source_t> sources = {NativeSource(bytes, kVectorAdd)};
  for (const porta_module_source_t& source : TestModuleSources("vector_add")) {
    sources.push_back(source);
  }
  ModuleHandle module;
  ASSERT_PORTA_OK(Load(device_, sources, &module));
  porta_kernel_t kernel = nullptr;
  ASSERT_PORTA_OK(porta_module_get_kernel(module.get(), "vector_add", &kernel));
  EXPECT_TRUE(RunVectorAdd(device_, stream_.get(), kernel, 777, BlockSizeFor(info_, 64), 13));
}

// Checked on every device, whatever it accepts: a malformed source is the caller's mistake.
TEST_P(NativeFormatTest, MalformedHeaderIsAnInvalidArgument) {
  struct Case {
    const char* name;
    std::vector<unsigned char> bytes;
    const char* needle;
  };
  std::vector<Case> cases;
  const std::vector<unsigned char> good = NativeBytes("acme-npu2:v3", {1, 2, 3, 4});
  cases.push_back({"shorter than the header",
                   std::vector<unsigned char>(good.begin(), good.begin() + 20), "fewer than"});
  cases.push_back(
      {"header only", std::vector<unsigned char>(good.begin(), good.begin() + 64), "missing"});
  std::vector<unsigned char> bad_magic = good;
  bad_magic[7] = '2';
  cases.push_back({"wrong magic", bad_magic, "PORTA_NATIVE_MAGIC"});
  cases.push_back({"empty tag", NativeBytes("", {1}), "empty"});
  cases.push_back({"a space in the tag", NativeBytes("acme npu", {1}), "position 4"});
  cases.push_back({"unterminated tag", NativeBytes(std::string(PORTA_NATIVE_TAG_SIZE, 'a'), {1}),
                   "NUL-terminated"});
  std::vector<unsigned char> padding = good;
  padding[8 + 20] = 'x';
  cases.push_back({"bytes after the tag's NUL", padding, "nonzero"});
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ModuleHandle module;
    EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, c.needle,
                       Load(device_, {NativeSource(c.bytes, kVectorAdd)}, &module));
    EXPECT_TRUE(LastErrorSays("sources[0] (native)"));
    EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, c.needle,
                       porta_native_binary_tag(c.bytes.data(), c.bytes.size(), nullptr));
  }
  char tag[PORTA_NATIVE_TAG_SIZE];
  ASSERT_PORTA_OK(porta_native_binary_tag(good.data(), good.size(), tag));
  EXPECT_STREQ(tag, "acme-npu2:v3");
}

PORTA_CTS_INSTANTIATE(NativeFormatTest);

}  // namespace
}  // namespace porta_cts
