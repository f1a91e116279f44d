#include "backends/common/message.h"

#include <cstdarg>
#include <cstdio>

namespace porta::common {
namespace {

void FormatInto(porta_be_msg msg, const char* format, va_list args) {
  if (msg == nullptr || msg->text == nullptr || msg->capacity == 0) return;
  // vsnprintf truncates and always terminates, which is exactly the ABI's contract.
  std::vsnprintf(msg->text, msg->capacity, format, args);
}

}  // namespace

porta_status_t Fail(porta_be_msg msg, porta_status_t status, const char* format, ...) {
  va_list args;
  va_start(args, format);
  FormatInto(msg, format, args);
  va_end(args);
  return status;
}

void SetMessage(porta_be_msg msg, const char* format, ...) {
  va_list args;
  va_start(args, format);
  FormatInto(msg, format, args);
  va_end(args);
}

}  // namespace porta::common
