// Self-test of the CTS's known-failure machinery: glob matching, table lookup and how a result
// is classified with and without --run-known-failures.
#include <gtest/gtest.h>

#include <string>

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

TEST(OutcomeNameTest, NamesAreDistinct) {
  EXPECT_STREQ(OutcomeName(Outcome::kUnexpectedPass), "UNEXPECTED PASS");
  EXPECT_STREQ(OutcomeName(Outcome::kKnownFailure), "known failure");
  EXPECT_STRNE(OutcomeName(Outcome::kPassed), OutcomeName(Outcome::kFailed));
}

}  // namespace
}  // namespace porta_cts
