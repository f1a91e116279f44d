// The CTS's own result accounting: a gtest listener that applies the known-failure table, keeps
// per-device counts (with the capabilities behind each skip), prints the summary and writes
// JUnit XML in which known failures and unexpected passes carry their real meaning.
#ifndef PORTA_CONFORMANCE_REPORT_H_
#define PORTA_CONFORMANCE_REPORT_H_

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "conformance/known_failures.h"

namespace porta_cts {

// Listens to gtest and accounts every finished test per device.
class Reporter : public testing::EmptyTestEventListener {
 public:
  // |junit_path| empty: no XML is written.
  explicit Reporter(std::string junit_path);

  void OnTestStart(const testing::TestInfo& test) override;
  void OnTestPartResult(const testing::TestPartResult& result) override;
  void OnTestEnd(const testing::TestInfo& test) override;
  void OnTestProgramEnd(const testing::UnitTest& unit_test) override;

  // True when a test failed or passed unexpectedly, or gtest failed outside any test. Valid
  // after the program end event.
  bool run_failed() const { return run_failed_; }

 private:
  struct Record {
    std::string suite;
    std::string name;
    std::string device_id;
    // "Suite.Test" without the instantiation prefix and device suffix: what the table matches.
    std::string match_name;
    Outcome outcome = Outcome::kPassed;
    double seconds = 0;
    std::string skip_reason;
    std::string known_reason;
    std::vector<std::string> failures;
  };
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

  void PrintSummary() const;
  bool WriteJUnit(const testing::UnitTest& unit_test) const;

  std::string junit_path_;
  std::vector<std::string> current_failures_;
  std::vector<Record> records_;
  bool run_failed_ = false;
};

}  // namespace porta_cts

#endif  // PORTA_CONFORMANCE_REPORT_H_
