// Byte-level BPE as llama.cpp runs it for GGUF "gpt2" vocabularies. The pre-tokenizer regexes
// ("\p{N}" then GPT-2's "'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)")
// are walked by hand over code points, as llama.cpp's own matcher walks them: \s is the Unicode
// White_Space property, \p{L} and \p{N} are general categories, each regex splits the pieces the
// previous one left, and a character no alternative matches is a piece of its own.
#include "tools/run/tokenizer_bpe.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <queue>
#include <string>
#include <utility>

#include "tools/run/model_error.h"
#include "tools/run/unicode_text.h"

namespace porta::run {
namespace {

// GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68 bytes for
// U+0100 onwards, in byte order.
struct ByteMap {
  std::array<char32_t, 256> to_char{};
  std::array<int, 512> to_byte{};  // -1: not a byte character
  ByteMap() {
    to_byte.fill(-1);
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      to_char[b] = printable ? static_cast<char32_t>(b) : next++;
      to_byte[to_char[b]] = b;
    }
  }
};

const ByteMap& Bytes() {
  static const ByteMap map;
  return map;
}

// Texts llama.cpp ends generation on (its end-of-turn list and fill-in-the-middle pad, repo and
// file-separator tokens); it also treats them as control tokens whatever their stored type.
bool IsEndOfGenerationText(const std::string& text) {
  static const std::unordered_set<std::string> kTexts = {
      "<|eot_id|>",         "<|im_end|>",    "<|end|>",    "<end_of_turn>", "<|endoftext|>",
      "<|end_of_text|>",    "<|eom_id|>",    "<EOT>",      "_<EOT>",        "[EOT]",
      "<end_of_utterance>", "<|fim_pad|>",   "<fim-pad>",  "<fim_pad>",     "<PAD>",
      "<|fim_repo|>",       "<|repo_name|>", "<fim-repo>", "<REPO>",        "<reponame>",
      "<|file_sep|>",
  };
  return kTexts.count(text) > 0;
}

// The byte a "<0xXX>" byte token stands for, or -1 for any other text.
int ByteTokenValue(const std::string& text) {
  const auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (text.size() != 6 || text.rfind("<0x", 0) != 0 || text[5] != '>') return -1;
  const int hi = hex(text[3]);
  const int lo = hex(text[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

std::string MergeKey(const std::string& left, const std::string& right) {
  return std::to_string(left.size()) + ":" + left + right;
}

// Half-open code point ranges of one pre-tokenised piece.
struct Piece {
  size_t begin, end;
};

// "\p{N}": every number character becomes a piece of its own, the text between stays whole.
std::vector<Piece> SplitDigits(const std::u32string& cps, const std::vector<Piece>& in) {
  std::vector<Piece> out;
  for (const Piece& p : in) {
    size_t run = p.begin;
    for (size_t i = p.begin; i < p.end; ++i) {
      if (!IsNumber(cps[i])) continue;
      if (i > run) out.push_back({run, i});
      out.push_back({i, i + 1});
      run = i + 1;
    }
    if (run < p.end) out.push_back({run, p.end});
  }
  return out;
}

std::vector<Piece> SplitGpt2(const std::u32string& cps, const std::vector<Piece>& in) {
  std::vector<Piece> out;
  for (const Piece& p : in) {
    // The class a " ?X+" alternative runs over; kNone outside the piece and for whitespace.
    enum class Run { kNone, kLetter, kNumber, kOther };
    const auto run_of = [&](size_t i) {
      if (i < p.begin || i >= p.end || IsWhiteSpace(cps[i])) return Run::kNone;
      if (IsLetter(cps[i])) return Run::kLetter;
      return IsNumber(cps[i]) ? Run::kNumber : Run::kOther;
    };
    const auto space = [&](size_t i) { return i < p.end && IsWhiteSpace(cps[i]); };
    size_t start = p.begin;
    const auto emit = [&](size_t end) {
      if (end > start) out.push_back({start, end});
      start = end;
    };
    size_t pos = p.begin;
    while (pos < p.end) {
      const char32_t c = cps[pos];
      if (c == U'\'' && pos + 1 < p.end) {
        const char32_t n1 = cps[pos + 1];
        if (n1 == U's' || n1 == U't' || n1 == U'm' || n1 == U'd') {
          pos += 2;
          emit(pos);
          continue;
        }
        if (pos + 2 < p.end) {
          const char32_t n2 = cps[pos + 2];
          if ((n1 == U'r' && n2 == U'e') || (n1 == U'v' && n2 == U'e') ||
              (n1 == U'l' && n2 == U'l')) {
            pos += 3;
            emit(pos);
            continue;
          }
        }
      }
      // " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+": an optional space, then a run of one class.
      const size_t first = c == U' ' ? pos + 1 : pos;
      const Run run = run_of(first);
      if (run != Run::kNone) {
        pos = first;
        while (run_of(pos) == run) ++pos;
        emit(pos);
        continue;
      }
      size_t spaces = 0;
      while (space(pos + spaces)) ++spaces;
      if (spaces > 1 && pos + spaces < p.end) {
        pos += spaces - 1;  // "\s+(?!\S)": leave the last space to the next piece
        emit(pos);
      } else if (spaces > 0) {
        pos += spaces;
        emit(pos);
      } else {
        emit(++pos);
      }
    }
  }
  return out;
}

}  // namespace

BpeTokenizer BpeTokenizer::Create(BpeVocab vocab) {
  BpeTokenizer t;
  const size_t n = vocab.tokens.size();
  if (n == 0) throw ModelError("tokenizer.ggml.tokens: the vocabulary is empty");
  if (n > static_cast<size_t>(INT32_MAX)) {
    throw ModelError("tokenizer.ggml.tokens: " + std::to_string(n) +
                     " tokens, more than ids can count (2^31 - 1)");
  }
  if (vocab.pre == "smollm" || vocab.pre == "starcoder" || vocab.pre == "refact" ||
      vocab.pre == "command-r" || vocab.pre == "codeshell" || vocab.pre == "exaone" ||
      vocab.pre == "minerva-7b") {
    t.pre_split_ = PreSplit::kDigitsThenGpt2;
  } else if (vocab.pre == "gpt-2" || vocab.pre == "phi-2" || vocab.pre == "mpt" ||
             vocab.pre == "olmo" || vocab.pre == "jais") {
    t.pre_split_ = PreSplit::kGpt2;
  } else {
    throw ModelError("tokenizer.ggml.pre: pre-tokenizer '" + vocab.pre +
                     "' is not supported (supported: smollm, starcoder, refact, command-r, "
                     "codeshell, exaone, minerva-7b, gpt-2, phi-2, mpt, olmo, jais)");
  }
  if (vocab.token_types.empty()) {
    vocab.token_types.assign(n, kBpeTokenNormal);
  } else if (vocab.token_types.size() != n) {
    throw ModelError("tokenizer.ggml.token_type: " + std::to_string(vocab.token_types.size()) +
                     " entries for " + std::to_string(n) + " tokens");
  }
  t.ids_.reserve(n);
  t.control_.assign(n, false);
  for (size_t i = 0; i < n; ++i) {
    const std::string& text = vocab.tokens[i];
    const std::string item = "tokenizer.ggml.tokens[" + std::to_string(i) + "]";
    if (text.empty()) throw ModelError(item + ": empty token");
    const auto [it, inserted] = t.ids_.emplace(text, static_cast<int32_t>(i));
    if (!inserted) {
      throw ModelError(item + ": duplicate token '" + text + "' (also id " +
                       std::to_string(it->second) + ")");
    }
    const int32_t type = vocab.token_types[i];
    if (type < kBpeTokenUndefined || type > kBpeTokenByte) {
      throw ModelError("tokenizer.ggml.token_type[" + std::to_string(i) + "]: type " +
                       std::to_string(type) + " is not one of 0..6");
    }
    t.control_[i] =
        type == kBpeTokenControl || type == kBpeTokenUnknown || IsEndOfGenerationText(text);
    if (t.control_[i] || type == kBpeTokenUserDefined) {
      t.specials_.push_back(static_cast<int32_t>(i));
    }
    if (IsEndOfGenerationText(text)) t.end_of_generation_.insert(static_cast<int32_t>(i));
  }
  for (const auto& [name, id] : {std::pair<const char*, int32_t>{"bos", vocab.bos_id},
                                 {"eos", vocab.eos_id},
                                 {"padding", vocab.pad_id}}) {
    if (id < -1 || id >= static_cast<int64_t>(n)) {
      throw ModelError(std::string("tokenizer.ggml.") + name + "_token_id: id " +
                       std::to_string(id) + " is out of range (vocabulary of " + std::to_string(n) +
                       ")");
    }
  }
  if (vocab.add_bos && vocab.bos_id < 0) {
    throw ModelError(
        "tokenizer.ggml.add_bos_token is true but tokenizer.ggml.bos_token_id is unset");
  }
  if (vocab.eos_id >= 0) t.end_of_generation_.insert(vocab.eos_id);
  t.merge_ranks_.reserve(vocab.merges.size());
  for (size_t i = 0; i < vocab.merges.size(); ++i) {
    const std::string& merge = vocab.merges[i];
    const std::string item = "tokenizer.ggml.merges[" + std::to_string(i) + "]";
    const size_t space = merge.size() > 1 ? merge.find(' ', 1) : std::string::npos;
    if (space == std::string::npos || space + 1 >= merge.size()) {
      throw ModelError(item + ": '" + merge + "' is not two tokens separated by a space");
    }
    const std::string left = merge.substr(0, space);
    const std::string right = merge.substr(space + 1);
    for (const std::string* part : {&left, &right}) {
      if (t.ids_.count(*part) == 0) {
        throw ModelError(item + ": '" + merge + "' names '" + *part +
                         "', which is not in the vocabulary");
      }
    }
    // The first occurrence wins, as in llama.cpp's map of ranks.
    t.merge_ranks_.emplace(MergeKey(left, right), static_cast<int>(i));
  }
  // Longest first, so a special token is not cut by a shorter one inside it; ties by id.
  std::stable_sort(t.specials_.begin(), t.specials_.end(), [&](int32_t a, int32_t b) {
    return vocab.tokens[a].size() > vocab.tokens[b].size();
  });
  t.token_bytes_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const std::string& text = vocab.tokens[i];
    const int32_t type = vocab.token_types[i];
    std::string& bytes = t.token_bytes_[i];
    if (t.control_[i] || type == kBpeTokenUserDefined) {
      bytes = text;
    } else if (const int byte = type == kBpeTokenByte ? ByteTokenValue(text) : -1; byte >= 0) {
      bytes.push_back(static_cast<char>(byte));
    } else if (type == kBpeTokenNormal || type == kBpeTokenByte) {
      // A character outside GPT-2's byte alphabet is kept as its UTF-8.
      for (const char32_t cp : DecodeUtf8(text, Utf8Errors::kLenientPerByte)) {
        const int b = cp < 512 ? Bytes().to_byte[cp] : -1;
        if (b >= 0) {
          bytes.push_back(static_cast<char>(b));
        } else {
          AppendUtf8(cp, &bytes);
        }
      }
    }
  }
  t.vocab_ = std::move(vocab);
  return t;
}

void BpeTokenizer::CheckId(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= vocab_.tokens.size()) {
    throw ModelError("BPE token id " + std::to_string(id) + " is out of range (vocabulary of " +
                     std::to_string(vocab_.tokens.size()) + ")");
  }
}

const std::string& BpeTokenizer::Token(int32_t id) const {
  CheckId(id);
  return vocab_.tokens[static_cast<size_t>(id)];
}

std::string BpeTokenizer::TokenBytes(int32_t id) const {
  CheckId(id);
  return token_bytes_[static_cast<size_t>(id)];
}

std::string BpeTokenizer::Decode(const std::vector<int32_t>& ids) const {
  std::string out;
  for (const int32_t id : ids) {
    CheckId(id);
    out += token_bytes_[static_cast<size_t>(id)];
  }
  return out;
}

bool BpeTokenizer::IsEndOfGeneration(int32_t id) const {
  return end_of_generation_.count(id) > 0;
}

int32_t BpeTokenizer::FindToken(const std::string& text) const {
  const auto it = ids_.find(text);
  return it == ids_.end() ? -1 : it->second;
}

int BpeTokenizer::MergeRank(const std::string& left, const std::string& right) const {
  const auto it = merge_ranks_.find(MergeKey(left, right));
  return it == merge_ranks_.end() ? -1 : it->second;
}

std::vector<int32_t> BpeTokenizer::Encode(std::string_view utf8, bool add_bos,
                                          bool parse_special) const {
  struct Fragment {
    int32_t token;  // -1: raw text
    size_t offset, length;
  };
  std::vector<Fragment> fragments;
  if (!utf8.empty()) fragments.push_back({-1, 0, utf8.size()});
  // Each special token in turn cuts every raw fragment at all its occurrences.
  for (const int32_t id : specials_) {
    if (!parse_special && control_[static_cast<size_t>(id)]) continue;
    const std::string& text = vocab_.tokens[static_cast<size_t>(id)];
    std::vector<Fragment> next;
    next.reserve(fragments.size());
    for (const Fragment& f : fragments) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      const std::string_view raw = utf8.substr(f.offset, f.length);
      size_t from = 0;
      for (size_t at = raw.find(text); at != std::string_view::npos; at = raw.find(text, from)) {
        if (at > from) next.push_back({-1, f.offset + from, at - from});
        next.push_back({id, 0, 0});
        from = at + text.size();
      }
      if (from < raw.size()) next.push_back({-1, f.offset + from, raw.size() - from});
    }
    fragments = std::move(next);
  }
  std::vector<int32_t> ids;
  if (add_bos && vocab_.add_bos) ids.push_back(vocab_.bos_id);
  for (const Fragment& f : fragments) {
    if (f.token >= 0) {
      ids.push_back(f.token);
    } else {
      EncodeText(utf8.substr(f.offset, f.length), &ids);
    }
  }
  return ids;
}

void BpeTokenizer::EncodeText(std::string_view text, std::vector<int32_t>* ids) const {
  const std::u32string cps = DecodeUtf8(text, Utf8Errors::kLenientPerByte);
  std::vector<Piece> pieces{{0, cps.size()}};
  if (pre_split_ == PreSplit::kDigitsThenGpt2) pieces = SplitDigits(cps, pieces);
  pieces = SplitGpt2(cps, pieces);
  std::string utf8_piece;
  std::string word;
  for (const Piece& p : pieces) {
    utf8_piece.clear();
    for (size_t i = p.begin; i < p.end; ++i) AppendUtf8(cps[i], &utf8_piece);
    word.clear();
    for (const char c : utf8_piece) {
      AppendUtf8(Bytes().to_char[static_cast<unsigned char>(c)], &word);
    }
    EncodeWord(word, ids);
  }
}

void BpeTokenizer::EncodeWord(const std::string& word, std::vector<int32_t>* ids) const {
  // Symbols are the word's byte characters, merged pairwise by rank; a symbol is a byte range of
  // |word|, linked to its neighbours.
  struct Symbol {
    size_t begin, length;
    int prev, next;
  };
  std::vector<Symbol> symbols;
  for (size_t i = 0; i < word.size();) {
    size_t len = 1;
    while (i + len < word.size() && (static_cast<unsigned char>(word[i + len]) & 0xC0) == 0x80) {
      ++len;
    }
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({i, len, index - 1, i + len < word.size() ? index + 1 : -1});
    i += len;
  }
  struct Bigram {
    int rank;
    int left;
    size_t length;  // of both symbols when queued; stale once either has changed
  };
  const auto worse = [](const Bigram& a, const Bigram& b) {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  };
  std::priority_queue<Bigram, std::vector<Bigram>, decltype(worse)> queue(worse);
  const auto text = [&](int s) { return word.substr(symbols[s].begin, symbols[s].length); };
  const auto add_bigram = [&](int left) {
    if (left < 0 || symbols[left].next < 0) return;
    const int right = symbols[left].next;
    const int rank = MergeRank(text(left), text(right));
    if (rank >= 0) queue.push({rank, left, symbols[left].length + symbols[right].length});
  };
  for (int i = 0; i + 1 < static_cast<int>(symbols.size()); ++i) add_bigram(i);
  while (!queue.empty()) {
    const Bigram bigram = queue.top();
    queue.pop();
    Symbol& left = symbols[bigram.left];
    if (left.length == 0 || left.next < 0) continue;
    Symbol& right = symbols[left.next];
    // Symbols only grow, so a pair whose total length changed has been merged differently.
    if (left.length + right.length != bigram.length) continue;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = bigram.left;
    add_bigram(left.prev);
    add_bigram(bigram.left);
  }
  for (int s = symbols.empty() ? -1 : 0; s >= 0; s = symbols[s].next) {
    const std::string piece = text(s);
    const int32_t id = FindToken(piece);
    if (id >= 0) {
      ids->push_back(id);
      continue;
    }
    // llama.cpp's fallback: one token per byte of the symbol, skipping bytes it has none for.
    for (const char c : piece) {
      const int32_t byte_id = FindToken(std::string(1, c));
      if (byte_id >= 0) ids->push_back(byte_id);
    }
  }
}

}  // namespace porta::run
