// Known failures: tests that are expected to fail on a given backend and device, declared in code
// with the reason. By default such a test still runs, and its result is inverted: a failure is
// reported as a known failure, a pass as an UNEXPECTED PASS (which fails the run, so a fixed bug
// gets its entry removed). --run-known-failures restores normal pass/fail semantics.
#ifndef PORTA_CONFORMANCE_KNOWN_FAILURES_H_
#define PORTA_CONFORMANCE_KNOWN_FAILURES_H_

#include <span>
#include <string_view>

namespace porta_cts {

// One declared known failure.
struct KnownFailure {
  // Backend name as in porta_device_info_t.backend; "*" matches every backend.
  const char* backend;
  // Substring of the device name (case-sensitive); "" matches every device.
  const char* device;
  // Glob ('*' any run, '?' one character) over "Suite.Test", e.g. "EventTest.Elapsed*".
  const char* test;
  // Why it fails, with an issue reference where there is one. Printed with the result.
  const char* reason;
};

// The table of this build.
std::span<const KnownFailure> KnownFailures();

// True when |text| matches the glob |pattern| as a whole.
bool GlobMatch(std::string_view pattern, std::string_view text);

// Returns the first entry of |table| that matches, or nullptr.
const KnownFailure* FindKnownFailure(std::span<const KnownFailure> table, std::string_view backend,
                                     std::string_view device_name, std::string_view test_name);

// How a finished test counts in the summary.
enum class Outcome { kPassed, kFailed, kSkipped, kKnownFailure, kUnexpectedPass };

// Classifies a finished test. |known| is the matching entry or nullptr; with
// |run_known_failures| the entry is ignored.
Outcome ClassifyOutcome(bool failed, bool skipped, const KnownFailure* known,
                        bool run_known_failures);

// "passed", "FAILED", "skipped", "known failure", "UNEXPECTED PASS".
const char* OutcomeName(Outcome outcome);

}  // namespace porta_cts

#endif  // PORTA_CONFORMANCE_KNOWN_FAILURES_H_
