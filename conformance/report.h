// The CTS's own result accounting: a gtest listener that applies the known-failure tables (the
// compiled-in one and --known-failures FILE), keeps per-device counts (with the capabilities
// behind each skip), prints the summary, flags incomplete coverage and writes JUnit XML in which
// known failures, unexpected passes and crashed tests carry their real meaning.
#ifndef PORTA_CONFORMANCE_REPORT_H_
#define PORTA_CONFORMANCE_REPORT_H_

#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "conformance/known_failures.h"

namespace porta_cts {

// porta-cts's exit statuses (docs/backend_sdk.md lists them for vendors).
enum ExitStatus : int {
  // Every test that ran passed (or failed as a declared known failure), and no device skipped
  // more than kIncompleteShare of its tests.
  kExitPass = 0,
  // A test failed, crashed, timed out or passed unexpectedly, or the run could not be done (no
  // device, nothing selected, JUnit file not written).
  kExitFail = 1,
  // Bad command line or an unreadable or malformed --known-failures file.
  kExitUsage = 2,
  // Nothing failed, but a device skipped more than kIncompleteShare of its tests.
  kExitIncompleteCoverage = 3,
};

// A device that skips more than this share of the tests it ran is incomplete coverage.
inline constexpr double kIncompleteShare = 0.1;

// One finished test as the summary and the JUnit file count it.
struct TestRecord {
  // gtest's names: "Devices/MemoryTest" and "Alloc/cpu_0".
  std::string suite;
  std::string name;
  // "cpu_0"; empty for a test that is not per device (and for the process record below).
  std::string device_id;
  // "Suite.Test" without the instantiation prefix and device suffix: what the tables match.
  std::string match_name;
  Outcome outcome = Outcome::kPassed;
  double seconds = 0;
  std::string skip_reason;
  std::string known_reason;
  // Set when the test process did not finish the test: "crashed: ...", "timed out after N s".
  std::string aborted;
  // Failure messages, each "file:line\nmessage" (file relative to the Porta source tree).
  std::vector<std::string> failures;
};

// A record with the naming fields filled from gtest's suite and test names.
TestRecord NewRecord(const std::string& suite, const std::string& name);

// Sets record->outcome (and known_reason) from how the test ended, applying the known-failure
// tables unless --run-known-failures was given.
void Classify(TestRecord* record, bool failed, bool skipped);

// "/home/ci/porta/conformance/memory_test.cpp" -> "conformance/memory_test.cpp": a failure
// location a vendor can look up in the Porta sources of the release, whatever folder the CTS was
// built in. Paths outside conformance/ keep their last component.
std::string SuiteRelativePath(const std::string& path);

// The record of a test the test process did not finish: it crashed (|signal| > 0) or was killed
// after |timeout_seconds|, or exited with |exit_code| in the middle of it.
TestRecord AbortedRecord(const std::string& suite, const std::string& name, int signal,
                         int exit_code, int timeout_seconds, double seconds);

// "SIGSEGV (Segmentation fault)", or "signal 42".
std::string SignalName(int signal);

// Collects the records of a run and reports them.
class Results {
 public:
  // |junit_path| empty: no XML is written.
  explicit Results(std::string junit_path) : junit_path_(std::move(junit_path)) {}

  void Add(TestRecord record) { records_.push_back(std::move(record)); }
  const std::vector<TestRecord>& records() const { return records_; }

  // Prints the summary, writes the JUnit file and returns the exit status. |failed_outside|: a
  // failure outside any test (gtest's ad hoc result, a crash of the test process between tests).
  int Finish(double elapsed_seconds, bool failed_outside);

 private:
  struct DeviceCounts {
    int passed = 0;
    int failed = 0;
    int skipped = 0;
    int known_failures = 0;
    int unexpected_passes = 0;
    std::map<std::string, int> skip_reasons;
    std::vector<std::string> failed_tests;
    std::vector<std::string> unexpected_tests;
  };

  // Prints the summary; returns the ids of the devices with incomplete coverage.
  std::vector<std::string> PrintSummary(bool failed) const;
  bool WriteJUnit(double elapsed_seconds) const;

  std::string junit_path_;
  std::vector<TestRecord> records_;
};

// Listens to gtest and turns every finished test into a TestRecord: added to |results|, or, in
// the child process of --isolate (|child| not null), written to |child| as protocol lines.
class Reporter : public testing::EmptyTestEventListener {
 public:
  Reporter(Results* results, std::FILE* child) : results_(results), child_(child) {}

  void OnTestProgramStart(const testing::UnitTest& unit_test) override;
  void OnTestStart(const testing::TestInfo& test) override;
  void OnTestPartResult(const testing::TestPartResult& result) override;
  void OnTestEnd(const testing::TestInfo& test) override;
  void OnTestProgramEnd(const testing::UnitTest& unit_test) override;

 private:
  Results* results_;
  std::FILE* child_;
  std::vector<std::string> current_failures_;
};

}  // namespace porta_cts

#endif  // PORTA_CONFORMANCE_REPORT_H_
