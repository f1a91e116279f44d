// The known-failure table and its matching rules (see known_failures.h).
#include "conformance/known_failures.h"

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace porta_cts {
namespace {

// Add an entry, above the sentinel, when a backend or driver has a confirmed bug the CTS catches,
// with the issue that tracks it in the reason. The entry keeps the test running (inverted) so the
// fix is noticed.
constexpr KnownFailure kKnownFailures[] = {
    {nullptr, nullptr, nullptr, nullptr},
};

// The longest stretch of a bad line quoted in an error.
constexpr size_t kQuoteLimit = 60;

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// |text| quoted for an error: at most kQuoteLimit characters, anything unprintable as \xNN.
std::string Quote(std::string_view text) {
  std::string out = "'";
  for (size_t i = 0; i < text.size() && i < kQuoteLimit; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > kQuoteLimit) out += "...";
  return out + "'";
}

bool IsBackendChar(unsigned char c) {
  return std::isalnum(c) || c == '_' || c == '.' || c == '-';
}

bool IsTestPatternChar(unsigned char c) {
  return std::isalnum(c) || c == '_' || c == '.' || c == '*' || c == '?';
}

// Checks one line's fields; returns "" or what is wrong.
std::string CheckFields(std::string_view backend, std::string_view device, std::string_view test,
                        std::string_view reason) {
  if (backend.empty()) return "field 1 (backend) is empty; write a backend name or *";
  if (backend != "*") {
    for (unsigned char c : backend) {
      if (!IsBackendChar(c)) {
        return "field 1 (backend) " + Quote(backend) +
               " is not a backend name (letters, digits, '_', '.', '-') or *";
      }
    }
  }
  if (device.empty()) {
    return "field 2 (device) is empty; write a part of the device name, or * for every device";
  }
  if (test.empty()) return "field 3 (test) is empty; write a Suite.Test pattern";
  if (test.find('/') != std::string_view::npos) {
    return "field 3 (test) " + Quote(test) +
           " has a '/': write Suite.Test without the \"Devices/\" prefix and the \"/<device>\" "
           "suffix";
  }
  for (unsigned char c : test) {
    if (!IsTestPatternChar(c)) {
      return "field 3 (test) " + Quote(test) +
             " may hold only letters, digits, '_', '.', '*' and '?'";
    }
  }
  if (test.find('.') == std::string_view::npos && test.find('*') == std::string_view::npos) {
    return "field 3 (test) " + Quote(test) +
           " can never match: test names are Suite.Test (add the suite, or a *)";
  }
  if (reason.empty()) return "field 4 (reason) is empty; say why the test fails";
  return "";
}

}  // namespace

bool KnownFailureFile::Parse(std::string_view text, std::string_view source, std::string* error) {
  size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto fail = [&](const std::string& what) {
      *error = std::string(source) + ":" + std::to_string(line_number) + ": " + what;
      return false;
    };
    for (size_t i = 0; i < line.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(line[i]);
      if ((c < 0x20 && c != '\t') || c == 0x7f) {
        return fail("column " + std::to_string(i + 1) + ": control character " +
                    Quote(line.substr(i, 1)));
      }
    }
    const std::string_view trimmed = Trim(line);
    if (trimmed.empty() || trimmed.front() == '#') continue;
    std::string_view fields[4];
    std::string_view rest = line;
    for (int f = 0; f < 3; ++f) {
      const size_t bar = rest.find('|');
      if (bar == std::string_view::npos) {
        return fail(
            "expected 4 fields separated by '|' (backend | device | test | reason), found " +
            std::to_string(f + 1) + " in " + Quote(trimmed));
      }
      fields[f] = Trim(rest.substr(0, bar));
      rest.remove_prefix(bar + 1);
    }
    fields[3] = Trim(rest);
    const std::string problem = CheckFields(fields[0], fields[1], fields[2], fields[3]);
    if (!problem.empty()) return fail(problem);
    auto keep = [this](std::string_view field) { return text_.emplace_back(field).c_str(); };
    const char* backend = keep(fields[0]);
    const char* device = fields[1] == "*" ? "" : keep(fields[1]);
    const char* test = keep(fields[2]);
    const char* reason = keep(fields[3]);
    entries_.push_back(KnownFailure{backend, device, test, reason});
  }
  return true;
}

bool KnownFailureFile::Load(const std::string& path, std::string* error) {
  std::error_code ignored;
  if (std::filesystem::is_directory(path, ignored)) {
    *error = path + ": is a folder, not a known-failures file";
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = path + ": cannot open the known-failures file";
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    *error = path + ": cannot read the known-failures file";
    return false;
  }
  return Parse(text.str(), path, error);
}

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
