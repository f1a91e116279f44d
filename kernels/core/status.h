// Failure reporting of the operator library: every failure becomes a porta_status_t plus the
// runtime's thread-local last-error text, prefixed with the public function that was called.
#ifndef PORTA_KERNELS_CORE_STATUS_H_
#define PORTA_KERNELS_CORE_STATUS_H_

#include <cstdint>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "porta/porta.h"

namespace porta::ops {

// Names the public function being executed on this thread, for the messages of Fail/Forward.
class ApiScope {
 public:
  explicit ApiScope(const char* function);
  ~ApiScope();
  ApiScope(const ApiScope&) = delete;
  ApiScope& operator=(const ApiScope&) = delete;

 private:
  const char* previous_;
};

// Sets the last-error text to "<function>: <printf-formatted text>" and returns |status|.
porta_status_t Fail(porta_status_t status, const char* format, ...)
    __attribute__((format(printf, 2, 3)));

// For a failed porta.h call: prefixes the runtime's own message with the public function (and
// |what|, e.g. "loading kernel porta_ew") and returns |status|.
porta_status_t Forward(porta_status_t status, const std::string& what);

// Runs |body| and turns any escaping exception into a status (std::bad_alloc is
// PORTA_ERROR_OUT_OF_MEMORY), so that nothing crosses the C boundary.
template <typename Body>
porta_status_t Guard(const char* function, Body&& body) {
  ApiScope scope(function);
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return Fail(PORTA_ERROR_OUT_OF_MEMORY, "host out of memory");
  } catch (const std::exception& e) {
    return Fail(PORTA_ERROR_BACKEND, "internal error: %s", e.what());
  } catch (...) {
    return Fail(PORTA_ERROR_BACKEND, "internal error");
  }
}

// The integer value of a caller-supplied enum. The caller may pass any integer; reading it as the
// enum type would be undefined behaviour (UBSan's -fsanitize=enum stops on it), so its bytes are
// read instead, and the value is range-checked as an integer.
template <typename Enum>
int32_t RawEnum(const Enum& value) {
  static_assert(sizeof(Enum) == sizeof(int32_t));
  int32_t raw;
  std::memcpy(&raw, &value, sizeof(raw));
  return raw;
}

// Returns |expr|'s status from the enclosing function when it is not PORTA_OK.
#define PORTA_OPS_RETURN_IF_ERROR(expr)      \
  do {                                       \
    const porta_status_t status_ = (expr);   \
    if (status_ != PORTA_OK) return status_; \
  } while (0)

}  // namespace porta::ops

#endif  // PORTA_KERNELS_CORE_STATUS_H_
