// A LLaMA-architecture decoder (SmolLM2 and its family) from a GGUF file on the operator library.
// Weights stay in the file's types (Q4_0, Q4_1, Q8_0, F16, BF16, F32: the operator library
// dequantizes block types on the fly) unless the caller asks for them dequantized at load. The KV
// cache lives on the device; a prompt goes through in one batch, then each new token on its own,
// and the host waits once per step, for the next token or the logits.
#ifndef PORTA_TOOLS_RUN_LLAMA_MODEL_H_
#define PORTA_TOOLS_RUN_LLAMA_MODEL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "tools/run/engine.h"
#include "tools/run/gguf.h"

namespace porta::run {

struct LlamaConfig {
  std::string architecture;
  int64_t layers = 0;
  int64_t embedding = 0;
  int64_t feed_forward = 0;
  int64_t heads = 0;
  int64_t kv_heads = 0;
  int64_t head_dim = 0;
  int64_t rope_dims = 0;
  int64_t vocab = 0;
  int64_t trained_context = 0;
  float rope_base = 10000.0f;
  float rms_eps = 1e-5f;
};

// Weight types at load: as stored, or dequantized on the host to f16 or f32.
enum class WeightLoad { kAsStored, kF16, kF32 };

// "" (as stored), "f16" or "f32", as --dequantize takes it; ModelError otherwise.
WeightLoad ParseWeightLoad(const std::string& text);

struct LlamaOptions {
  WeightLoad weights = WeightLoad::kAsStored;
  // Tokens the KV cache holds (prompt plus generation); at most the trained context.
  int64_t context = 2048;
  // Lets the device round the activations to 8-bit blocks in the products with block-quantized
  // weights (porta_matmul_desc_t.quantize_a), as llama.cpp does: faster on CPUs, results within
  // that rounding of the exact ones. --quantize-activations.
  bool quantize_activations = false;
};

class LlamaModel {
 public:
  // Reads the architecture and weights from |file| (which may be closed afterwards) and uploads
  // them to |engine|'s device. Throws ModelError naming the key, tensor or operation the file or
  // device does not provide (an op the device cannot run with a weight type names
  // --dequantize as the way out).
  LlamaModel(Engine& engine, const GgufFile& file, const LlamaOptions& options);
  LlamaModel(const LlamaModel&) = delete;
  LlamaModel& operator=(const LlamaModel&) = delete;

  const LlamaConfig& config() const { return config_; }
  int64_t context() const { return context_; }
  // Tokens in the KV cache.
  int64_t position() const { return position_; }
  // Forgets the cached tokens.
  void Reset() { position_ = 0; }

  // Runs |tokens| at the next positions, appends their keys and values to the cache, and leaves
  // the logits of the last one on the device. Throws ModelError when the cache would overflow or
  // an id is outside the vocabulary.
  void Forward(const std::vector<int32_t>& tokens);
  // The most likely next token after the last Forward, computed on the device (waits for it).
  int32_t Argmax();
  // The logits after the last Forward (waits for them).
  std::vector<float> Logits();

 private:
  // A weight on the device with its operator-library type: [rows, columns] row-major.
  struct Weight {
    DeviceBuffer buffer;
    porta_dtype_t dtype = PORTA_DTYPE_F32;
    int64_t rows = 0;
    int64_t columns = 0;
  };
  struct Layer {
    Weight attn_norm, qkv, attn_out, ffn_norm, gate_up, down;
    // [2, kv_heads, context, head_dim] f32: the keys, then the values, so that one copy appends
    // both.
    DeviceBuffer cache;
  };
  struct Scratch {
    int64_t tokens = 0;
    DeviceBuffer ids, positions, x, h, qkv, attention, gate_up, ffn;
  };

  Weight LoadWeight(const GgufFile& file, const std::vector<std::string>& names,
                    bool matmul_weight);
  void Linear(const porta_tensor_t& in, const Weight& weight, const porta_tensor_t& out, float beta,
              const char* what);
  void EnsureScratch(int64_t tokens);

  Engine& engine_;
  LlamaConfig config_;
  LlamaOptions options_;
  int64_t context_ = 0;
  int64_t position_ = 0;
  Weight token_embedding_, output_norm_, output_;
  std::vector<Layer> layers_;
  Scratch scratch_;
  DeviceBuffer last_hidden_, logits_, next_token_;
  // Host staging of the last Forward's ids and positions; they must outlive its copies, so the
  // next Forward waits for the stream before reusing them.
  std::vector<int32_t> staged_ids_, staged_positions_;
  bool pending_ = false;
};

}  // namespace porta::run

#endif  // PORTA_TOOLS_RUN_LLAMA_MODEL_H_
