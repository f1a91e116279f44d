// UTF-8 and Unicode helpers the tokenizers share: decoding with replacement of ill-formed bytes,
// encoding, the White_Space property, and general categories, lower-casing and NFD through
// utf8proc.
#ifndef PORTA_TOOLS_RUN_UNICODE_TEXT_H_
#define PORTA_TOOLS_RUN_UNICODE_TEXT_H_

#include <string>
#include <string_view>

namespace porta::run {

inline constexpr char32_t kReplacementChar = 0xFFFD;

// How ill-formed UTF-8 becomes U+FFFD.
enum class Utf8Errors {
  // One U+FFFD per maximal ill-formed subsequence, as Python's bytes.decode(errors="replace"):
  // overlong forms, surrogates and values past U+10FFFF are ill-formed too.
  kReplaceMaximalSubpart,
  // llama.cpp's decoder: a lead byte with the right number of continuation bytes is accepted as it
  // is (overlong forms and surrogates included, so the bytes survive a round trip); anything else
  // costs one byte and gives one U+FFFD. Values past U+10FFFF also become U+FFFD.
  kLenientPerByte,
};

std::u32string DecodeUtf8(std::string_view utf8, Utf8Errors errors);

// Appends the UTF-8 form of |cp| (any value up to U+10FFFF, surrogates included).
void AppendUtf8(char32_t cp, std::string* out);
std::string EncodeUtf8(std::u32string_view text);

bool IsLetter(char32_t cp);          // L*
bool IsNumber(char32_t cp);          // N*
bool IsPunctuation(char32_t cp);     // P*
bool IsNonspacingMark(char32_t cp);  // Mn
bool IsOtherControl(char32_t cp);    // Cc, Cf, Co, Cs (not Cn)
// The White_Space property (PropList.txt): what Rust's char::is_whitespace and llama.cpp treat as
// whitespace.
bool IsWhiteSpace(char32_t cp);

// Simple (one code point) lower-case mapping.
char32_t ToLower(char32_t cp);

// Canonical decomposition with canonical ordering. |text| must hold no surrogates.
std::u32string Nfd(std::u32string_view text);

}  // namespace porta::run

#endif  // PORTA_TOOLS_RUN_UNICODE_TEXT_H_
