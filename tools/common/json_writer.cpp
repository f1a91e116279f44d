#include "tools/common/json_writer.h"

#include <cinttypes>
#include <cmath>

namespace porta::tools {
namespace {

// Returns the length of the valid UTF-8 sequence starting at text[i], or 0 when it is invalid
// (overlong forms, surrogates and code points above U+10FFFF included).
size_t Utf8SequenceLength(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  size_t length = 0;
  uint32_t code_point = 0;
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    code_point = lead & 0x1Fu;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    code_point = lead & 0x0Fu;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    code_point = lead & 0x07u;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0u) != 0x80u) return 0;
    code_point = (code_point << 6) | (byte(i + k) & 0x3Fu);
  }
  if ((length == 3 && code_point < 0x800) || (length == 4 && code_point < 0x10000) ||
      (code_point >= 0xD800 && code_point <= 0xDFFF) || code_point > 0x10FFFF) {
    return 0;
  }
  return length;
}

}  // namespace

std::string JsonQuote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('"');
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        ++i;
        continue;
      case '\\':
        out += "\\\\";
        ++i;
        continue;
      case '\n':
        out += "\\n";
        ++i;
        continue;
      case '\r':
        out += "\\r";
        ++i;
        continue;
      case '\t':
        out += "\\t";
        ++i;
        continue;
      default:
        break;
    }
    if (c < 0x20 || c == 0x7F) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\u%04x", c);
      out += escaped;
      ++i;
      continue;
    }
    const size_t length = Utf8SequenceLength(text, i);
    if (length == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    out.append(text.substr(i, length));
    i += length;
  }
  out.push_back('"');
  return out;
}

void JsonWriter::BeforeValue() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!has_members_.empty()) {
    if (has_members_.back()) std::fputc(',', out_);
    has_members_.back() = true;
  }
}

void JsonWriter::Open(char bracket) {
  BeforeValue();
  std::fputc(bracket, out_);
  has_members_.push_back(false);
}

void JsonWriter::Close(char bracket) {
  has_members_.pop_back();
  std::fputc(bracket, out_);
}

void JsonWriter::Key(std::string_view key) {
  BeforeValue();
  const std::string quoted = JsonQuote(key);
  std::fprintf(out_, "%s:", quoted.c_str());
  after_key_ = true;
}

void JsonWriter::String(std::string_view value) {
  BeforeValue();
  const std::string quoted = JsonQuote(value);
  std::fputs(quoted.c_str(), out_);
}

void JsonWriter::Uint(uint64_t value) {
  BeforeValue();
  std::fprintf(out_, "%" PRIu64, value);
}

void JsonWriter::Int(int64_t value) {
  BeforeValue();
  std::fprintf(out_, "%" PRId64, value);
}

void JsonWriter::Double(double value) {
  BeforeValue();
  if (std::isfinite(value)) {
    std::fprintf(out_, "%.6g", value);
  } else {
    std::fputs("null", out_);
  }
}

void JsonWriter::Bool(bool value) {
  BeforeValue();
  std::fputs(value ? "true" : "false", out_);
}

void JsonWriter::Null() {
  BeforeValue();
  std::fputs("null", out_);
}

void JsonWriter::Finish() {
  std::fputc('\n', out_);
}

}  // namespace porta::tools
