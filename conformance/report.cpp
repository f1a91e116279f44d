// The CTS reporter: known-failure inversion, per-device summary and JUnit XML (see report.h).
#include "conformance/report.h"

#include <algorithm>
#include <array>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "conformance/cts.h"
#include "conformance/isolate.h"

namespace porta_cts {
namespace {

// "Devices/MemoryTest" -> "MemoryTest"; "Copy/cpu_0" -> ("Copy", "cpu_0").
std::string StripPrefix(const std::string& suite) {
  const size_t slash = suite.find('/');
  return slash == std::string::npos ? suite : suite.substr(slash + 1);
}

void SplitName(const std::string& name, std::string* test, std::string* device_id) {
  const size_t slash = name.rfind('/');
  if (slash == std::string::npos) {
    *test = name;
    device_id->clear();
  } else {
    *test = name.substr(0, slash);
    *device_id = name.substr(slash + 1);
  }
}

// The operator library's suites are named Ops*; the summary counts them apart from the runtime
// API's, since a backend can pass the one and fail the other. main.cpp's --suites uses the same
// rule.
bool IsOpsSuite(const std::string& suite) {
  return StripPrefix(suite).rfind("Ops", 0) == 0;
}

constexpr const char* kGroupNames[2] = {"api", "ops"};

// The entry of the compiled-in table or, after it, of --known-failures FILE that matches.
const KnownFailure* FindKnown(const DeviceParam& device, const std::string& match_name) {
  const KnownFailure* known =
      FindKnownFailure(KnownFailures(), device.backend, device.name, match_name);
  if (known == nullptr && Env().known_failure_file != nullptr) {
    known = FindKnownFailure(Env().known_failure_file->entries(), device.backend, device.name,
                             match_name);
  }
  return known;
}

const DeviceParam* FindDevice(const std::string& id) {
  for (const DeviceParam& param : Env().devices) {
    if (param.id == id) return &param;
  }
  return nullptr;
}

std::string XmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // XML 1.0 forbids most control characters even escaped; drop them.
        if (c < 0x20 && c != '\n' && c != '\t' && c != '\r') break;
        out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace

TestRecord NewRecord(const std::string& suite, const std::string& name) {
  TestRecord record;
  record.suite = suite;
  record.name = name;
  std::string test;
  SplitName(name, &test, &record.device_id);
  record.match_name = StripPrefix(suite) + "." + test;
  return record;
}

void Classify(TestRecord* record, bool failed, bool skipped) {
  const DeviceParam* device = FindDevice(record->device_id);
  const KnownFailure* known = device == nullptr ? nullptr : FindKnown(*device, record->match_name);
  if (known != nullptr) record->known_reason = known->reason;
  record->outcome = ClassifyOutcome(failed, skipped, known, Env().run_known_failures);
}

std::string SuiteRelativePath(const std::string& path) {
  // The last "conformance/" component: the suite's sources, with its subfolders (ops/).
  const std::string folder = "conformance/";
  for (size_t pos = path.rfind(folder); pos != std::string::npos;
       pos = pos == 0 ? std::string::npos : path.rfind(folder, pos - 1)) {
    if (pos == 0 || path[pos - 1] == '/') return path.substr(pos);
  }
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string SignalName(int signal) {
  static constexpr struct {
    int number;
    const char* name;
  } kSignals[] = {{SIGSEGV, "SIGSEGV"}, {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"},
                  {SIGFPE, "SIGFPE"},   {SIGILL, "SIGILL"},   {SIGKILL, "SIGKILL"},
                  {SIGTERM, "SIGTERM"}, {SIGTRAP, "SIGTRAP"}, {SIGPIPE, "SIGPIPE"},
                  {SIGSYS, "SIGSYS"},   {SIGINT, "SIGINT"},   {SIGHUP, "SIGHUP"}};
  for (const auto& entry : kSignals) {
    if (entry.number == signal) {
      return std::string(entry.name) + " (" + strsignal(signal) + ")";
    }
  }
  return "signal " + std::to_string(signal);
}

TestRecord AbortedRecord(const std::string& suite, const std::string& name, int signal,
                         int exit_code, int timeout_seconds, double seconds) {
  TestRecord record = NewRecord(suite, name);
  record.seconds = seconds;
  if (timeout_seconds > 0) {
    record.failures.push_back("timed out after " + std::to_string(timeout_seconds) +
                              " s (the test process was killed; --test-timeout sets the limit)");
  } else if (signal > 0) {
    record.failures.push_back("crashed: the test process was killed by " + SignalName(signal));
  } else {
    record.failures.push_back("the test process exited with status " + std::to_string(exit_code) +
                              " during the test");
  }
  record.aborted = record.failures.front();
  Classify(&record, true, false);
  return record;
}

void Reporter::OnTestProgramStart(const testing::UnitTest& unit_test) {
  if (child_ == nullptr) return;
  // gtest has applied the filter by now: should_run() is what this process will run.
  for (int i = 0; i < unit_test.total_test_suite_count(); ++i) {
    const testing::TestSuite* suite = unit_test.GetTestSuite(i);
    for (int j = 0; j < suite->total_test_count(); ++j) {
      const testing::TestInfo* test = suite->GetTestInfo(j);
      if (test->should_run()) WritePlanned(child_, suite->name(), test->name());
    }
  }
  std::fflush(child_);
}

void Reporter::OnTestStart(const testing::TestInfo& test) {
  current_failures_.clear();
  if (child_ != nullptr) {
    WriteStarted(child_, test.test_suite_name(), test.name());
    std::fflush(child_);
  }
  const TestRecord record = NewRecord(test.test_suite_name(), test.name());
  const DeviceParam* device = FindDevice(record.device_id);
  if (device == nullptr || Env().run_known_failures) return;
  const KnownFailure* known = FindKnown(*device, record.match_name);
  if (known != nullptr) {
    std::printf("[ KNOWN    ] expected to fail on %s: %s\n", record.device_id.c_str(),
                known->reason);
    std::fflush(stdout);
  }
}

void Reporter::OnTestPartResult(const testing::TestPartResult& result) {
  if (!result.failed()) return;
  std::ostringstream text;
  if (result.file_name() != nullptr) {
    text << SuiteRelativePath(result.file_name()) << ":" << result.line_number() << "\n";
  }
  text << result.message();
  current_failures_.push_back(text.str());
}

void Reporter::OnTestEnd(const testing::TestInfo& test) {
  TestRecord record = NewRecord(test.test_suite_name(), test.name());
  const testing::TestResult& result = *test.result();
  record.seconds = static_cast<double>(result.elapsed_time()) / 1000.0;
  record.failures = std::move(current_failures_);
  current_failures_.clear();
  Classify(&record, result.Failed(), result.Skipped());
  if (record.outcome == Outcome::kSkipped) {
    record.skip_reason = TakeSkipReason(record.suite + "." + record.name);
    if (record.skip_reason.empty()) record.skip_reason = "(no capability recorded)";
  }
  if (record.outcome == Outcome::kKnownFailure || record.outcome == Outcome::kUnexpectedPass) {
    std::printf("[ %-8s ] %s.%s: %s\n",
                record.outcome == Outcome::kKnownFailure ? "KNOWN" : "UNEXPECT",
                record.suite.c_str(), record.name.c_str(),
                record.outcome == Outcome::kKnownFailure
                    ? ("failed as declared: " + record.known_reason).c_str()
                    : ("UNEXPECTED PASS of a known failure: " + record.known_reason).c_str());
    std::fflush(stdout);
  }
  if (child_ != nullptr) {
    WriteFinished(child_, record);
    std::fflush(child_);
  } else {
    results_->Add(std::move(record));
  }
}

void Reporter::OnTestProgramEnd(const testing::UnitTest& unit_test) {
  if (child_ == nullptr) return;
  WriteDone(child_, unit_test.ad_hoc_test_result().Failed());
  std::fflush(child_);
}

int Results::Finish(double elapsed_seconds, bool failed_outside) {
  bool failed = failed_outside;
  for (const TestRecord& record : records_) {
    if (record.outcome == Outcome::kFailed || record.outcome == Outcome::kUnexpectedPass) {
      failed = true;
    }
  }
  bool junit_failed = false;
  if (!junit_path_.empty() && !WriteJUnit(elapsed_seconds)) {
    std::fprintf(stderr, "porta-cts: could not write JUnit XML to %s\n", junit_path_.c_str());
    junit_failed = true;
  }
  const std::vector<std::string> incomplete = PrintSummary(failed || junit_failed);
  if (failed || junit_failed) return kExitFail;
  return incomplete.empty() ? kExitPass : kExitIncompleteCoverage;
}

std::vector<std::string> Results::PrintSummary(bool failed) const {
  // Per device: counts of the API suites [0] and the operator-library suites [1]; skip reasons
  // and the failed tests of both groups are gathered in [0].
  std::map<std::string, std::array<DeviceCounts, 2>> counts;
  // Devices first in runtime order, so a device whose tests were all filtered out still shows.
  std::vector<std::string> order;
  for (const DeviceParam& param : Env().devices) order.push_back(param.id);
  for (const TestRecord& record : records_) {
    const std::string key = record.device_id.empty() ? "(no device)" : record.device_id;
    if (counts.find(key) == counts.end() &&
        std::find(order.begin(), order.end(), key) == order.end()) {
      order.push_back(key);
    }
    std::array<DeviceCounts, 2>& groups = counts[key];
    DeviceCounts& c = groups[IsOpsSuite(record.suite) ? 1 : 0];
    DeviceCounts& lists = groups[0];
    const std::string full = record.suite + "." + record.name;
    switch (record.outcome) {
      case Outcome::kPassed:
        ++c.passed;
        break;
      case Outcome::kFailed:
        ++c.failed;
        lists.failed_tests.push_back(record.aborted.empty() ? full
                                                            : full + " (" + record.aborted + ")");
        break;
      case Outcome::kSkipped:
        ++c.skipped;
        ++lists.skip_reasons[record.skip_reason];
        break;
      case Outcome::kKnownFailure:
        ++c.known_failures;
        break;
      case Outcome::kUnexpectedPass:
        ++c.unexpected_passes;
        lists.unexpected_tests.push_back(full + " (" + record.known_reason + ")");
        break;
    }
  }

  std::vector<std::string> incomplete;
  std::printf("\n==================== porta-cts summary ====================\n");
  for (const std::string& id : order) {
    const std::array<DeviceCounts, 2>& groups = counts[id];
    const DeviceParam* device = FindDevice(id);
    if (device != nullptr) {
      std::printf("%s  [%s] %s\n", id.c_str(), device->backend.c_str(), device->name.c_str());
    } else {
      std::printf("%s\n", id.c_str());
    }
    auto ran = [](const DeviceCounts& c) {
      return c.passed + c.failed + c.skipped + c.known_failures + c.unexpected_passes;
    };
    for (size_t g = 0; g < groups.size(); ++g) {
      const DeviceCounts& c = groups[g];
      // A group none of whose tests ran (--suites, --gtest_filter) is left out, unless neither ran.
      if (ran(c) == 0 && !(g == 0 && ran(groups[1]) == 0)) continue;
      std::printf(
          "  %s: passed %d, failed %d, skipped %d, known failures %d, unexpected passes %d\n",
          kGroupNames[g], c.passed, c.failed, c.skipped, c.known_failures, c.unexpected_passes);
    }
    const DeviceCounts& lists = groups[0];
    for (const auto& [reason, n] : lists.skip_reasons) {
      std::printf("  skipped for lack of %s: %d\n", reason.c_str(), n);
    }
    const int total = ran(groups[0]) + ran(groups[1]);
    const int skipped = groups[0].skipped + groups[1].skipped;
    if (device != nullptr && total > 0 && skipped > kIncompleteShare * total) {
      std::printf("  INCOMPLETE COVERAGE: skipped %d of %d tests (%.0f%%, more than %.0f%%)\n",
                  skipped, total, 100.0 * skipped / total, 100.0 * kIncompleteShare);
      incomplete.push_back(id);
    }
    for (const std::string& test : lists.failed_tests) std::printf("  FAILED: %s\n", test.c_str());
    for (const std::string& test : lists.unexpected_tests) {
      std::printf("  UNEXPECTED PASS: %s\n", test.c_str());
    }
  }
  if (failed) {
    std::printf("Result: FAIL\n");
  } else if (!incomplete.empty()) {
    std::string ids;
    for (const std::string& id : incomplete) ids += (ids.empty() ? "" : ", ") + id;
    std::printf("Result: INCOMPLETE COVERAGE on %s (exit status %d)\n", ids.c_str(),
                static_cast<int>(kExitIncompleteCoverage));
  } else {
    std::printf("Result: PASS\n");
  }
  std::fflush(stdout);
  return incomplete;
}

bool Results::WriteJUnit(double elapsed_seconds) const {
  std::map<std::string, std::vector<const TestRecord*>> suites;
  std::vector<std::string> suite_order;
  int failures = 0, skipped = 0;
  for (const TestRecord& record : records_) {
    if (suites.find(record.suite) == suites.end()) suite_order.push_back(record.suite);
    suites[record.suite].push_back(&record);
    if (record.outcome == Outcome::kFailed || record.outcome == Outcome::kUnexpectedPass) {
      ++failures;
    }
    if (record.outcome == Outcome::kSkipped || record.outcome == Outcome::kKnownFailure) {
      ++skipped;
    }
  }
  std::ofstream out(junit_path_);
  if (!out) return false;
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out << "<testsuites name=\"porta-cts\" tests=\"" << records_.size() << "\" failures=\""
      << failures << "\" skipped=\"" << skipped << "\" errors=\"0\" time=\"" << elapsed_seconds
      << "\">\n";
  for (const std::string& suite : suite_order) {
    const std::vector<const TestRecord*>& records = suites[suite];
    int suite_failures = 0, suite_skipped = 0;
    double seconds = 0;
    for (const TestRecord* record : records) {
      seconds += record->seconds;
      suite_failures +=
          record->outcome == Outcome::kFailed || record->outcome == Outcome::kUnexpectedPass;
      suite_skipped +=
          record->outcome == Outcome::kSkipped || record->outcome == Outcome::kKnownFailure;
    }
    out << "  <testsuite name=\"" << XmlEscape(suite) << "\" tests=\"" << records.size()
        << "\" failures=\"" << suite_failures << "\" skipped=\"" << suite_skipped
        << "\" errors=\"0\" time=\"" << seconds << "\">\n";
    for (const TestRecord* record : records) {
      out << "    <testcase classname=\"" << XmlEscape(suite) << "\" name=\""
          << XmlEscape(record->name) << "\" time=\"" << record->seconds << "\"";
      std::string failure_text;
      for (const std::string& failure : record->failures) failure_text += failure + "\n";
      switch (record->outcome) {
        case Outcome::kPassed:
          out << "/>\n";
          break;
        case Outcome::kFailed:
          out << ">\n      <failure message=\""
              << XmlEscape(record->failures.empty() ? "failed" : record->failures.front()) << "\">"
              << XmlEscape(failure_text) << "</failure>\n    </testcase>\n";
          break;
        case Outcome::kSkipped:
          out << ">\n      <skipped message=\"device lacks " << XmlEscape(record->skip_reason)
              << "\"/>\n    </testcase>\n";
          break;
        case Outcome::kKnownFailure:
          out << ">\n      <skipped message=\"known failure: " << XmlEscape(record->known_reason)
              << "\"/>\n      <system-out>" << XmlEscape(failure_text)
              << "</system-out>\n    </testcase>\n";
          break;
        case Outcome::kUnexpectedPass:
          out << ">\n      <failure message=\"UNEXPECTED PASS of known failure: "
              << XmlEscape(record->known_reason) << "\"/>\n    </testcase>\n";
          break;
      }
    }
    out << "  </testsuite>\n";
  }
  out << "</testsuites>\n";
  return static_cast<bool>(out);
}

}  // namespace porta_cts
