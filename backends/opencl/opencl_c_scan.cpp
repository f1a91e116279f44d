// The OpenCL C source scan of the constrained profile (opencl_c_scan.h).
#include "backends/opencl/opencl_c_scan.h"

#include <cstddef>

namespace porta::opencl {

int FirstDoubleUse(std::string_view source) {
  int line = 1;
  size_t i = 0;
  const size_t n = source.size();
  auto is_ident = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  while (i < n) {
    const char c = source[i];
    if (c == '\n') {
      ++line;
      ++i;
    } else if (c == '/' && i + 1 < n && source[i + 1] == '/') {
      while (i < n && source[i] != '\n') ++i;
    } else if (c == '/' && i + 1 < n && source[i + 1] == '*') {
      i += 2;
      while (i + 1 < n && !(source[i] == '*' && source[i + 1] == '/')) {
        if (source[i] == '\n') ++line;
        ++i;
      }
      i += 2;
    } else if (c == '"' || c == '\'') {
      // A literal ends at its closing quote or, unterminated, before the end of its line, which
      // the main loop then counts; a backslash-newline inside it continues it on the next line.
      ++i;
      while (i < n && source[i] != c && source[i] != '\n') {
        if (source[i] == '\\' && i + 1 < n && source[i + 1] == '\n') ++line;
        i += source[i] == '\\' ? 2 : 1;
      }
      if (i < n && source[i] == c) ++i;
    } else if (is_ident(c)) {
      const size_t start = i;
      while (i < n && is_ident(source[i])) ++i;
      const std::string_view word = source.substr(start, i - start);
      if (word.substr(0, 6) == "double") {
        const std::string_view width = word.substr(6);
        if (width.empty() || width == "2" || width == "3" || width == "4" || width == "8" ||
            width == "16") {
          return line;
        }
      }
    } else {
      ++i;
    }
  }
  return 0;
}

}  // namespace porta::opencl
