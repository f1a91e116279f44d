// WordPiece encoding as Hugging Face's BertNormalizer (clean text, pad CJK ideographs, strip
// accents, lower-case), BertPreTokenizer (split on whitespace and punctuation) and WordPiece model
// (greedy longest match, "##" continuations, [UNK] for a word that does not split or is over 100
// characters) do it.
#include "tools/run/tokenizer_wordpiece.h"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <utility>

#include "tools/run/model_error.h"
#include "tools/run/unicode_text.h"

namespace porta::run {
namespace {

constexpr size_t kMaxInputCharsPerWord = 100;

// The ranges Hugging Face's BertNormalizer pads with spaces (its Extension-E/F range starts at
// U+2B920, not U+2B820; kept for identical output).
bool IsChineseChar(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

// BERT counts the ASCII symbols ($ + < = > ^ ` | ~) as punctuation too.
bool IsBertPunctuation(char32_t cp) {
  const bool ascii_punct = (cp >= 0x21 && cp <= 0x2F) || (cp >= 0x3A && cp <= 0x40) ||
                           (cp >= 0x5B && cp <= 0x60) || (cp >= 0x7B && cp <= 0x7E);
  return ascii_punct || IsPunctuation(cp);
}

// Tab, newline and carriage return are whitespace for the cleaning step, every other C* code
// point except Cn is dropped (U+000B, U+000C and U+0085 included, though White_Space).
bool IsCleanedAway(char32_t cp) {
  if (cp == 0 || cp == kReplacementChar) return true;
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  return IsOtherControl(cp);
}

}  // namespace

WordPieceTokenizer WordPieceTokenizer::FromVocabFile(const std::string& path, bool lower_case) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ModelError(path + ": cannot open the vocabulary file");
  std::vector<std::string> tokens;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    tokens.push_back(std::move(line));
  }
  if (in.bad()) throw ModelError(path + ": read error in the vocabulary file");
  return FromTokens(std::move(tokens), lower_case, path);
}

WordPieceTokenizer WordPieceTokenizer::FromTokens(std::vector<std::string> tokens, bool lower_case,
                                                  const std::string& source) {
  if (tokens.empty()) throw ModelError(source + ": the vocabulary is empty (no lines)");
  if (tokens.size() > static_cast<size_t>(INT32_MAX)) {
    throw ModelError(source + ": the vocabulary has " + std::to_string(tokens.size()) +
                     " lines, more than ids can count (2^31 - 1)");
  }
  WordPieceTokenizer t;
  t.lower_case_ = lower_case;
  t.ids_.reserve(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string where = source + ":" + std::to_string(i + 1);
    if (tokens[i].empty()) throw ModelError(where + ": empty token (id " + std::to_string(i) + ")");
    const auto [it, inserted] = t.ids_.emplace(tokens[i], static_cast<int32_t>(i));
    if (!inserted) {
      throw ModelError(where + ": duplicate token '" + tokens[i] + "' (already line " +
                       std::to_string(it->second + 1) + ")");
    }
  }
  t.tokens_ = std::move(tokens);
  const auto require = [&](const char* name) {
    const int32_t id = t.Find(name);
    if (id < 0) throw ModelError(source + ": the vocabulary has no " + name + " token");
    return id;
  };
  t.cls_id_ = require("[CLS]");
  t.sep_id_ = require("[SEP]");
  t.unk_id_ = require("[UNK]");
  t.pad_id_ = require("[PAD]");
  for (const char* name : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}) {
    const int32_t id = t.Find(name);
    if (id >= 0) {
      t.specials_.emplace_back(DecodeUtf8(name, Utf8Errors::kReplaceMaximalSubpart), id);
    }
  }
  std::stable_sort(t.specials_.begin(), t.specials_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  return t;
}

const std::string& WordPieceTokenizer::Token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= tokens_.size()) {
    throw ModelError("WordPiece token id " + std::to_string(id) +
                     " is out of range (vocabulary of " + std::to_string(tokens_.size()) + ")");
  }
  return tokens_[static_cast<size_t>(id)];
}

int32_t WordPieceTokenizer::Find(const std::string& piece) const {
  const auto it = ids_.find(piece);
  return it == ids_.end() ? -1 : it->second;
}

std::vector<std::string> WordPieceTokenizer::Words(std::u32string_view text) const {
  std::u32string cleaned;
  cleaned.reserve(text.size());
  for (const char32_t cp : text) {
    if (IsCleanedAway(cp)) continue;
    if (IsWhiteSpace(cp)) {
      cleaned.push_back(U' ');
    } else if (IsChineseChar(cp)) {
      cleaned.push_back(U' ');
      cleaned.push_back(cp);
      cleaned.push_back(U' ');
    } else {
      cleaned.push_back(cp);
    }
  }
  if (lower_case_) {
    std::u32string folded;
    for (const char32_t cp : Nfd(cleaned)) {
      if (!IsNonspacingMark(cp)) folded.push_back(ToLower(cp));
    }
    cleaned = std::move(folded);
  }
  std::vector<std::string> words;
  std::string word;
  const auto finish = [&] {
    if (!word.empty()) words.push_back(std::move(word));
    word.clear();
  };
  for (const char32_t cp : cleaned) {
    if (IsWhiteSpace(cp)) {
      finish();
    } else if (IsBertPunctuation(cp)) {
      finish();
      AppendUtf8(cp, &word);
      finish();
    } else {
      AppendUtf8(cp, &word);
    }
  }
  finish();
  return words;
}

void WordPieceTokenizer::AppendWordPieces(const std::string& word,
                                          std::vector<int32_t>* ids) const {
  // Byte offsets of the character boundaries, so pieces end on whole characters.
  std::vector<size_t> bounds;
  for (size_t i = 0; i < word.size(); ++i) {
    if ((static_cast<unsigned char>(word[i]) & 0xC0) != 0x80) bounds.push_back(i);
  }
  bounds.push_back(word.size());
  const size_t chars = bounds.size() - 1;
  if (chars > kMaxInputCharsPerWord) {
    ids->push_back(unk_id_);
    return;
  }
  std::vector<int32_t> pieces;
  size_t start = 0;
  while (start < chars) {
    int32_t found = -1;
    size_t end = chars;
    for (; end > start; --end) {
      std::string piece = start > 0 ? "##" : "";
      piece.append(word, bounds[start], bounds[end] - bounds[start]);
      found = Find(piece);
      if (found >= 0) break;
    }
    if (found < 0) {
      ids->push_back(unk_id_);
      return;
    }
    pieces.push_back(found);
    start = end;
  }
  ids->insert(ids->end(), pieces.begin(), pieces.end());
}

std::vector<int32_t> WordPieceTokenizer::Encode(std::string_view utf8, size_t max_tokens) const {
  if (max_tokens < 2) {
    throw ModelError("WordPiece encode: max_tokens is " + std::to_string(max_tokens) +
                     ", it must be at least 2 (room for [CLS] and [SEP])");
  }
  const size_t budget = max_tokens - 2;
  const std::u32string text = DecodeUtf8(utf8, Utf8Errors::kReplaceMaximalSubpart);
  std::vector<int32_t> pieces;
  // Text between special tokens is normalised on its own, as Hugging Face's added-token split
  // does; leftmost match first, the longest where several start at one place.
  size_t segment_start = 0;
  const auto flush = [&](size_t end) {
    if (end > segment_start && pieces.size() < budget) {
      for (const std::string& word :
           Words(std::u32string_view(text).substr(segment_start, end - segment_start))) {
        AppendWordPieces(word, &pieces);
        if (pieces.size() >= budget) break;
      }
    }
  };
  for (size_t i = 0; i < text.size() && pieces.size() < budget;) {
    const auto match = std::find_if(specials_.begin(), specials_.end(), [&](const auto& special) {
      return text.compare(i, special.first.size(), special.first) == 0;
    });
    if (match == specials_.end()) {
      ++i;
      continue;
    }
    flush(i);
    pieces.push_back(match->second);
    i += match->first.size();
    segment_start = i;
  }
  flush(text.size());
  if (pieces.size() > budget) pieces.resize(budget);
  std::vector<int32_t> ids;
  ids.reserve(pieces.size() + 2);
  ids.push_back(cls_id_);
  ids.insert(ids.end(), pieces.begin(), pieces.end());
  ids.push_back(sep_id_);
  return ids;
}

}  // namespace porta::run
