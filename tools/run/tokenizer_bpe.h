// The byte-level BPE tokenizer of GGUF "gpt2"-model vocabularies (SmolLM2 and its family): split
// out special tokens, pre-tokenise with the pre-tokenizer's regex, map bytes to GPT-2's printable
// characters, merge by rank. It matches llama.cpp's tokenizer for the pre-tokenizers it accepts.
#ifndef PORTA_TOOLS_RUN_TOKENIZER_BPE_H_
#define PORTA_TOOLS_RUN_TOKENIZER_BPE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace porta::run {

// A GGUF tokenizer's metadata as plain data (tokenizer.ggml.* keys), so the tokenizer does not
// depend on the file reader.
struct BpeVocab {
  std::vector<std::string> tokens;   // tokenizer.ggml.tokens
  std::vector<int32_t> token_types;  // tokenizer.ggml.token_type; empty: all normal
  std::vector<std::string> merges;   // tokenizer.ggml.merges, "left right", rank = index
  std::string pre;                   // tokenizer.ggml.pre
  int32_t bos_id = -1, eos_id = -1, pad_id = -1;  // -1: absent
  bool add_bos = false;                           // tokenizer.ggml.add_bos_token
  std::string chat_template;                      // tokenizer.chat_template
};

// GGUF token types (llama.cpp's llama_token_type).
enum BpeTokenType : int32_t {
  kBpeTokenUndefined = 0,
  kBpeTokenNormal = 1,
  kBpeTokenUnknown = 2,
  kBpeTokenControl = 3,
  kBpeTokenUserDefined = 4,
  kBpeTokenUnused = 5,
  kBpeTokenByte = 6,
};

class BpeTokenizer {
 public:
  // Checks and indexes |vocab|. ModelError naming the item for: no tokens, an empty or duplicate
  // token, a token type list of another length or an unknown type, a merge that is not
  // "left right" with both parts in the vocabulary, a bos/eos/pad id out of range, add_bos
  // without a bos id, or a pre-tokenizer this class does not implement (accepted: "smollm" and the
  // names llama.cpp gives the same regexes: "starcoder", "refact", "command-r", "codeshell",
  // "exaone", "minerva-7b"; and the plain GPT-2 regex: "gpt-2", "phi-2", "mpt", "olmo", "jais").
  static BpeTokenizer Create(BpeVocab vocab);

  // Token ids of |utf8|. |parse_special|: control and unknown-type tokens written in the text (e.g.
  // <|im_start|>) become their ids, as llama.cpp's tokenize(..., parse_special=true); user-defined
  // tokens are always matched, as there. |add_bos|: put BOS first when the vocabulary asks for it
  // (BpeVocab::add_bos). Ill-formed UTF-8 is read as llama.cpp reads it (see Utf8Errors).
  std::vector<int32_t> Encode(std::string_view utf8, bool add_bos, bool parse_special) const;

  // The bytes token |id| stands for: byte-level decoded for normal tokens, the text itself for
  // control, user-defined and unknown-type ones. May end inside a UTF-8 sequence. ModelError for
  // an id out of range.
  std::string TokenBytes(int32_t id) const;
  std::string Decode(const std::vector<int32_t>& ids) const;

  // EOS, and the tokens llama.cpp ends generation on: end-of-turn texts such as <|im_end|>,
  // <|endoftext|>, <|eot_id|>, and the fill-in-the-middle pad/repo/file-separator tokens.
  bool IsEndOfGeneration(int32_t id) const;

  int32_t bos_id() const { return vocab_.bos_id; }
  int32_t eos_id() const { return vocab_.eos_id; }
  int32_t pad_id() const { return vocab_.pad_id; }
  size_t vocab_size() const { return vocab_.tokens.size(); }
  const std::string& chat_template() const { return vocab_.chat_template; }
  // The token's text as stored (byte-level encoded). ModelError for an id out of range.
  const std::string& Token(int32_t id) const;

 private:
  enum class PreSplit { kGpt2, kDigitsThenGpt2 };

  BpeTokenizer() = default;
  void CheckId(int32_t id) const;
  // Appends the ids of |text|, which holds no special tokens.
  void EncodeText(std::string_view text, std::vector<int32_t>* ids) const;
  void EncodeWord(const std::string& word, std::vector<int32_t>* ids) const;
  int32_t FindToken(const std::string& text) const;
  int MergeRank(const std::string& left, const std::string& right) const;

  BpeVocab vocab_;
  PreSplit pre_split_ = PreSplit::kGpt2;
  std::unordered_map<std::string, int32_t> ids_;
  // Key: decimal length of the left part, ':', left, right; unambiguous whatever the parts hold.
  std::unordered_map<std::string, int> merge_ranks_;
  // Control, user-defined and unknown-type tokens, longest text first.
  std::vector<int32_t> specials_;
  std::unordered_set<int32_t> end_of_generation_;
  std::vector<bool> control_;  // control or unknown type: matched only with parse_special
  std::vector<std::string> token_bytes_;
};

}  // namespace porta::run

#endif  // PORTA_TOOLS_RUN_TOKENIZER_BPE_H_
