#include "porta/sdk/dynamic_library.h"

#include <dlfcn.h>

#include <cstdlib>
#include <utility>

namespace porta::common {

std::unique_ptr<DynamicLibrary> DynamicLibrary::Open(const std::vector<std::string>& names,
                                                     std::string* error) {
  std::string errors;
  for (const std::string& name : names) {
    // RTLD_LOCAL keeps a vendor library's symbols from leaking into other plugins; RTLD_NOW
    // reports a broken installation here instead of at the first call.
    void* handle = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle != nullptr) {
      return std::unique_ptr<DynamicLibrary>(new DynamicLibrary(handle, name));
    }
    const char* text = dlerror();
    if (!errors.empty()) errors.append("; ");
    errors.append(text != nullptr ? text : (name + ": cannot be opened"));
  }
  if (names.empty()) errors = "no library names to try";
  if (error != nullptr) *error = std::move(errors);
  return nullptr;
}

DynamicLibrary::~DynamicLibrary() {
  if (handle_ != nullptr) dlclose(handle_);
}

void* DynamicLibrary::Symbol(const char* name) const {
  if (handle_ == nullptr || name == nullptr) return nullptr;
  return dlsym(handle_, name);
}

std::vector<std::string> LibraryNames(const char* override_env,
                                      std::vector<std::string> default_names) {
  const char* name = std::getenv(override_env);
  if (name != nullptr && name[0] != '\0') return {name};
  return default_names;
}

}  // namespace porta::common
