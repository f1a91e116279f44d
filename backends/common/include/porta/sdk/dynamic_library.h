// Opening vendor libraries (libcuda, libOpenCL, libvulkan, ...) at run time with dlopen.
#ifndef PORTA_SDK_DYNAMIC_LIBRARY_H_
#define PORTA_SDK_DYNAMIC_LIBRARY_H_

#include <memory>
#include <string>
#include <vector>

namespace porta::common {

// A dlopen'ed shared library, closed on destruction.
class DynamicLibrary {
 public:
  // Tries each name in order (e.g. {"libOpenCL.so.1", "libOpenCL.so"}); returns nullptr and
  // writes every dlerror() text into |error| when none opens.
  static std::unique_ptr<DynamicLibrary> Open(const std::vector<std::string>& names,
                                              std::string* error);
  ~DynamicLibrary();
  DynamicLibrary(const DynamicLibrary&) = delete;
  DynamicLibrary& operator=(const DynamicLibrary&) = delete;

  // Returns the symbol's address or nullptr.
  void* Symbol(const char* name) const;

  // Resolves |name| into |*fn|; returns false (and appends the name to |missing|, comma
  // separated) when absent.
  template <typename Fn>
  bool Load(Fn* fn, const char* name, std::string* missing) const {
    *fn = reinterpret_cast<Fn>(Symbol(name));
    if (*fn == nullptr && missing != nullptr) {
      if (!missing->empty()) missing->append(", ");
      missing->append(name);
    }
    return *fn != nullptr;
  }

  const std::string& name() const { return name_; }

 private:
  DynamicLibrary(void* handle, std::string name) : handle_(handle), name_(std::move(name)) {}
  void* handle_;
  std::string name_;
};

// The names to open a vendor library by: the value of the environment variable |override_env|
// (PORTA_<BACKEND>_LIBRARY) alone when it is set and not empty, else |default_names|.
std::vector<std::string> LibraryNames(const char* override_env,
                                      std::vector<std::string> default_names);

}  // namespace porta::common

#endif  // PORTA_SDK_DYNAMIC_LIBRARY_H_
