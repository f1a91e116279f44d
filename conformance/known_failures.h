// Known failures: tests that are expected to fail on a given backend and device, declared in code
// with the reason, or by a vendor in a file (--known-failures FILE, format below). By default
// such a test still runs, and its result is inverted: a failure is reported as a known failure, a
// pass as an UNEXPECTED PASS (which fails the run, so a fixed bug gets its entry removed).
// --run-known-failures restores normal pass/fail semantics.
#ifndef PORTA_CONFORMANCE_KNOWN_FAILURES_H_
#define PORTA_CONFORMANCE_KNOWN_FAILURES_H_

#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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

// Known failures read from a file. The text is one entry per line, four fields separated by '|'
// (blanks around a field are ignored):
//   backend | device | test | reason
//   # a comment; blank lines are ignored too
//   acme_npu | NPU-2 | EventTest.Elapsed* | the firmware timer runs at 1 ms resolution (ACME-1234)
// backend is a backend name ([A-Za-z0-9_.-]) or "*"; device a substring of the device name, or
// "*" for every device; test a glob over "Suite.Test" (letters, digits, '_', '.', '*', '?'; no
// "Devices/" prefix or "/<device>" suffix); reason the rest of the line, which may hold '|'.
class KnownFailureFile {
 public:
  KnownFailureFile() = default;
  KnownFailureFile(const KnownFailureFile&) = delete;
  KnownFailureFile& operator=(const KnownFailureFile&) = delete;

  // Parses |text| and adds its entries. |source| names the text in errors (a file name). Returns
  // false with "<source>:<line>: <what is wrong>" in *error at the first bad line; entries of
  // earlier lines stay added.
  bool Parse(std::string_view text, std::string_view source, std::string* error);
  // Reads and parses the file |path|; an unreadable file is an error too.
  bool Load(const std::string& path, std::string* error);

  std::span<const KnownFailure> entries() const { return entries_; }

 private:
  // Owns the text the entries point into (a deque never moves its elements).
  std::deque<std::string> text_;
  std::vector<KnownFailure> entries_;
};

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
