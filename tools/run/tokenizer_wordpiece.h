// The BERT WordPiece tokenizer (all-MiniLM-L6-v2): vocab.txt in, [CLS] pieces... [SEP] out, with
// the text handled as Hugging Face's BertNormalizer, BertPreTokenizer and WordPiece model do.
#ifndef PORTA_TOOLS_RUN_TOKENIZER_WORDPIECE_H_
#define PORTA_TOOLS_RUN_TOKENIZER_WORDPIECE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace porta::run {

class WordPieceTokenizer {
 public:
  // Reads vocab.txt (one token per line, id = line number; a trailing '\r' is dropped). ModelError
  // naming the file and line for an unreadable or empty file, an empty or duplicate token, or a
  // missing [CLS], [SEP], [UNK] or [PAD]. |lower_case| also strips accents, as BertTokenizer does
  // when strip_accents is unset.
  static WordPieceTokenizer FromVocabFile(const std::string& path, bool lower_case = true);
  // The same from the lines themselves; |source| names them in messages.
  static WordPieceTokenizer FromTokens(std::vector<std::string> tokens, bool lower_case,
                                       const std::string& source);

  // [CLS] pieces... [SEP], the pieces cut so the whole is at most |max_tokens| ids. The special
  // tokens [PAD] [UNK] [CLS] [SEP] [MASK] written in the text map to their ids, as Hugging Face's
  // tokenizer does. Ill-formed UTF-8 is replaced by U+FFFD (one per maximal ill-formed
  // subsequence, as Python's errors="replace"), which the text cleaning then drops. ModelError if
  // |max_tokens| < 2.
  std::vector<int32_t> Encode(std::string_view utf8, size_t max_tokens = 512) const;

  int32_t cls_id() const { return cls_id_; }
  int32_t sep_id() const { return sep_id_; }
  int32_t pad_id() const { return pad_id_; }
  int32_t unk_id() const { return unk_id_; }
  size_t vocab_size() const { return tokens_.size(); }
  // ModelError for an id out of range.
  const std::string& Token(int32_t id) const;

 private:
  WordPieceTokenizer() = default;

  // Normalises and splits |text| (no special tokens in it) into words.
  std::vector<std::string> Words(std::u32string_view text) const;
  void AppendWordPieces(const std::string& word, std::vector<int32_t>* ids) const;
  int32_t Find(const std::string& piece) const;

  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int32_t> ids_;
  // Special tokens matched in the raw text, longest first.
  std::vector<std::pair<std::u32string, int32_t>> specials_;
  bool lower_case_ = true;
  int32_t cls_id_ = -1;
  int32_t sep_id_ = -1;
  int32_t pad_id_ = -1;
  int32_t unk_id_ = -1;
};

}  // namespace porta::run

#endif  // PORTA_TOOLS_RUN_TOKENIZER_WORDPIECE_H_
