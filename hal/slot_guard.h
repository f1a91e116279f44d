// The guard around every call into a backend's table: an exception that escapes a slot (which the
// ABI forbids) stops at the slot boundary, so the runtime's own state stays consistent and the
// failure names the slot that threw.
#ifndef PORTA_HAL_SLOT_GUARD_H_
#define PORTA_HAL_SLOT_GUARD_H_

#include <tuple>
#include <type_traits>
#include <utility>

#include "porta/porta_backend.h"

namespace porta::hal {

// Handles the exception being handled after slot |slot| threw: writes "the <slot> slot threw
// ..." (with the exception's what() when it has one) into |msg| and returns
// PORTA_ERROR_OUT_OF_MEMORY for std::bad_alloc, PORTA_ERROR_BACKEND otherwise. |msg| null (a slot
// without a status): the text goes to the runtime's log instead. Never throws.
porta_status_t SlotException(const char* slot, porta_be_msg msg) noexcept;

// Calls |fn| (slot |slot| of a backend table) with |args|. A slot that returns a status takes the
// message buffer as its last argument; that is where an exception's text goes.
template <typename... Params, typename... Args>
porta_status_t CallSlot(const char* slot, porta_status_t (*fn)(Params...),
                        Args&&... args) noexcept {
  static_assert(sizeof...(Args) > 0);
  try {
    return fn(std::forward<Args>(args)...);
  } catch (...) {
    porta_be_msg msg = std::get<sizeof...(Args) - 1>(std::forward_as_tuple(args...));
    return SlotException(slot, msg);
  }
}

template <typename... Params, typename... Args>
void CallSlot(const char* slot, void (*fn)(Params...), Args&&... args) noexcept {
  try {
    fn(std::forward<Args>(args)...);
  } catch (...) {
    SlotException(slot, nullptr);
  }
}

}  // namespace porta::hal

// Calls slot |slot| of backend table |table| under the guard:
// PORTA_SLOT_CALL(device.table(), buffer_free, be) for device.table().buffer_free(be).
#define PORTA_SLOT_CALL(table, slot, ...) ::porta::hal::CallSlot(#slot, (table).slot, __VA_ARGS__)

#endif  // PORTA_HAL_SLOT_GUARD_H_
