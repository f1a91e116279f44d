// LLaMA decoder forward pass on porta_ops.h. Per layer, for T new tokens at positions p..p+T-1:
//   h = rmsnorm(x);  [q k v] = h Wqkv^T  (one product: the three weights are one matrix)
//   rope(q, k) in place (one launch: q and k are adjacent columns);  copy k, v into the cache
//   x += attention(q, cache k[0:p+T], cache v[0:p+T], causal) Wo^T   (the residual is beta = 1)
//   h = rmsnorm(x);  [g u] = h Wgu^T;  x += (silu(g) * u) Wdown^T
// then the last token's logits = rmsnorm(x[T-1]) Wout^T, with Wout the token embedding when the
// file ties them. GGUF stores a weight of ne = (K, N) as N rows of K: [N, K] row-major, exactly
// the transposed b operand porta_ops_matmul takes.
#include "tools/run/llama_model.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "tools/run/model_error.h"
#include "tools/run/quant.h"

namespace porta::run {
namespace {

// The operator-library type of a GGUF tensor type, when the library reads it as stored.
bool PortaDtype(GgmlType type, porta_dtype_t* out) {
  switch (type) {
    case GgmlType::F32:
      *out = PORTA_DTYPE_F32;
      return true;
    case GgmlType::F16:
      *out = PORTA_DTYPE_F16;
      return true;
    case GgmlType::BF16:
      *out = PORTA_DTYPE_BF16;
      return true;
    case GgmlType::Q4_0:
      *out = PORTA_DTYPE_Q4_0;
      return true;
    case GgmlType::Q4_1:
      *out = PORTA_DTYPE_Q4_1;
      return true;
    case GgmlType::Q8_0:
      *out = PORTA_DTYPE_Q8_0;
      return true;
    default:
      return false;
  }
}

int64_t MetaInt(const GgufFile& file, const std::string& key) {
  const uint64_t value = file.GetUint(key);
  if (value == 0 || value > (1ull << 31)) {
    throw ModelError(file.origin() + ": " + key + " = " + std::to_string(value) +
                     " is outside 1 .. 2^31");
  }
  return static_cast<int64_t>(value);
}

}  // namespace

WeightLoad ParseWeightLoad(const std::string& text) {
  if (text.empty()) return WeightLoad::kAsStored;
  if (text == "f16") return WeightLoad::kF16;
  if (text == "f32") return WeightLoad::kF32;
  throw ModelError("--dequantize takes f16 or f32, not '" + text + "'");
}

LlamaModel::LlamaModel(Engine& engine, const GgufFile& file, const LlamaOptions& options)
    : engine_(engine), options_(options) {
  const std::string arch = file.GetString("general.architecture");
  // Architectures that are the llama graph under another name.
  if (arch != "llama" && arch != "mistral") {
    throw ModelError(file.origin() + ": general.architecture is \"" + arch +
                     "\"; porta-run runs llama-architecture decoders");
  }
  config_.architecture = arch;
  config_.layers = MetaInt(file, arch + ".block_count");
  config_.embedding = MetaInt(file, arch + ".embedding_length");
  config_.feed_forward = MetaInt(file, arch + ".feed_forward_length");
  config_.heads = MetaInt(file, arch + ".attention.head_count");
  config_.kv_heads = file.Has(arch + ".attention.head_count_kv")
                         ? MetaInt(file, arch + ".attention.head_count_kv")
                         : config_.heads;
  config_.trained_context = MetaInt(file, arch + ".context_length");
  config_.rope_base = static_cast<float>(file.GetFloat(arch + ".rope.freq_base", 10000.0));
  config_.rms_eps =
      static_cast<float>(file.GetFloat(arch + ".attention.layer_norm_rms_epsilon", 1e-5));
  if (config_.embedding % config_.heads != 0 || config_.heads % config_.kv_heads != 0) {
    throw ModelError(file.origin() + ": embedding_length " + std::to_string(config_.embedding) +
                     ", head_count " + std::to_string(config_.heads) + " and head_count_kv " +
                     std::to_string(config_.kv_heads) +
                     " do not divide (embedding by heads, heads by kv heads)");
  }
  config_.head_dim = config_.embedding / config_.heads;
  config_.rope_dims = file.Has(arch + ".rope.dimension_count")
                          ? MetaInt(file, arch + ".rope.dimension_count")
                          : config_.head_dim;
  if (config_.rope_dims > config_.head_dim || config_.rope_dims % 2 != 0) {
    throw ModelError(file.origin() + ": rope.dimension_count " + std::to_string(config_.rope_dims) +
                     " must be even and at most the head size " + std::to_string(config_.head_dim));
  }
  if (options.context < 1 || options.context > config_.trained_context) {
    throw ModelError("the context of " + std::to_string(options.context) +
                     " tokens is outside 1 .. " + std::to_string(config_.trained_context) +
                     " (the model's trained context)");
  }
  context_ = options.context;

  token_embedding_ = LoadWeight(file, {"token_embd.weight"}, true);
  config_.vocab = token_embedding_.rows;
  if (token_embedding_.columns != config_.embedding) {
    throw ModelError(file.origin() + ": token_embd.weight has rows of " +
                     std::to_string(token_embedding_.columns) + ", embedding_length is " +
                     std::to_string(config_.embedding));
  }
  output_norm_ = LoadWeight(file, {"output_norm.weight"}, false);
  // Tied embeddings: without output.weight the LM head is the token embedding.
  if (file.Find("output.weight") != nullptr) output_ = LoadWeight(file, {"output.weight"}, true);

  const int64_t e = config_.embedding;
  const int64_t hd = config_.head_dim;
  const uint64_t cache_bytes =
      static_cast<uint64_t>(config_.kv_heads * context_ * hd) * sizeof(float);
  for (int64_t l = 0; l < config_.layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    Layer layer;
    layer.attn_norm = LoadWeight(file, {p + "attn_norm.weight"}, false);
    layer.qkv =
        LoadWeight(file, {p + "attn_q.weight", p + "attn_k.weight", p + "attn_v.weight"}, true);
    layer.attn_out = LoadWeight(file, {p + "attn_output.weight"}, true);
    layer.ffn_norm = LoadWeight(file, {p + "ffn_norm.weight"}, false);
    layer.gate_up = LoadWeight(file, {p + "ffn_gate.weight", p + "ffn_up.weight"}, true);
    layer.down = LoadWeight(file, {p + "ffn_down.weight"}, true);
    const int64_t qkv_rows = (config_.heads + 2 * config_.kv_heads) * hd;
    const auto expect = [&](const Weight& w, int64_t rows, int64_t columns, const char* name) {
      if (w.rows != rows || w.columns != columns) {
        throw ModelError(file.origin() + ": " + p + name + " is [" + std::to_string(w.rows) + ", " +
                         std::to_string(w.columns) + "], the metadata needs [" +
                         std::to_string(rows) + ", " + std::to_string(columns) + "]");
      }
    };
    expect(layer.attn_norm, 1, e, "attn_norm");
    expect(layer.qkv, qkv_rows, e, "attn_q/k/v");
    expect(layer.attn_out, e, config_.heads * hd, "attn_output");
    expect(layer.ffn_norm, 1, e, "ffn_norm");
    expect(layer.gate_up, 2 * config_.feed_forward, e, "ffn_gate/up");
    expect(layer.down, e, config_.feed_forward, "ffn_down");
    layer.cache = engine_.Allocate(2 * cache_bytes, "key and value cache");
    layers_.push_back(std::move(layer));
  }
  last_hidden_ = engine_.Allocate(static_cast<uint64_t>(e) * sizeof(float), "last hidden state");
  logits_ = engine_.Allocate(static_cast<uint64_t>(config_.vocab) * sizeof(float), "logits");
  next_token_ = engine_.Allocate(sizeof(int32_t), "next token");
}

LlamaModel::Weight LlamaModel::LoadWeight(const GgufFile& file,
                                          const std::vector<std::string>& names,
                                          bool matmul_weight) {
  std::vector<const GgufTensor*> parts;
  for (const std::string& name : names) parts.push_back(&file.Get(name));
  const GgufTensor& first = *parts.front();
  Weight weight;
  weight.columns = static_cast<int64_t>(first.dims[0]);
  bool same_type = true;
  for (const GgufTensor* part : parts) {
    if (part->dims.size() > 2 || part->dims[0] != first.dims[0]) {
      throw ModelError(file.origin() + ": " + part->name + " is not a matrix with rows of " +
                       std::to_string(first.dims[0]) + " like " + first.name);
    }
    weight.rows += part->dims.size() == 2 ? static_cast<int64_t>(part->dims[1]) : 1;
    same_type = same_type && part->type == first.type;
  }

  porta_dtype_t stored = PORTA_DTYPE_F32;
  const bool readable = PortaDtype(first.type, &stored);
  // Norm vectors are always f32 (they multiply f32 activations); matrices keep their type unless
  // the caller asks otherwise, or the parts of a fused matrix differ in type.
  WeightLoad load = options_.weights;
  if (!matmul_weight) load = WeightLoad::kF32;
  if (load == WeightLoad::kAsStored && (!same_type || !readable)) load = WeightLoad::kF32;
  if (load == WeightLoad::kF16 && first.type == GgmlType::F32 && same_type) {
    load = WeightLoad::kAsStored;  // f32 stays f32: halving it would only lose precision
  }

  std::vector<uint8_t> bytes;
  if (load == WeightLoad::kAsStored) {
    weight.dtype = stored;
    for (const GgufTensor* part : parts) {
      bytes.insert(bytes.end(), part->data, part->data + part->size);
    }
  } else {
    const uint64_t count = static_cast<uint64_t>(weight.rows * weight.columns);
    const bool f16 = load == WeightLoad::kF16;
    weight.dtype = f16 ? PORTA_DTYPE_F16 : PORTA_DTYPE_F32;
    bytes.resize(count * (f16 ? 2 : 4));
    uint64_t done = 0;
    for (const GgufTensor* part : parts) {
      const uint64_t n = part->size / GgmlBlockBytes(part->type) * GgmlBlockElements(part->type);
      if (f16) {
        DequantizeRowF16(part->type, part->data, n,
                         reinterpret_cast<uint16_t*>(bytes.data()) + done);
      } else {
        DequantizeRow(part->type, part->data, n, reinterpret_cast<float*>(bytes.data()) + done);
      }
      done += n;
    }
  }
  weight.buffer = engine_.Upload(bytes.data(), bytes.size(), first.name);
  return weight;
}

void LlamaModel::EnsureScratch(int64_t tokens) {
  if (tokens <= scratch_.tokens) return;
  scratch_ = Scratch{};
  const uint64_t t = static_cast<uint64_t>(tokens);
  const uint64_t f = sizeof(float);
  const uint64_t e = static_cast<uint64_t>(config_.embedding);
  const uint64_t qkv =
      static_cast<uint64_t>((config_.heads + 2 * config_.kv_heads) * config_.head_dim);
  const uint64_t ff = static_cast<uint64_t>(config_.feed_forward);
  scratch_.ids = engine_.Allocate(t * 4, "token ids");
  scratch_.positions = engine_.Allocate(t * 4, "positions");
  scratch_.x = engine_.Allocate(t * e * f, "hidden states");
  scratch_.h = engine_.Allocate(t * e * f, "normalised hidden states");
  scratch_.qkv = engine_.Allocate(t * qkv * f, "qkv");
  scratch_.attention = engine_.Allocate(t * e * f, "attention output");
  scratch_.gate_up = engine_.Allocate(t * 2 * ff * f, "gate and up projections");
  scratch_.ffn = engine_.Allocate(t * ff * f, "feed-forward activations");
  scratch_.tokens = tokens;
}

void LlamaModel::Linear(const porta_tensor_t& in, const Weight& weight, const porta_tensor_t& out,
                        float beta, const char* what) {
  porta_matmul_desc_t desc = PORTA_MATMUL_DESC_INIT;
  desc.transpose_b = 1;
  desc.beta = beta;
  desc.quantize_a = options_.quantize_activations ? 1 : 0;
  const porta_tensor_t w =
      Contiguous(weight.buffer.get(), 0, weight.dtype, {weight.rows, weight.columns});
  const porta_status_t status =
      porta_ops_matmul(engine_.ops(), engine_.stream(), &desc, &in, &w, nullptr, &out);
  if (status == PORTA_ERROR_UNSUPPORTED) {
    Check(status, std::string(what) + " with " + porta_dtype_name(weight.dtype) + " weights on " +
                      engine_.Describe() + " (load the weights with --dequantize f32 to run it)");
  }
  engine_.Op(status, what);
}

void LlamaModel::Forward(const std::vector<int32_t>& tokens) {
  const int64_t t = static_cast<int64_t>(tokens.size());
  if (t == 0) throw ModelError("Forward needs at least one token");
  if (position_ + t > context_) {
    throw ModelError("the KV cache holds " + std::to_string(context_) + " tokens; " +
                     std::to_string(position_) + " are used and " + std::to_string(t) +
                     " more do not fit (raise --context)");
  }
  for (int32_t id : tokens) {
    if (id < 0 || id >= config_.vocab) {
      throw ModelError("token id " + std::to_string(id) + " is outside the vocabulary of " +
                       std::to_string(config_.vocab));
    }
  }
  if (pending_) engine_.Synchronize();
  EnsureScratch(t);
  staged_ids_ = tokens;
  staged_positions_.resize(static_cast<size_t>(t));
  for (int64_t i = 0; i < t; ++i) staged_positions_[i] = static_cast<int32_t>(position_ + i);
  engine_.CopyToDevice(scratch_.ids, 0, staged_ids_.data(), staged_ids_.size() * 4);
  engine_.CopyToDevice(scratch_.positions, 0, staged_positions_.data(),
                       staged_positions_.size() * 4);
  pending_ = true;

  porta_ops_context_t ops = engine_.ops();
  porta_stream_t stream = engine_.stream();
  const porta_dtype_t f32 = PORTA_DTYPE_F32;
  const int64_t e = config_.embedding;
  const int64_t nh = config_.heads;
  const int64_t nkv = config_.kv_heads;
  const int64_t hd = config_.head_dim;
  const int64_t ff = config_.feed_forward;
  const int64_t qkv_width = (nh + 2 * nkv) * hd;
  const int64_t p = position_;
  const int64_t visible = p + t;

  const porta_tensor_t x = Contiguous(scratch_.x.get(), 0, f32, {t, e});
  const porta_tensor_t h = Contiguous(scratch_.h.get(), 0, f32, {t, e});
  const porta_tensor_t qkv = Contiguous(scratch_.qkv.get(), 0, f32, {t, qkv_width});
  const porta_tensor_t attention = Contiguous(scratch_.attention.get(), 0, f32, {t, nh * hd});
  const porta_tensor_t gate_up = Contiguous(scratch_.gate_up.get(), 0, f32, {t, 2 * ff});
  const porta_tensor_t gate = Strided(scratch_.gate_up.get(), 0, f32, {t, ff}, {2 * ff, 1});
  const porta_tensor_t up =
      Strided(scratch_.gate_up.get(), static_cast<uint64_t>(ff) * 4, f32, {t, ff}, {2 * ff, 1});
  const porta_tensor_t ffn = Contiguous(scratch_.ffn.get(), 0, f32, {t, ff});
  const porta_tensor_t positions = Contiguous(scratch_.positions.get(), 0, PORTA_DTYPE_I32, {t});
  // q and k side by side: [T, nh + nkv, hd], rotated in one launch.
  const porta_tensor_t qk =
      Strided(scratch_.qkv.get(), 0, f32, {t, nh + nkv, hd}, {qkv_width, hd, 1});
  const porta_tensor_t q =
      Strided(scratch_.qkv.get(), 0, f32, {1, nh, t, hd}, {0, hd, qkv_width, 1});
  // The new keys and values as [2, nkv, T, hd], the layout of the cache (k and v are adjacent
  // column ranges of qkv).
  const porta_tensor_t kv_new = Strided(scratch_.qkv.get(), static_cast<uint64_t>(nh * hd) * 4, f32,
                                        {2, nkv, t, hd}, {nkv * hd, hd, qkv_width, 1});
  // One of the cache's two planes as [1, nkv, visible, hd].
  const int64_t plane = nkv * context_ * hd;
  const porta_tensor_t out_heads =
      Strided(scratch_.attention.get(), 0, f32, {1, nh, t, hd}, {0, hd, nh * hd, 1});
  const auto norm = [&](const porta_tensor_t& in, const Weight& weight, const porta_tensor_t& out) {
    const porta_tensor_t w = Contiguous(weight.buffer.get(), 0, f32, {e});
    engine_.Op(porta_ops_rmsnorm(ops, stream, &in, &w, nullptr, config_.rms_eps, &out), "rmsnorm");
  };

  {
    const porta_dtype_t type = token_embedding_.dtype;
    const porta_tensor_t table =
        Contiguous(token_embedding_.buffer.get(), 0, type, {config_.vocab, e});
    const porta_tensor_t ids = Contiguous(scratch_.ids.get(), 0, PORTA_DTYPE_I32, {t});
    if (type == PORTA_DTYPE_F16 || type == PORTA_DTYPE_BF16) {
      // porta_ops_embedding gives the rows of an unquantized table in the table's type: f16 or
      // bf16 rows (--dequantize f16) are gathered into h, which is free until the first norm, and
      // cast from there into x.
      const porta_tensor_t rows = Contiguous(scratch_.h.get(), 0, type, {t, e});
      engine_.Op(porta_ops_embedding(ops, stream, &table, &ids, &rows), "token embedding");
      engine_.Op(porta_ops_cast(ops, stream, &rows, &x), "token embedding to f32");
    } else {
      engine_.Op(porta_ops_embedding(ops, stream, &table, &ids, &x), "token embedding");
    }
  }
  porta_rope_desc_t rope = PORTA_ROPE_DESC_INIT;
  // GGUF llama files store q and k rows so that the rotated pairs are adjacent elements.
  rope.mode = PORTA_ROPE_MODE_INTERLEAVED;
  rope.rotary_dims = static_cast<uint32_t>(config_.rope_dims);
  rope.theta_base = config_.rope_base;
  rope.seq_axis = 0;
  porta_attention_desc_t attend = PORTA_ATTENTION_DESC_INIT;
  attend.causal = 1;

  for (const Layer& layer : layers_) {
    norm(x, layer.attn_norm, h);
    Linear(h, layer.qkv, qkv, 0.0f, "qkv projection");
    engine_.Op(porta_ops_rope(ops, stream, &rope, &qk, &positions, &qk), "rope");
    const porta_tensor_t kv_cache = Strided(layer.cache.get(), static_cast<uint64_t>(p * hd) * 4,
                                            f32, {2, nkv, t, hd}, {plane, context_ * hd, hd, 1});
    engine_.Op(porta_ops_copy(ops, stream, &kv_new, &kv_cache), "key and value cache write");
    const porta_tensor_t keys =
        Strided(layer.cache.get(), 0, f32, {1, nkv, visible, hd}, {0, context_ * hd, hd, 1});
    const porta_tensor_t values = Strided(layer.cache.get(), static_cast<uint64_t>(plane) * 4, f32,
                                          {1, nkv, visible, hd}, {0, context_ * hd, hd, 1});
    engine_.Op(porta_ops_attention(ops, stream, &attend, &q, &keys, &values, nullptr, &out_heads),
               "attention");
    Linear(attention, layer.attn_out, x, 1.0f, "attention output projection");
    norm(x, layer.ffn_norm, h);
    Linear(h, layer.gate_up, gate_up, 0.0f, "gate and up projections");
    engine_.Op(porta_ops_binary(ops, stream, PORTA_BINARY_SWIGLU, &gate, &up, &ffn), "swiglu");
    Linear(ffn, layer.down, x, 1.0f, "down projection");
  }

  const porta_tensor_t last =
      Contiguous(scratch_.x.get(), static_cast<uint64_t>((t - 1) * e) * 4, f32, {1, e});
  const porta_tensor_t last_normed = Contiguous(last_hidden_.get(), 0, f32, {1, e});
  norm(last, output_norm_, last_normed);
  const porta_tensor_t logits = Contiguous(logits_.get(), 0, f32, {1, config_.vocab});
  Linear(last_normed, output_.buffer.get() != nullptr ? output_ : token_embedding_, logits, 0.0f,
         "output projection");
  position_ += t;
}

int32_t LlamaModel::Argmax() {
  const porta_tensor_t logits = Contiguous(logits_.get(), 0, PORTA_DTYPE_F32, {config_.vocab});
  const porta_tensor_t out = Contiguous(next_token_.get(), 0, PORTA_DTYPE_I32, {});
  engine_.Op(porta_ops_argmax(engine_.ops(), engine_.stream(), &logits, 0, 0, &out), "argmax");
  int32_t token = 0;
  engine_.CopyToHost(&token, next_token_, 0, sizeof token);
  pending_ = false;
  return token;
}

std::vector<float> LlamaModel::Logits() {
  std::vector<float> logits(static_cast<size_t>(config_.vocab));
  engine_.CopyToHost(logits.data(), logits_, 0, logits.size() * sizeof(float));
  pending_ = false;
  return logits;
}

}  // namespace porta::run
