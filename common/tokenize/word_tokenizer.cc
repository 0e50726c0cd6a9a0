#include "common/tokenize/word_tokenizer.h"

#include <algorithm>

namespace revsweep {
namespace {

bool IsWordChar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '\'' ||
         c >= 0x80;
}

bool IsSpace(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

}  // namespace

std::vector<std::string> WordPieces(const std::string& text) {
  std::vector<std::string> out;
  const size_t n = text.size();
  size_t i = 0;
  const auto at = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  while (i < n) {
    size_t b = i;
    // One leading space joins the word or punctuation mark that follows it.
    if (at(i) == ' ' && i + 1 < n && !IsSpace(at(i + 1))) ++i;
    if (IsWordChar(at(i))) {
      while (i < n && IsWordChar(at(i))) ++i;
    } else if (IsSpace(at(i))) {
      while (i < n && IsSpace(at(i)) && !(at(i) == ' ' && i + 1 < n && !IsSpace(at(i + 1)))) ++i;
      if (i == b) ++i;  // a lone space before a word was taken above; never loop
    } else {
      ++i;  // one punctuation character
    }
    out.push_back(text.substr(b, i - b));
  }
  return out;
}

WordVocab::WordVocab(const std::vector<std::string>& corpus, int max_size) {
  std::unordered_map<std::string, int64_t> counts;
  for (const std::string& text : corpus) {
    for (std::string& piece : WordPieces(text)) ++counts[std::move(piece)];
  }
  std::vector<std::pair<std::string, int64_t>> sorted(counts.begin(), counts.end());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  distinct_ = static_cast<int>(sorted.size());
  pieces_ = {"<unk>", "<s>", "</s>", "<pad>"};
  for (const auto& [piece, count] : sorted) {
    if (static_cast<int>(pieces_.size()) >= max_size) break;
    ids_.emplace(piece, static_cast<int32_t>(pieces_.size()));
    pieces_.push_back(piece);
  }
}

std::vector<int32_t> WordVocab::Encode(const std::string& text) const {
  std::vector<int32_t> ids;
  for (const std::string& piece : WordPieces(text)) {
    const auto it = ids_.find(piece);
    ids.push_back(it == ids_.end() ? kUnk : it->second);
  }
  return ids;
}

}  // namespace revsweep
