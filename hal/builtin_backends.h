// The backends linked into libporta, in registration order (generated list, see CMakeLists.txt).
#ifndef PORTA_HAL_BUILTIN_BACKENDS_H_
#define PORTA_HAL_BUILTIN_BACKENDS_H_

#include <vector>

#include "porta/porta_backend.h"

namespace porta::hal {

struct BuiltinBackend {
  const char* name;
  porta_backend_entry_fn entry;
};

// Every backend built into this libporta, registered exactly like a plugin.
const std::vector<BuiltinBackend>& BuiltinBackends();

}  // namespace porta::hal

#endif  // PORTA_HAL_BUILTIN_BACKENDS_H_
