// The known-failure table and its matching rules (see known_failures.h).
#include "conformance/known_failures.h"

#include <string>

namespace porta_cts {
namespace {

// Add an entry, above the sentinel, when a backend or driver has a confirmed bug the CTS catches,
// with the issue that tracks it in the reason. The entry keeps the test running (inverted) so the
// fix is noticed.
constexpr KnownFailure kKnownFailures[] = {
    {"vulkan", "llvmpipe", "EventTest.ReRecordingReplacesThePoint",
     "lavapipe has one queue, which the backend shares between streams: the record on an idle "
     "stream is submitted behind the gated stream's kernel and completes only after it (the "
     "backend could complete a record on a stream with nothing pending on the host; issue 11)"},
    {nullptr, nullptr, nullptr, nullptr},
};

}  // namespace

std::span<const KnownFailure> KnownFailures() {
  // The sentinel keeps the array non-empty while the table has no entries.
  return std::span<const KnownFailure>(kKnownFailures, std::size(kKnownFailures) - 1);
}

bool GlobMatch(std::string_view pattern, std::string_view text) {
  // Iterative matcher with one backtrack point for the last '*': linear in practice, and no
  // recursion depth to worry about on long names.
  size_t p = 0;
  size_t t = 0;
  size_t star = std::string_view::npos;
  size_t star_text = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_text = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++star_text;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

const KnownFailure* FindKnownFailure(std::span<const KnownFailure> table, std::string_view backend,
                                     std::string_view device_name, std::string_view test_name) {
  for (const KnownFailure& entry : table) {
    if (entry.backend == nullptr || entry.test == nullptr) continue;
    const std::string_view entry_backend = entry.backend;
    if (entry_backend != "*" && entry_backend != backend) continue;
    if (entry.device != nullptr && device_name.find(entry.device) == std::string_view::npos) {
      continue;
    }
    if (!GlobMatch(entry.test, test_name)) continue;
    return &entry;
  }
  return nullptr;
}

Outcome ClassifyOutcome(bool failed, bool skipped, const KnownFailure* known,
                        bool run_known_failures) {
  if (known == nullptr || run_known_failures) {
    if (failed) return Outcome::kFailed;
    return skipped ? Outcome::kSkipped : Outcome::kPassed;
  }
  // A known failure that skips says nothing about the bug; it stays a skip.
  if (failed) return Outcome::kKnownFailure;
  return skipped ? Outcome::kSkipped : Outcome::kUnexpectedPass;
}

const char* OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kPassed:
      return "passed";
    case Outcome::kFailed:
      return "FAILED";
    case Outcome::kSkipped:
      return "skipped";
    case Outcome::kKnownFailure:
      return "known failure";
    case Outcome::kUnexpectedPass:
      return "UNEXPECTED PASS";
  }
  return "unknown";
}

}  // namespace porta_cts
