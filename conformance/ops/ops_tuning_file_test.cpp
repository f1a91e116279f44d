// The per-device tuning file and the tuner's view of the library (porta_ops.h, "Tuning"): a file
// written for the device is loaded by the next context and preferred to the shipped table; a
// corrupt, foreign or stale file is ignored with the reason visible; the file can be turned off;
// every candidate the library lists is accepted on the device and has a tuning shape; bad
// arguments get a clear status. Each test works in a temporary PORTA_CACHE_DIR.
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "conformance/ops/ops_cts.h"

namespace porta_cts {
namespace {

// Sets an environment variable for the scope of a test and restores it afterwards.
class ScopedVariable {
 public:
  ScopedVariable(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) previous_ = old;
    setenv(name, value, 1);
  }
  ~ScopedVariable() {
    if (previous_) {
      setenv(name_.c_str(), previous_->c_str(), 1);
    } else {
      unsetenv(name_.c_str());
    }
  }

 private:
  std::string name_;
  std::optional<std::string> previous_;
};

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream stream(text);
  std::string line;
  while (std::getline(stream, line)) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

struct Pick {
  std::string family;
  std::string bucket;
  std::string params;
};

class OpsTuningFileTest : public OpsTest {
 protected:
  // The folder is set before the fixture's context exists: a context finds its file's path when
  // it is created.
  void SetUp() override {
    char pattern[] = "/tmp/porta_cts_tuning_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    folder_ = pattern;
    cache_.emplace("PORTA_CACHE_DIR", folder_.c_str());
    tuning_.emplace("PORTA_OPS_TUNING_FILE", "on");
    OpsTest::SetUp();
  }
  void TearDown() override {
    loaded_.clear();
    OpsTest::TearDown();
    if (!folder_.empty()) {
      const std::string command = "rm -rf '" + folder_ + "'";
      EXPECT_EQ(std::system(command.c_str()), 0);
    }
    cache_.reset();
    tuning_.reset();
  }

  // A context that loads the device's tuning file as an application's would.
  porta_ops_context_t Loaded() {
    porta_ops_context_t context = nullptr;
    EXPECT_PORTA_OK(porta_ops_context_create(device_, nullptr, &context));
    loaded_.push_back(OpsContextHandle(context));
    return context;
  }

  porta_ops_tuning_file_info_t FileInfo(porta_ops_context_t context) {
    porta_ops_tuning_file_info_t info = PORTA_OPS_TUNING_FILE_INFO_INIT;
    EXPECT_PORTA_OK(porta_ops_tuning_file_status(context, &info));
    return info;
  }

  porta_ops_tuning_choice_t Choice(porta_ops_context_t context, const Pick& pick) {
    porta_ops_tuning_choice_t choice = PORTA_OPS_TUNING_CHOICE_INIT;
    EXPECT_PORTA_OK(
        porta_ops_tuning_choice(context, pick.family.c_str(), "f32", pick.bucket.c_str(), &choice));
    return choice;
  }

  // The candidates of |family| in |bucket|, for f32 inputs (Q8_0 weights for qmatvec).
  std::vector<std::string> Candidates(const std::string& family, const std::string& bucket) {
    const char* dtype = family == "qmatvec" ? "q8_0" : "f32";
    size_t size = 0;
    EXPECT_PORTA_OK(porta_ops_tuning_candidates(ctx(), family.c_str(), dtype, bucket.c_str(),
                                                nullptr, 0, &size));
    std::string text(size, '\0');
    EXPECT_PORTA_OK(porta_ops_tuning_candidates(ctx(), family.c_str(), dtype, bucket.c_str(),
                                                text.data(), size, nullptr));
    text.resize(size == 0 ? 0 : size - 1);
    return Lines(text);
  }

  // A family, bucket and candidate that the dispatcher does not choose without a tuning file, so
  // that a file choosing it is visible. Every device has one (the CPU device's ew sizes).
  std::optional<Pick> PickCandidate() {
    for (const char* family : {"matmul", "softmax", "norm", "reduce", "ew"}) {
      for (const char* bucket : {"small", "large", "gemv"}) {
        const Pick probe{family, bucket, ""};
        const std::string chosen = Choice(ctx(), probe).params;
        for (const std::string& candidate : Candidates(family, bucket)) {
          if (candidate != chosen) return Pick{family, bucket, candidate};
        }
      }
    }
    return std::nullopt;
  }

  std::string Row(const Pick& pick) {
    return "\"" + std::string(info_.backend) + "\" \"" + info_.vendor + "\" \"" +
           info_.architecture + "\" \"" + info_.name + "\" " + pick.family + " f32 " + pick.bucket +
           " " + pick.params + "\n";
  }

  // Writes a file choosing |pick| and returns its path.
  std::string WriteValidFile(const Pick& pick) {
    EXPECT_PORTA_OK(porta_ops_tuning_file_write(ctx(), Row(pick).c_str()));
    const porta_ops_tuning_file_info_t info = FileInfo(ctx());
    EXPECT_EQ(std::string(info.path).rfind(folder_ + "/", 0), 0u)
        << "the tuning file " << info.path << " is not under PORTA_CACHE_DIR " << folder_;
    return info.path;
  }

  std::string folder_;
  std::optional<ScopedVariable> cache_;
  std::optional<ScopedVariable> tuning_;
  std::vector<OpsContextHandle> loaded_;
};

TEST_P(OpsTuningFileTest, WrittenFileIsLoadedAndPreferred) {
  // The fixture's own context turns the file off, and says so.
  const porta_ops_tuning_file_info_t off = FileInfo(ctx());
  EXPECT_EQ(off.state, PORTA_OPS_TUNING_FILE_OFF);
  EXPECT_NE(std::string(off.reason).find("PORTA_OPS_CONTEXT_NO_TUNING_FILE"), std::string::npos)
      << off.reason;
  EXPECT_EQ(FileInfo(Loaded()).state, PORTA_OPS_TUNING_FILE_ABSENT);

  const std::optional<Pick> pick = PickCandidate();
  ASSERT_TRUE(pick.has_value()) << "no family has a candidate beside the dispatcher's choice";
  const std::string path = WriteValidFile(*pick);
  porta_ops_context_t loaded = Loaded();
  const porta_ops_tuning_file_info_t info = FileInfo(loaded);
  ASSERT_EQ(info.state, PORTA_OPS_TUNING_FILE_LOADED) << info.reason;
  EXPECT_EQ(info.row_count, 1u);
  EXPECT_STREQ(info.path, path.c_str());
  const porta_ops_tuning_choice_t choice = Choice(loaded, *pick);
  EXPECT_EQ(choice.params, pick->params);
  EXPECT_EQ(std::string(choice.source).rfind("overlay line ", 0), 0u) << choice.source;
  // The row is the file's only non-comment line, and the source names that line.
  const std::vector<std::string> lines = Lines(ReadFile(path));
  const std::string expected_line =
      "overlay line " + std::to_string(lines.size());  // the row comes last
  EXPECT_EQ(choice.source, expected_line);
  // The context without the file still uses the table.
  EXPECT_NE(Choice(ctx(), *pick).params, pick->params);

  // No temporary file is left beside it.
  const std::string listing = folder_ + "/tuning";
  const std::string command = "test $(ls -A '" + listing + "' | wc -l) -eq 1";
  EXPECT_EQ(std::system(command.c_str()), 0) << "files beside the tuning file in " << listing;

  ASSERT_PORTA_OK(porta_ops_tuning_file_remove(ctx()));
  EXPECT_EQ(access(path.c_str(), F_OK), -1);
  EXPECT_EQ(FileInfo(Loaded()).state, PORTA_OPS_TUNING_FILE_ABSENT);
  // Removing what is not there is fine.
  EXPECT_PORTA_OK(porta_ops_tuning_file_remove(ctx()));
}

TEST_P(OpsTuningFileTest, CorruptForeignAndStaleFilesAreIgnoredWithTheReason) {
  const std::optional<Pick> pick = PickCandidate();
  ASSERT_TRUE(pick.has_value());
  const std::string path = WriteValidFile(*pick);
  const std::string valid = ReadFile(path);
  ASSERT_EQ(FileInfo(Loaded()).state, PORTA_OPS_TUNING_FILE_LOADED);

  auto replace_line = [&](const std::string& key, const std::string& value) {
    const size_t start = valid.find("#! " + key + " ");
    EXPECT_NE(start, std::string::npos) << "the header has no " << key << " line";
    const size_t end = valid.find('\n', start);
    return valid.substr(0, start) + "#! " + key + " " + value + valid.substr(end);
  };
  struct Case {
    const char* what;
    std::string text;
    const char* reason;
  };
  const std::vector<Case> cases = {
      {"truncated", valid.substr(0, valid.size() - 5), "corrupt"},
      {"edited row", valid + Row(*pick), "corrupt"},
      {"not a tuning file",
       "\x7f"
       "ELF garbage\n\n",
       "corrupt"},
      {"empty", "", "corrupt"},
      {"other device", replace_line("name", "Some Other Device"), "foreign"},
      {"other backend", replace_line("backend", "other"), "foreign"},
      {"other driver", replace_line("driver", "0.0-old"), "stale"},
      {"other library", replace_line("library", "0.0.1"), "stale"},
      {"other kernels", replace_line("kernels", "0000000000000000"), "stale"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    WriteFile(path, c.text);
    porta_ops_context_t loaded = Loaded();
    const porta_ops_tuning_file_info_t info = FileInfo(loaded);
    EXPECT_EQ(info.state, PORTA_OPS_TUNING_FILE_IGNORED) << info.reason;
    EXPECT_EQ(std::string(info.reason).rfind(c.reason, 0), 0u) << info.reason;
    EXPECT_EQ(info.row_count, 0u);
    const porta_ops_tuning_choice_t choice = Choice(loaded, *pick);
    EXPECT_NE(std::string(choice.source).rfind("overlay", 0), 0u)
        << "an ignored file's row was used: " << choice.source;
  }
  // The environment switch turns a valid file off.
  WriteFile(path, valid);
  {
    ScopedVariable off("PORTA_OPS_TUNING_FILE", "off");
    const porta_ops_tuning_file_info_t info = FileInfo(Loaded());
    EXPECT_EQ(info.state, PORTA_OPS_TUNING_FILE_OFF);
    EXPECT_NE(std::string(info.reason).find("PORTA_OPS_TUNING_FILE=off"), std::string::npos)
        << info.reason;
  }
  EXPECT_EQ(FileInfo(Loaded()).state, PORTA_OPS_TUNING_FILE_LOADED);
}

TEST_P(OpsTuningFileTest, CandidatesAreValidAndHaveShapes) {
  int listed = 0;
  for (const char* family : {"matmul", "softmax", "norm", "reduce", "ew", "gather", "rope",
                             "attention", "conv2d", "pool2d", "qmatvec", "qdequant"}) {
    for (const char* bucket : {"small", "large", "gemv"}) {
      const std::vector<std::string> candidates = Candidates(family, bucket);
      if (candidates.empty()) continue;
      int64_t dims[3] = {0, 0, 0};
      EXPECT_PORTA_OK(porta_ops_tuning_shape(family, bucket, dims))
          << family << " " << bucket << " has candidates but no tuning shape";
      EXPECT_GT(dims[0] * dims[1] * dims[2], 0);
      for (const std::string& params : candidates) {
        ++listed;
        // The overlay checks rows that apply to the device with the dispatcher's rules.
        const std::string row = "* * * * " + std::string(family) + " * " + bucket + " " + params;
        EXPECT_PORTA_OK(porta_ops_set_tuning_overlay(ctx(), row.c_str())) << row;
        EXPECT_PORTA_OK(porta_ops_tuning_file_write(ctx(), row.c_str())) << row;
      }
    }
  }
  EXPECT_GT(listed, 0) << "the library lists no candidate for any family on this device";
  EXPECT_PORTA_OK(porta_ops_set_tuning_overlay(ctx(), nullptr));

  // A buffer too small is truncated, and the size needed is reported.
  size_t size = 0;
  ASSERT_PORTA_OK(porta_ops_tuning_candidates(ctx(), "ew", "f32", "large", nullptr, 0, &size));
  char small[4] = {'x', 'x', 'x', 'x'};
  ASSERT_PORTA_OK(
      porta_ops_tuning_candidates(ctx(), "ew", "f32", "large", small, sizeof(small), nullptr));
  EXPECT_EQ(std::string(small).size(), std::min<size_t>(size - 1, 3));
}

TEST_P(OpsTuningFileTest, BadArgumentsAreRefusedWithTheReason) {
  porta_ops_tuning_choice_t choice = PORTA_OPS_TUNING_CHOICE_INIT;
  EXPECT_EQ(porta_ops_tuning_choice(ctx(), "nosuch", "f32", "large", &choice),
            PORTA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(porta_last_error_message()).find("nosuch"), std::string::npos);
  EXPECT_EQ(porta_ops_tuning_choice(ctx(), "matmul", "f64", "large", &choice),
            PORTA_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(porta_ops_tuning_choice(ctx(), "matmul", "f32", "huge", &choice),
            PORTA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(porta_last_error_message()).find("huge"), std::string::npos);
  EXPECT_EQ(porta_ops_tuning_choice(ctx(), "matmul", "f32", "large", nullptr),
            PORTA_ERROR_INVALID_ARGUMENT);
  choice.struct_size = 8;
  EXPECT_EQ(porta_ops_tuning_choice(ctx(), "matmul", "f32", "large", &choice),
            PORTA_ERROR_INVALID_ARGUMENT);
  porta_ops_tuning_file_info_t info = PORTA_OPS_TUNING_FILE_INFO_INIT;
  info.struct_size = 8;
  EXPECT_EQ(porta_ops_tuning_file_status(ctx(), &info), PORTA_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(porta_ops_tuning_file_status(ctx(), nullptr), PORTA_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(porta_ops_tuning_file_status(nullptr, &info), PORTA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(porta_ops_tuning_candidates(ctx(), "ew", "f32", "large", nullptr, 16, nullptr),
            PORTA_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(porta_ops_tuning_candidates(ctx(), "ew", "f8", "large", nullptr, 0, nullptr),
            PORTA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(porta_last_error_message()).find("f8"), std::string::npos);
  int64_t dims[3];
  EXPECT_EQ(porta_ops_tuning_shape("ew", "gemv", dims), PORTA_ERROR_NOT_FOUND);
  EXPECT_EQ(porta_ops_tuning_shape("ew", "large", nullptr), PORTA_ERROR_INVALID_ARGUMENT);
  // A row that does not parse, or that the device cannot run, is never written.
  EXPECT_EQ(porta_ops_tuning_file_write(ctx(), "* * * * matmul f32 large tm=64"),
            PORTA_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(porta_ops_tuning_file_write(ctx(), "* * * * ew f32 large wg=3"),
            PORTA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(porta_last_error_message()).find("line 1"), std::string::npos)
      << porta_last_error_message();
  EXPECT_EQ(porta_ops_tuning_file_write(ctx(), nullptr), PORTA_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(FileInfo(Loaded()).state, PORTA_OPS_TUNING_FILE_ABSENT);
  // Unknown context flags.
  porta_ops_context_options_t options = PORTA_OPS_CONTEXT_OPTIONS_INIT;
  options.flags = 0x80u;
  porta_ops_context_t context = nullptr;
  EXPECT_EQ(porta_ops_context_create(device_, &options, &context), PORTA_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(context, nullptr);
  // Without a cache folder there is nowhere to write.
  ScopedVariable no_cache("PORTA_CACHE_DIR", "off");
  porta_ops_context_t uncached = Loaded();
  const porta_ops_tuning_file_info_t none = FileInfo(uncached);
  EXPECT_EQ(none.state, PORTA_OPS_TUNING_FILE_OFF);
  EXPECT_STREQ(none.path, "");
  EXPECT_EQ(porta_ops_tuning_file_write(uncached, ""), PORTA_ERROR_UNSUPPORTED);
}

PORTA_CTS_INSTANTIATE(OpsTuningFileTest);

}  // namespace
}  // namespace porta_cts
