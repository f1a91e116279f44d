// A small streaming JSON writer shared by the command-line tools. It exists so that every tool
// emits valid JSON (escaped strings, valid UTF-8, no trailing commas) without a third-party
// dependency.
#ifndef PORTA_TOOLS_COMMON_JSON_WRITER_H_
#define PORTA_TOOLS_COMMON_JSON_WRITER_H_

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace porta::tools {

// Returns |text| as a quoted JSON string. Control characters are escaped; bytes that are not
// valid UTF-8 (driver strings are not always clean) become U+FFFD so the output always parses.
std::string JsonQuote(std::string_view text);

// Writes one JSON document to a FILE*, tracking commas and nesting so callers only say what
// comes next.
class JsonWriter {
 public:
  explicit JsonWriter(std::FILE* out) : out_(out) {}

  // Opens an object or array, as a value (inside an array or at top level) or after Key().
  void BeginObject();
  void EndObject();
  void BeginArray();
  void EndArray();

  // Writes the key of the next member of the current object.
  void Key(std::string_view key);

  void String(std::string_view value);
  void Uint(uint64_t value);
  void Int(int64_t value);
  // Non-finite numbers are not JSON; they are written as null.
  void Double(double value);
  void Bool(bool value);
  void Null();

  // Ends the document with a newline.
  void Finish();

 private:
  void BeforeValue();

  std::FILE* out_;
  // One entry per open container: true once it holds at least one member.
  std::vector<bool> has_members_;
  bool after_key_ = false;
};

}  // namespace porta::tools

#endif  // PORTA_TOOLS_COMMON_JSON_WRITER_H_
