// Writing status + message across the backend ABI boundary (porta_be_message_t).
#ifndef PORTA_SDK_MESSAGE_H_
#define PORTA_SDK_MESSAGE_H_

#include <exception>
#include <new>

#include "porta/porta_backend.h"

namespace porta::common {

// Formats printf-style text into |msg| (truncating to its capacity; |msg| may be NULL) and
// returns |status|, so a backend can write `return Fail(msg, PORTA_ERROR_..., "...", ...);`.
porta_status_t Fail(porta_be_msg msg, porta_status_t status, const char* format, ...)
    __attribute__((format(printf, 3, 4)));

// Writes text into |msg| without changing any status (used for "zero devices because ...").
void SetMessage(porta_be_msg msg, const char* format, ...) __attribute__((format(printf, 2, 3)));

// Makes Log write to |host|'s log sink (the sink of the host that initialized the backend last;
// the runtime gives every backend the same one). Call it from init.
void SetLogSink(const porta_backend_host_t* host);

// Formats printf-style text to the log sink at |level| (PORTA_LOG_*); nothing before
// SetLogSink. Release slots return nothing, so a driver call failing inside one is told here.
void Log(int level, const char* format, ...) __attribute__((format(printf, 2, 3)));

// The check of buffer_import for memory given as an address: the |size| bytes at |address| must
// lie inside the allocation [base, base + range) the driver reported. Returns PORTA_OK, or
// PORTA_ERROR_INVALID_ARGUMENT with "<backend>: handles[0] lies N bytes into an allocation of R
// bytes, so S bytes from it run past the allocation's end" in |msg|.
porta_status_t CheckImportRange(const char* backend, uint64_t address, uint64_t base,
                                uint64_t range, uint64_t size, porta_be_msg msg);

// Runs |body| (returning porta_status_t) and turns a C++ exception that escapes it into a status
// with |what| in |msg|: std::bad_alloc into PORTA_ERROR_OUT_OF_MEMORY ("<what>: host out of
// memory"), any other std::exception into PORTA_ERROR_BACKEND ("<what> failed: <e.what()>"). The
// slot guard of the table macros (backend_table.h) already keeps exceptions from crossing the ABI;
// this is for a step inside a slot whose failure a more specific |what| explains better.
template <typename Body>
porta_status_t Guard(porta_be_msg msg, const char* what, Body&& body) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return Fail(msg, PORTA_ERROR_OUT_OF_MEMORY, "%s: host out of memory", what);
  } catch (const std::exception& e) {
    return Fail(msg, PORTA_ERROR_BACKEND, "%s failed: %s", what, e.what());
  }
}

}  // namespace porta::common

#endif  // PORTA_SDK_MESSAGE_H_
