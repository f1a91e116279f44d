// Streaming UTF-8 output and the printing of embeddings.
#include "tools/run/text_output.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace porta::run {

size_t CompleteUtf8Prefix(std::string_view bytes) {
  // Look back at most 3 bytes for the lead byte of the last sequence.
  const size_t n = bytes.size();
  for (size_t back = 1; back <= 4 && back <= n; ++back) {
    const unsigned char c = static_cast<unsigned char>(bytes[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: keep looking for the lead
    size_t length = 1;
    if ((c & 0xE0) == 0xC0) {
      length = 2;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4;
    }
    // A sequence that more bytes can complete is held back; anything else (complete, or invalid
    // and never to be completed) goes out as it is.
    return back < length ? n - back : n;
  }
  return n;
}

void Utf8Stream::Write(std::string_view bytes) {
  pending_.append(bytes);
  const size_t ready = CompleteUtf8Prefix(pending_);
  std::fwrite(pending_.data(), 1, ready, out_);
  std::fflush(out_);
  pending_.erase(0, ready);
}

void Utf8Stream::Finish() {
  pending_ += '\n';
  std::fwrite(pending_.data(), 1, pending_.size(), out_);
  std::fflush(out_);
  pending_.clear();
}

double Cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    dot += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  return dot / std::sqrt(std::max(aa * bb, 1e-300));
}

void PrintEmbeddings(std::FILE* out, const std::string& device,
                     const std::vector<std::string>& sentences,
                     const std::vector<std::vector<float>>& embeddings, bool similarity,
                     bool json) {
  if (json) {
    nlohmann::json report;
    report["device"] = device;
    report["sentences"] = sentences;
    report["embeddings"] = embeddings;
    if (similarity) {
      std::vector<std::vector<double>> matrix(embeddings.size());
      for (size_t i = 0; i < embeddings.size(); ++i) {
        for (const auto& other : embeddings) matrix[i].push_back(Cosine(embeddings[i], other));
      }
      report["similarity"] = matrix;
    }
    std::fprintf(out, "%s\n", report.dump().c_str());
    return;
  }
  std::fprintf(out, "device: %s\n", device.c_str());
  for (size_t i = 0; i < embeddings.size(); ++i) {
    std::fprintf(out, "[%zu] \"%s\" (%zu dims)\n", i, sentences[i].c_str(), embeddings[i].size());
    for (size_t d = 0; d < embeddings[i].size(); ++d) {
      std::fprintf(out, "%s%9.6f", d % 8 == 0 ? (d == 0 ? "  " : "\n  ") : " ", embeddings[i][d]);
    }
    std::fprintf(out, "\n");
  }
  if (similarity) {
    std::fprintf(out, "cosine similarity:\n");
    for (size_t i = 0; i < embeddings.size(); ++i) {
      std::fprintf(out, "  [%zu]", i);
      for (const auto& other : embeddings)
        std::fprintf(out, " %7.4f", Cosine(embeddings[i], other));
      std::fprintf(out, "\n");
    }
  }
}

}  // namespace porta::run
