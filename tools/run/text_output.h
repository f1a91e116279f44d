// What porta-run prints: generated text streamed as whole UTF-8 characters, and embeddings with
// their cosine similarities as text or JSON.
#ifndef PORTA_TOOLS_RUN_TEXT_OUTPUT_H_
#define PORTA_TOOLS_RUN_TEXT_OUTPUT_H_

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace porta::run {

// Writes bytes as they come but holds back an incomplete UTF-8 sequence at the end (a token may
// end inside a character) until the bytes that complete it arrive; flushes after each write so
// a reader sees tokens as they are generated.
class Utf8Stream {
 public:
  explicit Utf8Stream(std::FILE* out) : out_(out) {}
  void Write(std::string_view bytes);
  // Writes whatever is held back, complete or not, and a newline.
  void Finish();

 private:
  std::FILE* out_;
  std::string pending_;
};

// The length of the longest prefix of |bytes| that does not end inside a UTF-8 sequence which
// more bytes could still complete.
size_t CompleteUtf8Prefix(std::string_view bytes);

// Cosine similarity of two vectors of one length, in double.
double Cosine(const std::vector<float>& a, const std::vector<float>& b);

// Prints where the embeddings were computed, each sentence with its vector, and with
// |similarity| the matrix of cosine similarities; as one JSON object with |json|.
void PrintEmbeddings(std::FILE* out, const std::string& device,
                     const std::vector<std::string>& sentences,
                     const std::vector<std::vector<float>>& embeddings, bool similarity, bool json);

}  // namespace porta::run

#endif  // PORTA_TOOLS_RUN_TEXT_OUTPUT_H_
