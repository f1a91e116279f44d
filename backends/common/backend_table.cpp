#include "porta/sdk/backend_table.h"

#include <cstdio>
#include <exception>
#include <new>

#include "porta/sdk/message.h"

namespace porta::common {

porta_status_t ServeTable(const porta_backend_table_t& table, const porta_backend_host_t* host,
                          const porta_backend_table_t** out_table, porta_be_msg msg) {
  if (host == nullptr || out_table == nullptr) {
    return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                "porta_%s_backend_entry: host and out_table must not be NULL", table.name);
  }
  if (host->abi_major != PORTA_BACKEND_ABI_MAJOR) {
    return Fail(msg, PORTA_ERROR_ABI_MISMATCH,
                "the %s backend implements backend ABI %u.%u; the runtime offers %u.%u", table.name,
                PORTA_BACKEND_ABI_MAJOR, PORTA_BACKEND_ABI_MINOR, host->abi_major, host->abi_minor);
  }
  *out_table = &table;
  return PORTA_OK;
}

porta_status_t SlotThrew(const char* slot, porta_be_msg msg) noexcept {
  porta_status_t status = PORTA_ERROR_BACKEND;
  char text[512];
  try {
    throw;
  } catch (const std::bad_alloc&) {
    status = PORTA_ERROR_OUT_OF_MEMORY;
    std::snprintf(text, sizeof(text), "the %s slot threw std::bad_alloc (host out of memory)",
                  slot);
  } catch (const std::exception& e) {
    std::snprintf(text, sizeof(text), "the %s slot threw a C++ exception: %s", slot, e.what());
  } catch (...) {
    std::snprintf(text, sizeof(text), "the %s slot threw a C++ exception of unknown type", slot);
  }
  if (msg != nullptr) return Fail(msg, status, "%s", text);
  Log(PORTA_LOG_ERROR, "%s", text);
  return status;
}

}  // namespace porta::common
