// The slot guard's exception handler (see slot_guard.h).
#include "hal/slot_guard.h"

#include <cstdio>
#include <exception>
#include <new>

#include "hal/runtime.h"

namespace porta::hal {

porta_status_t SlotException(const char* slot, porta_be_msg msg) noexcept {
  porta_status_t status = PORTA_ERROR_BACKEND;
  char text[512];
  try {
    throw;
  } catch (const std::bad_alloc&) {
    status = PORTA_ERROR_OUT_OF_MEMORY;
    std::snprintf(text, sizeof(text),
                  "the %s slot threw std::bad_alloc (out of memory; a C++ exception must not "
                  "leave a backend slot)",
                  slot);
  } catch (const std::exception& e) {
    std::snprintf(text, sizeof(text),
                  "the %s slot threw a C++ exception (which must not leave a backend slot): %s",
                  slot, e.what());
  } catch (...) {
    std::snprintf(text, sizeof(text),
                  "the %s slot threw a C++ exception of unknown type (which must not leave a "
                  "backend slot)",
                  slot);
  }
  if (msg != nullptr && msg->text != nullptr && msg->capacity > 0) {
    std::snprintf(msg->text, msg->capacity, "%s", text);
  } else {
    Log(PORTA_LOG_ERROR, text);
  }
  return status;
}

}  // namespace porta::hal
