// JSON Lines files of {"prompt": ..., "completion": ...} rows, the authors' dataset format.
// The writer reproduces Python's json.dumps byte for byte (ensure_ascii=True, ", " and ": "
// separators, key order prompt then completion) so files we write diff cleanly against theirs.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace revsweep {

struct PromptCompletion {
  std::string prompt;
  std::string completion;
};
inline bool operator==(const PromptCompletion& a, const PromptCompletion& b) {
  return a.prompt == b.prompt && a.completion == b.completion;
}
inline bool operator!=(const PromptCompletion& a, const PromptCompletion& b) { return !(a == b); }

// One line of a JSONL file with every field kept (Experiment 3 files carry extra keys).
struct JsonlRecord {
  int line = 0;                  // 1-based line number in the file
  nlohmann::ordered_json value;  // always an object
};

// `s` as json.dumps writes it, quotes included: \" \\ \b \f \n \r \t, other bytes outside
// printable ASCII as lowercase \u00XX, non-ASCII code points as \uXXXX (surrogate pairs above
// U+FFFF). Invalid UTF-8 bytes (never produced by the reader) become \ufffd.
std::string PythonJsonString(const std::string& s);

// `{"prompt": "...", "completion": "..."}` plus "\n".
std::string FormatJsonlLine(const PromptCompletion& row);
// All rows, one line each; "" for no rows.
std::string FormatJsonl(const std::vector<PromptCompletion>& rows);
// Writes FormatJsonl(rows). Throws std::runtime_error naming the path on I/O failure.
void WriteJsonl(const std::string& path, const std::vector<PromptCompletion>& rows);

// Parses JSONL text. Blank lines (spaces, tabs, CR only) are skipped. Each other line must be
// a JSON object with string "prompt" and "completion" (other keys ignored). Throws UserError
// naming `file_name`, the 1-based line and column, and the key when one is missing or not a
// string. When `line_numbers` is given it receives each row's 1-based line number.
std::vector<PromptCompletion> ParseJsonl(const std::string& text, const std::string& file_name,
                                         std::vector<int>* line_numbers = nullptr);
// Reads and parses a file. Throws UserError when it cannot be read or is malformed.
std::vector<PromptCompletion> ReadJsonl(const std::string& path,
                                        std::vector<int>* line_numbers = nullptr);

// Generic forms: every non-blank line must be a JSON object; all its fields are kept in order.
std::vector<JsonlRecord> ParseJsonlRecords(const std::string& text, const std::string& file_name);
std::vector<JsonlRecord> ReadJsonlRecords(const std::string& path);

// The whole file as bytes. Throws UserError(path, "cannot read file") when it cannot be opened.
std::string ReadFileBytes(const std::string& path);

}  // namespace revsweep
