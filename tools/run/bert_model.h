// A BERT sentence encoder (all-MiniLM-L6-v2 and its family) on the operator library: reads a
// sentence-transformers model folder (config.json, model.safetensors, the pooling config), keeps
// the weights on one device, and turns batches of token ids into pooled, normalised sentence
// embeddings. Every layer is enqueued on the engine's stream; the host waits once per batch, for
// the pooled vectors.
#ifndef PORTA_TOOLS_RUN_BERT_MODEL_H_
#define PORTA_TOOLS_RUN_BERT_MODEL_H_

#include <cstdint>
#include <filesystem>
#include <vector>

#include "tools/run/engine.h"

namespace porta::run {

struct BertConfig {
  int64_t hidden = 0;
  int64_t layers = 0;
  int64_t heads = 0;
  int64_t intermediate = 0;
  int64_t vocab = 0;
  int64_t max_positions = 0;
  // Tokens a sentence is truncated to: sentence-transformers' max_seq_length when the folder
  // has sentence_bert_config.json, else max_positions.
  int64_t max_tokens = 0;
  int64_t type_vocab = 0;
  float layer_norm_eps = 1e-12f;
  porta_unary_op_t activation = PORTA_UNARY_GELU_ERF;
  // Pooling: mean over the tokens (weighted by the attention mask) or the [CLS] token.
  bool mean_pooling = true;
  bool normalize = true;
};

class BertModel {
 public:
  // Reads |dir| (a sentence-transformers folder) and uploads its weights to |engine|'s device.
  // Throws ModelError naming the file and the item for anything missing or malformed.
  BertModel(Engine& engine, const std::filesystem::path& dir);
  BertModel(const BertModel&) = delete;
  BertModel& operator=(const BertModel&) = delete;

  const BertConfig& config() const { return config_; }

  // One embedding of config().hidden floats per sequence of token ids (each as the tokenizer
  // made it: [CLS] ... [SEP], at most max_positions ids). Sequences of different lengths are
  // padded and masked, so a batch gives what each sequence gives alone.
  std::vector<std::vector<float>> Embed(const std::vector<std::vector<int32_t>>& batch);

 private:
  // One encoder layer. The query, key and value projections are one [3 hidden, hidden] matrix.
  struct Layer {
    DeviceBuffer qkv_weight, qkv_bias, attn_out_weight, attn_out_bias;
    DeviceBuffer attn_norm_weight, attn_norm_bias;
    DeviceBuffer ffn_in_weight, ffn_in_bias, ffn_out_weight, ffn_out_bias;
    DeviceBuffer ffn_norm_weight, ffn_norm_bias;
  };
  // Activations for a batch of up to |tokens| = batch x length tokens, kept between calls.
  struct Scratch {
    int64_t tokens = 0;
    int64_t batch = 0;
    DeviceBuffer ids, positions, mask, pool_weights, x, y, qkv, context, ffn, pooled;
  };

  void EnsureScratch(int64_t batch, int64_t length);

  Engine& engine_;
  BertConfig config_;
  DeviceBuffer word_embeddings_, position_embeddings_, token_type_embeddings_;
  DeviceBuffer embeddings_norm_weight_, embeddings_norm_bias_;
  std::vector<Layer> layers_;
  Scratch scratch_;
};

}  // namespace porta::run

#endif  // PORTA_TOOLS_RUN_BERT_MODEL_H_
