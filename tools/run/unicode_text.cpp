// UTF-8 decoding and encoding by hand (the two error policies differ from any library's), Unicode
// properties and normalisation from utf8proc.
#include "tools/run/unicode_text.h"

#include <utf8proc.h>

#include <cstdint>
#include <cstdlib>
#include <memory>

#include "tools/run/model_error.h"

namespace porta::run {
namespace {

bool IsContinuation(unsigned char b) {
  return (b & 0xC0) == 0x80;
}

// Unicode Table 3-7: the first continuation byte's range depends on the lead byte; every other
// continuation byte is 80..BF.
bool FirstContinuationOk(unsigned char lead, unsigned char b) {
  switch (lead) {
    case 0xE0:
      return b >= 0xA0 && b <= 0xBF;
    case 0xED:
      return b >= 0x80 && b <= 0x9F;
    case 0xF0:
      return b >= 0x90 && b <= 0xBF;
    case 0xF4:
      return b >= 0x80 && b <= 0x8F;
    default:
      return IsContinuation(b);
  }
}

// Returns the number of bytes of a well-formed sequence at |i|, or the length of the maximal
// ill-formed subpart (at least 1) as a negative number.
int MaximalSubpart(std::string_view s, size_t i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  int need;
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 3;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 4;
  } else {
    return -1;
  }
  int have = 1;
  while (have < need && i + have < s.size()) {
    const auto b = static_cast<unsigned char>(s[i + have]);
    const bool ok = have == 1 ? FirstContinuationOk(lead, b) : IsContinuation(b);
    if (!ok) break;
    ++have;
  }
  return have == need ? need : -have;
}

char32_t Assemble(std::string_view s, size_t i, int len) {
  const auto b = [&](int k) { return static_cast<char32_t>(static_cast<unsigned char>(s[i + k])); };
  switch (len) {
    case 1:
      return b(0);
    case 2:
      return ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
    case 3:
      return ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
    default:
      return ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
  }
}

// llama.cpp's rule: the lead byte alone decides the length; only the continuation bytes' top bits
// are checked.
int LenientLength(std::string_view s, size_t i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  int len;
  if (lead < 0x80) return 1;
  if ((lead & 0x40) == 0) return -1;
  if ((lead & 0x20) == 0) {
    len = 2;
  } else if ((lead & 0x10) == 0) {
    len = 3;
  } else if ((lead & 0x08) == 0) {
    len = 4;
  } else {
    return -1;
  }
  if (i + len > s.size()) return -1;
  for (int k = 1; k < len; ++k) {
    if (!IsContinuation(static_cast<unsigned char>(s[i + k]))) return -1;
  }
  return len;
}

int Category(char32_t cp) {
  return cp > 0x10FFFF ? UTF8PROC_CATEGORY_CN
                       : utf8proc_category(static_cast<utf8proc_int32_t>(cp));
}

}  // namespace

std::u32string DecodeUtf8(std::string_view utf8, Utf8Errors errors) {
  std::u32string out;
  out.reserve(utf8.size());
  size_t i = 0;
  while (i < utf8.size()) {
    const int len = errors == Utf8Errors::kReplaceMaximalSubpart ? MaximalSubpart(utf8, i)
                                                                 : LenientLength(utf8, i);
    if (len < 0) {
      out.push_back(kReplacementChar);
      i += static_cast<size_t>(-len);
      continue;
    }
    const char32_t cp = Assemble(utf8, i, len);
    out.push_back(cp > 0x10FFFF ? kReplacementChar : cp);
    i += static_cast<size_t>(len);
  }
  return out;
}

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string EncodeUtf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char32_t cp : text) AppendUtf8(cp, &out);
  return out;
}

bool IsLetter(char32_t cp) {
  const int c = Category(cp);
  return c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO;
}

bool IsNumber(char32_t cp) {
  const int c = Category(cp);
  return c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO;
}

bool IsPunctuation(char32_t cp) {
  const int c = Category(cp);
  return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO;
}

bool IsNonspacingMark(char32_t cp) {
  return Category(cp) == UTF8PROC_CATEGORY_MN;
}

bool IsOtherControl(char32_t cp) {
  const int c = Category(cp);
  return c >= UTF8PROC_CATEGORY_CC && c <= UTF8PROC_CATEGORY_CO;
}

bool IsWhiteSpace(char32_t cp) {
  switch (cp) {
    case 0x20:
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x2000 && cp <= 0x200A);
  }
}

char32_t ToLower(char32_t cp) {
  if (cp > 0x10FFFF) return cp;
  return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
}

std::u32string Nfd(std::u32string_view text) {
  const std::string utf8 = EncodeUtf8(text);
  utf8proc_uint8_t* mapped = nullptr;
  const utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(utf8.data()),
                   static_cast<utf8proc_ssize_t>(utf8.size()), &mapped,
                   static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE));
  const std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owner(mapped, &std::free);
  if (n < 0) {
    throw ModelError(std::string("NFD normalisation failed: ") + utf8proc_errmsg(n));
  }
  return DecodeUtf8(std::string_view(reinterpret_cast<const char*>(mapped), static_cast<size_t>(n)),
                    Utf8Errors::kReplaceMaximalSubpart);
}

}  // namespace porta::run
