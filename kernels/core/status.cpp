#include "kernels/core/status.h"

#include <cstdarg>
#include <cstdio>

namespace porta::ops {
namespace {

thread_local const char* current_function = "porta_ops";

}  // namespace

ApiScope::ApiScope(const char* function) : previous_(current_function) {
  current_function = function;
}

ApiScope::~ApiScope() {
  current_function = previous_;
}

porta_status_t Fail(porta_status_t status, const char* format, ...) {
  char text[2048];
  va_list args;
  va_start(args, format);
  std::vsnprintf(text, sizeof(text), format, args);
  va_end(args);
  std::string message = current_function;
  message += ": ";
  message += text;
  return porta_set_last_error(status, message.c_str());
}

porta_status_t Forward(porta_status_t status, const std::string& what) {
  std::string message = current_function;
  message += ": ";
  if (!what.empty()) {
    message += what;
    message += ": ";
  }
  message += porta_last_error_message();
  return porta_set_last_error(status, message.c_str());
}

}  // namespace porta::ops
