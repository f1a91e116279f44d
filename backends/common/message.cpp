#include "porta/sdk/message.h"

#include <atomic>
#include <cstdarg>
#include <cstdio>

namespace porta::common {
namespace {

using LogFn = void (*)(void* log_user, int level, const char* text);
constinit std::atomic<LogFn> log_sink{nullptr};
constinit std::atomic<void*> log_user{nullptr};

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

void SetLogSink(const porta_backend_host_t* host) {
  if (host == nullptr) return;
  log_user.store(host->log_user);
  log_sink.store(host->log);
}

void Log(int level, const char* format, ...) {
  const LogFn sink = log_sink.load();
  if (sink == nullptr) return;
  char text[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(text, sizeof text, format, args);
  va_end(args);
  sink(log_user.load(), level, text);
}

porta_status_t CheckImportRange(const char* backend, uint64_t address, uint64_t base,
                                uint64_t range, uint64_t size, porta_be_msg msg) {
  const uint64_t into = address - base;
  if (address >= base && into <= range && size <= range - into) return PORTA_OK;
  return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
              "%s: handles[0] lies %llu bytes into an allocation of %llu bytes, so %llu bytes "
              "from it run past the allocation's end",
              backend, static_cast<unsigned long long>(into),
              static_cast<unsigned long long>(range), static_cast<unsigned long long>(size));
}

}  // namespace porta::common
