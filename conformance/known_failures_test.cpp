// Self-test of the CTS's known-failure machinery: glob matching, table lookup, how a result is
// classified with and without --run-known-failures, and the --known-failures file parser.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "conformance/known_failures.h"

namespace porta_cts {
namespace {

TEST(GlobMatchTest, LiteralsWildcardsAndAnchoring) {
  EXPECT_TRUE(GlobMatch("EventTest.Elapsed", "EventTest.Elapsed"));
  EXPECT_FALSE(GlobMatch("EventTest.Elapsed", "EventTest.ElapsedTime"));
  EXPECT_FALSE(GlobMatch("EventTest.ElapsedTime", "EventTest.Elapsed"));
  EXPECT_TRUE(GlobMatch("EventTest.Elapsed*", "EventTest.ElapsedTimeIsNonNegative"));
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("*", "anything"));
  EXPECT_FALSE(GlobMatch("", "x"));
  EXPECT_TRUE(GlobMatch("", ""));
  EXPECT_TRUE(GlobMatch("*Test.*Copy*", "MemoryTest.CopyDeviceToDevice"));
  EXPECT_FALSE(GlobMatch("*Test.*Copy*", "MemoryTest.Fill"));
  EXPECT_TRUE(GlobMatch("Memory?est.*", "MemoryTest.Fill"));
  EXPECT_FALSE(GlobMatch("Memory?est.*", "MemoryTst.Fill"));
  // Backtracking: the first '*' must not swallow what the rest needs.
  EXPECT_TRUE(GlobMatch("*a*b", "xaxxbxab"));
  EXPECT_FALSE(GlobMatch("*a*b", "xaxxbxa"));
}

constexpr KnownFailure kTable[] = {
    {"opencl", "pthread", "EventTest.Elapsed*", "timestamps are host times"},
    {"*", "", "ThreadingTest.*", "every backend"},
    {"vulkan", "", "MemoryTest.LargeBuffer", "lavapipe limit"},
};

TEST(FindKnownFailureTest, MatchesBackendDeviceAndTest) {
  const KnownFailure* entry =
      FindKnownFailure(kTable, "opencl", "cpu-pthread-x86", "EventTest.ElapsedTimeIsNonNegative");
  ASSERT_NE(entry, nullptr);
  EXPECT_STREQ(entry->reason, "timestamps are host times");
  // The device substring must match.
  EXPECT_EQ(FindKnownFailure(kTable, "opencl", "NVIDIA A100", "EventTest.ElapsedTime"), nullptr);
  // The backend must match exactly, not as a prefix.
  EXPECT_EQ(FindKnownFailure(kTable, "opencl2", "pthread", "EventTest.ElapsedTime"), nullptr);
  // "*" matches every backend, "" every device.
  entry = FindKnownFailure(kTable, "cpu", "Any CPU", "ThreadingTest.ConcurrentObjectChurn");
  ASSERT_NE(entry, nullptr);
  EXPECT_STREQ(entry->reason, "every backend");
  EXPECT_NE(FindKnownFailure(kTable, "vulkan", "llvmpipe", "MemoryTest.LargeBuffer"), nullptr);
  EXPECT_EQ(FindKnownFailure(kTable, "vulkan", "llvmpipe", "MemoryTest.LargeBufferX"), nullptr);
  EXPECT_EQ(FindKnownFailure({}, "cpu", "x", "A.B"), nullptr);
}

TEST(ClassifyOutcomeTest, WithoutAKnownFailure) {
  EXPECT_EQ(ClassifyOutcome(false, false, nullptr, false), Outcome::kPassed);
  EXPECT_EQ(ClassifyOutcome(true, false, nullptr, false), Outcome::kFailed);
  EXPECT_EQ(ClassifyOutcome(false, true, nullptr, false), Outcome::kSkipped);
}

TEST(ClassifyOutcomeTest, KnownFailureIsInvertedByDefault) {
  const KnownFailure* known = &kTable[0];
  EXPECT_EQ(ClassifyOutcome(true, false, known, false), Outcome::kKnownFailure);
  EXPECT_EQ(ClassifyOutcome(false, false, known, false), Outcome::kUnexpectedPass);
  EXPECT_EQ(ClassifyOutcome(false, true, known, false), Outcome::kSkipped);
}

TEST(ClassifyOutcomeTest, RunKnownFailuresRestoresNormalSemantics) {
  const KnownFailure* known = &kTable[0];
  EXPECT_EQ(ClassifyOutcome(true, false, known, true), Outcome::kFailed);
  EXPECT_EQ(ClassifyOutcome(false, false, known, true), Outcome::kPassed);
}

TEST(KnownFailuresTableTest, EveryEntryIsComplete) {
  for (const KnownFailure& entry : KnownFailures()) {
    ASSERT_NE(entry.backend, nullptr);
    ASSERT_NE(entry.device, nullptr);
    ASSERT_NE(entry.test, nullptr);
    ASSERT_NE(entry.reason, nullptr);
    EXPECT_STRNE(entry.reason, "") << "a known failure needs a reason: " << entry.test;
    EXPECT_NE(std::string(entry.test).find('.'), std::string::npos)
        << "test patterns are Suite.Test: " << entry.test;
  }
}

// Parses |text|; returns the error ("" when it parsed).
std::string ParseError(std::string_view text) {
  KnownFailureFile file;
  std::string error;
  return file.Parse(text, "kf.txt", &error) ? "" : error;
}

TEST(KnownFailureFileTest, ParsesEntriesCommentsBlanksAndCrlf) {
  KnownFailureFile file;
  std::string error;
  ASSERT_TRUE(
      file.Parse("# backend | device | test | reason\n"
                 "\n"
                 "   \t\n"
                 "  acme_npu | NPU-2 | EventTest.Elapsed* | no timestamps (ACME-1)\r\n"
                 "*|*|Ops*.Matmul?| a | reason | with bars\n"
                 "level_zero | Arc A770 | MemoryTest.Fill | last line without newline",
                 "kf.txt", &error))
      << error;
  ASSERT_EQ(file.entries().size(), 3u);
  EXPECT_STREQ(file.entries()[0].backend, "acme_npu");
  EXPECT_STREQ(file.entries()[0].device, "NPU-2");
  EXPECT_STREQ(file.entries()[0].test, "EventTest.Elapsed*");
  EXPECT_STREQ(file.entries()[0].reason, "no timestamps (ACME-1)");
  // "*" as the device matches every device; the reason keeps its '|'.
  EXPECT_STREQ(file.entries()[1].device, "");
  EXPECT_STREQ(file.entries()[1].reason, "a | reason | with bars");
  EXPECT_STREQ(file.entries()[2].device, "Arc A770");
  EXPECT_STREQ(file.entries()[2].reason, "last line without newline");
  // The entries match like the compiled-in table's.
  EXPECT_NE(FindKnownFailure(file.entries(), "acme_npu", "ACME NPU-2 rev B",
                             "EventTest.ElapsedTimeIsNonNegative"),
            nullptr);
  EXPECT_EQ(FindKnownFailure(file.entries(), "acme_npu", "ACME NPU-3", "EventTest.Elapsed"),
            nullptr);
  EXPECT_NE(FindKnownFailure(file.entries(), "cpu", "any", "OpsMatmulTest.Matmul1"), nullptr);
}

TEST(KnownFailureFileTest, EmptyTextHasNoEntries) {
  KnownFailureFile file;
  std::string error;
  EXPECT_TRUE(file.Parse("", "kf.txt", &error));
  EXPECT_TRUE(file.Parse("# only a comment\n\n", "kf.txt", &error));
  EXPECT_TRUE(file.entries().empty());
}

TEST(KnownFailureFileTest, ErrorsNameTheLineAndTheField) {
  EXPECT_EQ(ParseError("# ok\ncpu | * | A.B\n"),
            "kf.txt:2: expected 4 fields separated by '|' (backend | device | test | reason), "
            "found 3 in 'cpu | * | A.B'");
  EXPECT_EQ(ParseError("cpu\n"),
            "kf.txt:1: expected 4 fields separated by '|' (backend | device | test | reason), "
            "found 1 in 'cpu'");
  EXPECT_EQ(ParseError(" | * | A.B | r"),
            "kf.txt:1: field 1 (backend) is empty; write a backend name or *");
  EXPECT_EQ(ParseError("open cl | * | A.B | r"),
            "kf.txt:1: field 1 (backend) 'open cl' is not a backend name (letters, digits, '_', "
            "'.', '-') or *");
  EXPECT_EQ(ParseError("cpu |  | A.B | r"),
            "kf.txt:1: field 2 (device) is empty; write a part of the device name, or * for every "
            "device");
  EXPECT_EQ(ParseError("cpu | * |  | r"),
            "kf.txt:1: field 3 (test) is empty; write a Suite.Test pattern");
  EXPECT_EQ(ParseError("cpu | * | Devices/A.B/cpu_0 | r"),
            "kf.txt:1: field 3 (test) 'Devices/A.B/cpu_0' has a '/': write Suite.Test without the "
            "\"Devices/\" prefix and the \"/<device>\" suffix");
  EXPECT_EQ(
      ParseError("cpu | * | A.B C | r"),
      "kf.txt:1: field 3 (test) 'A.B C' may hold only letters, digits, '_', '.', '*' and '?'");
  EXPECT_EQ(ParseError("cpu | * | MemoryTest | r"),
            "kf.txt:1: field 3 (test) 'MemoryTest' can never match: test names are Suite.Test (add "
            "the suite, or a *)");
  EXPECT_EQ(ParseError("cpu | * | A.B |  "),
            "kf.txt:1: field 4 (reason) is empty; say why the test fails");
  EXPECT_EQ(ParseError("cpu | * | A.B | r\n\ncpu | * | A.B | bad\x01"
                       "byte"),
            "kf.txt:3: column 20: control character '\\x01'");
  EXPECT_EQ(ParseError(std::string_view("cpu | * | A.B | nul\0", 20)),
            "kf.txt:1: column 20: control character '\\x00'");
}

TEST(KnownFailureFileTest, ErrorsQuoteABoundedPart) {
  const std::string error = ParseError(std::string(100000, 'x'));
  EXPECT_LT(error.size(), 200u) << error;
  EXPECT_NE(error.find("kf.txt:1: expected 4 fields"), std::string::npos) << error;
}

TEST(KnownFailureFileTest, LoadReportsMissingFilesAndFolders) {
  KnownFailureFile file;
  std::string error;
  EXPECT_FALSE(file.Load("/nonexistent/kf.txt", &error));
  EXPECT_EQ(error, "/nonexistent/kf.txt: cannot open the known-failures file");
  EXPECT_FALSE(file.Load("/", &error));
  EXPECT_EQ(error, "/: is a folder, not a known-failures file");
}

TEST(OutcomeNameTest, NamesAreDistinct) {
  EXPECT_STREQ(OutcomeName(Outcome::kUnexpectedPass), "UNEXPECTED PASS");
  EXPECT_STREQ(OutcomeName(Outcome::kKnownFailure), "known failure");
  EXPECT_STRNE(OutcomeName(Outcome::kPassed), OutcomeName(Outcome::kFailed));
}

}  // namespace
}  // namespace porta_cts
