// libFuzzer target: arbitrary bytes as a JSONL dataset file. Reading must either succeed or
// throw UserError (anything else is a bug), and whatever was read must survive the writer:
// parse(format(rows)) == rows and format is a fixed point. The parsed text also goes through
// the reversal mitigations, which split and match arbitrary words.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "common/data/jsonl.h"
#include "common/data/mitigation.h"
#include "common/user_error.h"

namespace {

// One file name per fuzzing process, written for each input and removed once it has been read
// (the loader reads paths, not bytes; libFuzzer exits without running atexit handlers).
const std::string& InputPath() {
  static const std::string path = [] {
    char name[] = "/tmp/revsweep_fuzz_dataset_XXXXXX";
    const int fd = ::mkstemp(name);
    if (fd < 0) std::abort();
    ::close(fd);
    return std::string(name);
  }();
  return path;
}

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_dataset: property failed: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  {
    std::ofstream out(InputPath(), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  std::vector<revsweep::PromptCompletion> rows;
  try {
    rows = revsweep::ReadJsonl(InputPath());
  } catch (const revsweep::UserError&) {
    rows.clear();
  }
  try {
    revsweep::ReadJsonlRecords(InputPath());
  } catch (const revsweep::UserError&) {
  }
  std::remove(InputPath().c_str());

  const std::string text = revsweep::FormatJsonl(rows);
  try {
    const std::vector<revsweep::PromptCompletion> again = revsweep::ParseJsonl(text, "formatted");
    Check(again == rows, "parse(format(rows)) == rows");
    Check(revsweep::FormatJsonl(again) == text, "format is a fixed point");
  } catch (const revsweep::UserError&) {
    Check(false, "formatted rows must parse");
  }

  std::vector<std::string> entities;
  for (const auto& row : rows) entities.push_back(row.completion);
  const revsweep::EntityMatcher matcher(entities);
  for (size_t i = 0; i < rows.size() && i < 16; ++i) {
    const std::string doc = rows[i].prompt + rows[i].completion;
    const std::string words = revsweep::ReverseWords(doc);
    Check(revsweep::ReverseWords(words) ==
              revsweep::JoinWords(revsweep::SplitWords(doc), 0, revsweep::SplitWords(doc).size()),
          "word reversal is an involution up to spacing");
    const std::string entity = revsweep::ReverseEntities(doc, matcher);
    Check(entity.size() == words.size(), "entity reversal keeps every word");
    const std::string segments = revsweep::ReverseSegments(doc, 1 + static_cast<int>(i % 5), i);
    Check(segments.size() == words.size(), "segment reversal keeps every word");
    matcher.FindFirst(doc);
  }
  return 0;
}
