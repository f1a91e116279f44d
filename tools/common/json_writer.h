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
  void BeginObject() { Open('{'); }
  void EndObject() { Close('}'); }
  void BeginArray() { Open('['); }
  void EndArray() { Close(']'); }

  // Writes the key of the next member of the current object.
  void Key(std::string_view key);

  void String(std::string_view value);
  void Uint(uint64_t value);
  void Int(int64_t value);
  // Non-finite numbers are not JSON; they are written as null.
  void Double(double value);
  void Bool(bool value);
  void Null();

  // A member of the current object: Key(key) followed by the value.
  void StringMember(std::string_view key, std::string_view value) {
    Key(key);
    String(value);
  }
  void UintMember(std::string_view key, uint64_t value) {
    Key(key);
    Uint(value);
  }
  void IntMember(std::string_view key, int64_t value) {
    Key(key);
    Int(value);
  }
  void DoubleMember(std::string_view key, double value) {
    Key(key);
    Double(value);
  }
  void BoolMember(std::string_view key, bool value) {
    Key(key);
    Bool(value);
  }

  // Ends the document with a newline.
  void Finish();

 private:
  void BeforeValue();
  // Starts a container with |bracket| ('{' or '['); Close() ends it with the matching one.
  void Open(char bracket);
  void Close(char bracket);

  std::FILE* out_;
  // One entry per open container: true once it holds at least one member.
  std::vector<bool> has_members_;
  bool after_key_ = false;
};

}  // namespace porta::tools

#endif  // PORTA_TOOLS_COMMON_JSON_WRITER_H_
