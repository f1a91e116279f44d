// BERT encoder forward pass on porta_ops.h. Shapes: B sequences padded to L tokens, T = B * L,
// hidden H, heads nh of size hd. The fused QKV projection is [T, 3, nh, hd] in memory; q, k and
// v are strided [B, nh, L, hd] views of it that the attention kernel reads as they are, and the
// attention writes its [B, nh, L, hd] result through a view of a [T, H] buffer, so no head
// split or merge is ever copied.
#include "tools/run/bert_model.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "tools/run/model_error.h"
#include "tools/run/safetensors.h"

namespace porta::run {
namespace {

nlohmann::json ReadJson(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw ModelError(path.string() + ": cannot open the file");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& error) {
    throw ModelError(path.string() + ": not valid JSON: " + error.what());
  }
}

int64_t ConfigInt(const nlohmann::json& config, const std::filesystem::path& path,
                  const char* key) {
  const auto it = config.find(key);
  if (it == config.end() || !it->is_number_integer() || it->get<int64_t>() <= 0) {
    throw ModelError(path.string() + ": \"" + key + "\" is missing or not a positive integer");
  }
  return it->get<int64_t>();
}

// The tensor |name| as f32 values, checked against |shape|.
std::vector<float> ReadF32(const SafetensorsFile& file, const std::string& name,
                           const std::vector<int64_t>& shape) {
  const SafetensorsTensor& tensor = file.Get(name);
  if (tensor.shape != shape) {
    std::string want, have;
    for (int64_t d : shape) want += (want.empty() ? "" : ", ") + std::to_string(d);
    for (int64_t d : tensor.shape) have += (have.empty() ? "" : ", ") + std::to_string(d);
    throw ModelError(file.origin() + ": tensor " + name + " has shape [" + have +
                     "], the config needs [" + want + "]");
  }
  uint64_t count = 1;
  for (int64_t d : shape) count *= static_cast<uint64_t>(d);
  std::vector<float> values(count);
  if (tensor.dtype == "F32") {
    std::memcpy(values.data(), tensor.data, count * sizeof(float));
  } else if (tensor.dtype == "F16" || tensor.dtype == "BF16") {
    const bool bf16 = tensor.dtype == "BF16";
    for (uint64_t i = 0; i < count; ++i) {
      uint16_t bits;
      std::memcpy(&bits, tensor.data + 2 * i, 2);
      if (bf16) {
        const uint32_t word = static_cast<uint32_t>(bits) << 16;
        std::memcpy(&values[i], &word, 4);
      } else {
        // IEEE half: sign, 5-bit exponent, 10-bit mantissa.
        const uint32_t sign = (bits & 0x8000u) << 16;
        const int exponent = (bits >> 10) & 31;
        const uint32_t mantissa = bits & 0x3ffu;
        float magnitude;
        if (exponent == 0) {
          magnitude = std::ldexp(static_cast<float>(mantissa), -24);
        } else if (exponent == 31) {
          magnitude = mantissa ? std::numeric_limits<float>::quiet_NaN()
                               : std::numeric_limits<float>::infinity();
        } else {
          magnitude = std::ldexp(static_cast<float>(mantissa | 0x400u), exponent - 25);
        }
        uint32_t word;
        std::memcpy(&word, &magnitude, 4);
        word |= sign;
        std::memcpy(&values[i], &word, 4);
      }
    }
  } else {
    throw ModelError(file.origin() + ": tensor " + name + " is " + tensor.dtype +
                     "; the encoder reads F32, F16 or BF16 weights");
  }
  return values;
}

DeviceBuffer UploadF32(Engine& engine, const std::vector<float>& values, const std::string& what) {
  return engine.Upload(values.data(), values.size() * sizeof(float), what);
}

}  // namespace

BertModel::BertModel(Engine& engine, const std::filesystem::path& dir) : engine_(engine) {
  const std::filesystem::path config_path = dir / "config.json";
  const nlohmann::json config = ReadJson(config_path);
  config_.hidden = ConfigInt(config, config_path, "hidden_size");
  config_.layers = ConfigInt(config, config_path, "num_hidden_layers");
  config_.heads = ConfigInt(config, config_path, "num_attention_heads");
  config_.intermediate = ConfigInt(config, config_path, "intermediate_size");
  config_.vocab = ConfigInt(config, config_path, "vocab_size");
  config_.max_positions = ConfigInt(config, config_path, "max_position_embeddings");
  config_.type_vocab = ConfigInt(config, config_path, "type_vocab_size");
  if (config_.hidden % config_.heads != 0) {
    throw ModelError(config_path.string() + ": hidden_size " + std::to_string(config_.hidden) +
                     " is not a multiple of num_attention_heads " + std::to_string(config_.heads));
  }
  if (const auto eps = config.find("layer_norm_eps"); eps != config.end() && eps->is_number()) {
    config_.layer_norm_eps = eps->get<float>();
  }
  const std::string activation = config.value("hidden_act", std::string("gelu"));
  if (activation == "gelu") {
    config_.activation = PORTA_UNARY_GELU_ERF;
  } else if (activation == "gelu_new" || activation == "gelu_pytorch_tanh") {
    config_.activation = PORTA_UNARY_GELU_TANH;
  } else if (activation == "relu") {
    config_.activation = PORTA_UNARY_RELU;
  } else {
    throw ModelError(config_path.string() + ": hidden_act \"" + activation +
                     "\" is not one of gelu, gelu_new, gelu_pytorch_tanh, relu");
  }
  const std::string model_type = config.value("model_type", std::string("bert"));
  if (model_type != "bert") {
    throw ModelError(config_path.string() + ": model_type \"" + model_type +
                     "\" is not a BERT encoder");
  }

  // sentence-transformers' pooling and normalisation modules; a plain BertModel folder (no
  // modules.json) gets mean pooling and L2 normalisation, the usual sentence-embedding recipe.
  const std::filesystem::path pooling_path = dir / "1_Pooling" / "config.json";
  if (std::filesystem::exists(pooling_path)) {
    const nlohmann::json pooling = ReadJson(pooling_path);
    const bool mean = pooling.value("pooling_mode_mean_tokens", false);
    const bool cls = pooling.value("pooling_mode_cls_token", false);
    if (mean == cls) {
      throw ModelError(pooling_path.string() +
                       ": exactly one of pooling_mode_mean_tokens and pooling_mode_cls_token "
                       "must be true (other pooling modes are not supported)");
    }
    config_.mean_pooling = mean;
  }
  config_.max_tokens = config_.max_positions;
  const std::filesystem::path sentence_path = dir / "sentence_bert_config.json";
  if (std::filesystem::exists(sentence_path)) {
    const nlohmann::json sentence = ReadJson(sentence_path);
    if (const auto it = sentence.find("max_seq_length"); it != sentence.end()) {
      if (!it->is_number_integer() || it->get<int64_t>() < 2 ||
          it->get<int64_t>() > config_.max_positions) {
        throw ModelError(sentence_path.string() + ": max_seq_length must be an integer from 2 to " +
                         std::to_string(config_.max_positions));
      }
      config_.max_tokens = it->get<int64_t>();
    }
  }
  const std::filesystem::path modules_path = dir / "modules.json";
  if (std::filesystem::exists(modules_path)) {
    const nlohmann::json modules = ReadJson(modules_path);
    config_.normalize = false;
    for (const auto& module : modules) {
      if (module.is_object() &&
          module.value("type", std::string()) == "sentence_transformers.models.Normalize") {
        config_.normalize = true;
      }
    }
  }

  const SafetensorsFile weights = SafetensorsFile::Open((dir / "model.safetensors").string());
  // Checkpoints saved from BertModel name tensors "embeddings...", those saved from a task model
  // "bert.embeddings...".
  const std::string prefix = weights.Find("bert.embeddings.word_embeddings.weight") ? "bert." : "";
  const int64_t h = config_.hidden;
  word_embeddings_ = UploadF32(
      engine_, ReadF32(weights, prefix + "embeddings.word_embeddings.weight", {config_.vocab, h}),
      "word embeddings");
  position_embeddings_ =
      UploadF32(engine_,
                ReadF32(weights, prefix + "embeddings.position_embeddings.weight",
                        {config_.max_positions, h}),
                "position embeddings");
  token_type_embeddings_ = UploadF32(
      engine_,
      ReadF32(weights, prefix + "embeddings.token_type_embeddings.weight", {config_.type_vocab, h}),
      "token type embeddings");
  embeddings_norm_weight_ = UploadF32(
      engine_, ReadF32(weights, prefix + "embeddings.LayerNorm.weight", {h}), "embedding norm");
  embeddings_norm_bias_ = UploadF32(
      engine_, ReadF32(weights, prefix + "embeddings.LayerNorm.bias", {h}), "embedding norm");

  const int64_t inter = config_.intermediate;
  for (int64_t l = 0; l < config_.layers; ++l) {
    const std::string p = prefix + "encoder.layer." + std::to_string(l) + ".";
    const auto read = [&](const std::string& name, const std::vector<int64_t>& shape) {
      return ReadF32(weights, p + name, shape);
    };
    Layer layer;
    std::vector<float> qkv_weight, qkv_bias;
    for (const char* part : {"query", "key", "value"}) {
      const std::vector<float> w = read(std::string("attention.self.") + part + ".weight", {h, h});
      const std::vector<float> b = read(std::string("attention.self.") + part + ".bias", {h});
      qkv_weight.insert(qkv_weight.end(), w.begin(), w.end());
      qkv_bias.insert(qkv_bias.end(), b.begin(), b.end());
    }
    const std::string what = "layer " + std::to_string(l);
    layer.qkv_weight = UploadF32(engine_, qkv_weight, what);
    layer.qkv_bias = UploadF32(engine_, qkv_bias, what);
    layer.attn_out_weight = UploadF32(engine_, read("attention.output.dense.weight", {h, h}), what);
    layer.attn_out_bias = UploadF32(engine_, read("attention.output.dense.bias", {h}), what);
    layer.attn_norm_weight =
        UploadF32(engine_, read("attention.output.LayerNorm.weight", {h}), what);
    layer.attn_norm_bias = UploadF32(engine_, read("attention.output.LayerNorm.bias", {h}), what);
    layer.ffn_in_weight = UploadF32(engine_, read("intermediate.dense.weight", {inter, h}), what);
    layer.ffn_in_bias = UploadF32(engine_, read("intermediate.dense.bias", {inter}), what);
    layer.ffn_out_weight = UploadF32(engine_, read("output.dense.weight", {h, inter}), what);
    layer.ffn_out_bias = UploadF32(engine_, read("output.dense.bias", {h}), what);
    layer.ffn_norm_weight = UploadF32(engine_, read("output.LayerNorm.weight", {h}), what);
    layer.ffn_norm_bias = UploadF32(engine_, read("output.LayerNorm.bias", {h}), what);
    layers_.push_back(std::move(layer));
  }
}

void BertModel::EnsureScratch(int64_t batch, int64_t length) {
  const int64_t tokens = batch * length;
  if (tokens <= scratch_.tokens && batch <= scratch_.batch) return;
  scratch_ = Scratch{};
  const uint64_t t = static_cast<uint64_t>(tokens);
  const uint64_t h = static_cast<uint64_t>(config_.hidden);
  const uint64_t f = sizeof(float);
  scratch_.ids = engine_.Allocate(t * 4, "token ids");
  scratch_.positions = engine_.Allocate(t * 4, "positions");
  scratch_.mask = engine_.Allocate(t * f, "attention mask");
  scratch_.pool_weights = engine_.Allocate(t * f, "pooling weights");
  scratch_.x = engine_.Allocate(t * h * f, "activations");
  scratch_.y = engine_.Allocate(t * h * f, "activations");
  scratch_.qkv = engine_.Allocate(t * 3 * h * f, "qkv");
  scratch_.context = engine_.Allocate(t * h * f, "attention output");
  scratch_.ffn = engine_.Allocate(t * static_cast<uint64_t>(config_.intermediate) * f, "ffn");
  scratch_.pooled = engine_.Allocate(static_cast<uint64_t>(batch) * h * f, "pooled");
  scratch_.tokens = tokens;
  scratch_.batch = batch;
}

std::vector<std::vector<float>> BertModel::Embed(const std::vector<std::vector<int32_t>>& batch) {
  if (batch.empty()) return {};
  int64_t length = 0;
  for (size_t s = 0; s < batch.size(); ++s) {
    const int64_t n = static_cast<int64_t>(batch[s].size());
    if (n == 0 || n > config_.max_positions) {
      throw ModelError("sequence " + std::to_string(s) + " has " + std::to_string(n) +
                       " tokens; the encoder takes 1 to " + std::to_string(config_.max_positions));
    }
    for (int32_t id : batch[s]) {
      if (id < 0 || id >= config_.vocab) {
        throw ModelError("sequence " + std::to_string(s) + " holds token id " + std::to_string(id) +
                         ", outside the vocabulary of " + std::to_string(config_.vocab));
      }
    }
    length = std::max(length, n);
  }
  const int64_t b = static_cast<int64_t>(batch.size());
  const int64_t l = length;
  const int64_t t = b * l;
  const int64_t h = config_.hidden;
  const int64_t nh = config_.heads;
  const int64_t hd = h / nh;
  EnsureScratch(b, l);

  // Host inputs: ids padded with 0, the additive key mask, positions and pooling weights.
  std::vector<int32_t> ids(t, 0), positions(l);
  std::vector<float> mask(t, -std::numeric_limits<float>::infinity()), pool(t, 0.0f);
  for (int64_t s = 0; s < b; ++s) {
    const int64_t n = static_cast<int64_t>(batch[s].size());
    for (int64_t i = 0; i < n; ++i) {
      ids[s * l + i] = batch[s][i];
      mask[s * l + i] = 0.0f;
      pool[s * l + i] =
          config_.mean_pooling ? 1.0f / static_cast<float>(n) : (i == 0 ? 1.0f : 0.0f);
    }
  }
  for (int64_t i = 0; i < l; ++i) positions[i] = static_cast<int32_t>(i);
  engine_.CopyToDevice(scratch_.ids, 0, ids.data(), ids.size() * 4);
  engine_.CopyToDevice(scratch_.positions, 0, positions.data(), positions.size() * 4);
  engine_.CopyToDevice(scratch_.mask, 0, mask.data(), mask.size() * 4);
  engine_.CopyToDevice(scratch_.pool_weights, 0, pool.data(), pool.size() * 4);

  porta_ops_context_t ops = engine_.ops();
  porta_stream_t stream = engine_.stream();
  const porta_dtype_t f32 = PORTA_DTYPE_F32;
  const auto hidden_view = [&](const DeviceBuffer& buffer) {
    return Contiguous(buffer.get(), 0, f32, {b, l, h});
  };
  const auto linear =
      [&](const porta_tensor_t& in, const DeviceBuffer& weight, const DeviceBuffer& bias, int64_t n,
          int64_t k, porta_unary_op_t activation, const porta_tensor_t& out, const char* what) {
        porta_matmul_desc_t desc = PORTA_MATMUL_DESC_INIT;
        desc.transpose_b = 1;
        desc.activation = activation;
        const porta_tensor_t w = Contiguous(weight.get(), 0, f32, {n, k});
        const porta_tensor_t bv = Contiguous(bias.get(), 0, f32, {n});
        engine_.Op(porta_ops_matmul(ops, stream, &desc, &in, &w, &bv, &out), what);
      };
  const auto layernorm = [&](const porta_tensor_t& in, const DeviceBuffer& weight,
                             const DeviceBuffer& bias, const porta_tensor_t& out) {
    const porta_tensor_t w = Contiguous(weight.get(), 0, f32, {h});
    const porta_tensor_t bv = Contiguous(bias.get(), 0, f32, {h});
    engine_.Op(porta_ops_layernorm(ops, stream, &in, &w, &bv, config_.layer_norm_eps, &out),
               "layernorm");
  };

  // Embeddings: word + position + token type 0, then LayerNorm.
  const porta_tensor_t x = hidden_view(scratch_.x);
  const porta_tensor_t y = hidden_view(scratch_.y);
  {
    const porta_tensor_t table = Contiguous(word_embeddings_.get(), 0, f32, {config_.vocab, h});
    const porta_tensor_t id_view = Contiguous(scratch_.ids.get(), 0, PORTA_DTYPE_I32, {b, l});
    engine_.Op(porta_ops_embedding(ops, stream, &table, &id_view, &y), "word embeddings");
    const porta_tensor_t pos_table =
        Contiguous(position_embeddings_.get(), 0, f32, {config_.max_positions, h});
    const porta_tensor_t pos_ids = Contiguous(scratch_.positions.get(), 0, PORTA_DTYPE_I32, {l});
    const porta_tensor_t pos = Contiguous(scratch_.x.get(), 0, f32, {l, h});
    engine_.Op(porta_ops_embedding(ops, stream, &pos_table, &pos_ids, &pos), "position embeddings");
    engine_.Op(porta_ops_binary(ops, stream, PORTA_BINARY_ADD, &y, &pos, &y),
               "position embeddings");
    const porta_tensor_t type0 = Contiguous(token_type_embeddings_.get(), 0, f32, {h});
    engine_.Op(porta_ops_binary(ops, stream, PORTA_BINARY_ADD, &y, &type0, &y),
               "token type embeddings");
    layernorm(y, embeddings_norm_weight_, embeddings_norm_bias_, x);
  }

  const porta_tensor_t x2 = Contiguous(scratch_.x.get(), 0, f32, {t, h});
  const porta_tensor_t y2 = Contiguous(scratch_.y.get(), 0, f32, {t, h});
  const porta_tensor_t qkv = Contiguous(scratch_.qkv.get(), 0, f32, {t, 3 * h});
  const porta_tensor_t context2 = Contiguous(scratch_.context.get(), 0, f32, {t, h});
  const porta_tensor_t ffn = Contiguous(scratch_.ffn.get(), 0, f32, {t, config_.intermediate});
  // [B, nh, L, hd] views: token (s, i) is row s * L + i of the [T, 3H] and [T, H] buffers.
  const auto head_view = [&](const DeviceBuffer& buffer, int64_t row, int64_t column) {
    return Strided(buffer.get(), static_cast<uint64_t>(column) * sizeof(float), f32, {b, nh, l, hd},
                   {l * row, hd, row, 1});
  };
  const porta_tensor_t q = head_view(scratch_.qkv, 3 * h, 0);
  const porta_tensor_t k = head_view(scratch_.qkv, 3 * h, h);
  const porta_tensor_t v = head_view(scratch_.qkv, 3 * h, 2 * h);
  const porta_tensor_t context = head_view(scratch_.context, h, 0);
  const porta_tensor_t key_mask = Contiguous(scratch_.mask.get(), 0, f32, {b, 1, 1, l});

  for (const Layer& layer : layers_) {
    linear(x2, layer.qkv_weight, layer.qkv_bias, 3 * h, h, PORTA_UNARY_NONE, qkv, "qkv projection");
    porta_attention_desc_t attention = PORTA_ATTENTION_DESC_INIT;
    engine_.Op(porta_ops_attention(ops, stream, &attention, &q, &k, &v, &key_mask, &context),
               "attention");
    linear(context2, layer.attn_out_weight, layer.attn_out_bias, h, h, PORTA_UNARY_NONE, y2,
           "attention output projection");
    engine_.Op(porta_ops_binary(ops, stream, PORTA_BINARY_ADD, &y2, &x2, &y2),
               "attention residual");
    layernorm(y, layer.attn_norm_weight, layer.attn_norm_bias, x);
    linear(x2, layer.ffn_in_weight, layer.ffn_in_bias, config_.intermediate, h, config_.activation,
           ffn, "feed-forward input");
    linear(ffn, layer.ffn_out_weight, layer.ffn_out_bias, h, config_.intermediate, PORTA_UNARY_NONE,
           y2, "feed-forward output");
    engine_.Op(porta_ops_binary(ops, stream, PORTA_BINARY_ADD, &y2, &x2, &y2),
               "feed-forward residual");
    layernorm(y, layer.ffn_norm_weight, layer.ffn_norm_bias, x);
  }

  // Pooling as a batched product: pooled[s] = weights[s] (1 x L) @ x[s] (L x H).
  {
    porta_matmul_desc_t desc = PORTA_MATMUL_DESC_INIT;
    const porta_tensor_t weights = Contiguous(scratch_.pool_weights.get(), 0, f32, {b, 1, l});
    const porta_tensor_t pooled = Contiguous(scratch_.pooled.get(), 0, f32, {b, 1, h});
    engine_.Op(porta_ops_matmul(ops, stream, &desc, &weights, &x, nullptr, &pooled), "pooling");
  }
  std::vector<float> pooled(static_cast<size_t>(b * h));
  engine_.CopyToHost(pooled.data(), scratch_.pooled, 0, pooled.size() * sizeof(float));

  std::vector<std::vector<float>> embeddings(static_cast<size_t>(b));
  for (int64_t s = 0; s < b; ++s) {
    std::vector<float>& e = embeddings[s];
    e.assign(pooled.begin() + s * h, pooled.begin() + (s + 1) * h);
    if (config_.normalize) {
      // torch.nn.functional.normalize: x / max(||x||, 1e-12).
      double norm = 0;
      for (float value : e) norm += static_cast<double>(value) * value;
      const double scale = 1.0 / std::max(std::sqrt(norm), 1e-12);
      for (float& value : e) value = static_cast<float>(value * scale);
    }
  }
  return embeddings;
}

}  // namespace porta::run
