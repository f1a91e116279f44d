#include "porta/sdk/backend_table.h"

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

}  // namespace porta::common
