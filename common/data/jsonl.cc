#include "common/data/jsonl.h"

#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/file_io.h"
#include "common/user_error.h"

namespace revsweep {
namespace {

void AppendEscape(uint32_t unit, std::string* out) {
  static const char kHex[] = "0123456789abcdef";  // json.dumps writes lowercase hex
  out->append("\\u");
  for (int shift = 12; shift >= 0; shift -= 4) out->push_back(kHex[(unit >> shift) & 0xF]);
}

// Decodes one UTF-8 sequence at s[*i]; returns the code point and advances *i, or returns
// 0xFFFD and advances one byte when the sequence is invalid (overlong, surrogate, truncated).
uint32_t DecodeUtf8(const std::string& s, size_t* i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(*i);
  int len = 0;
  uint32_t cp = 0, min = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    ++*i;
    return 0xFFFD;
  }
  if (*i + len > s.size()) {
    ++*i;
    return 0xFFFD;
  }
  for (int k = 1; k < len; ++k) {
    const unsigned char b = byte(*i + k);
    if ((b & 0xC0) != 0x80) {
      ++*i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++*i;
    return 0xFFFD;
  }
  *i += len;
  return cp;
}

// Splits text into lines on '\n'; a final line without a newline still counts.
std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

bool IsBlank(const std::string& line) {
  return line.find_first_not_of(" \t\r") == std::string::npos;
}

// nlohmann's messages are "[json.exception.parse_error.101] parse error at line 1, column 5:
// <detail>" or "[json.exception.out_of_range.406] <detail>"; the line and column are ours to
// report, so keep only the detail.
std::string ParseErrorDetail(const std::string& what) {
  std::string detail = what;
  if (!detail.empty() && detail[0] == '[') {
    const size_t end = detail.find("] ");
    if (end != std::string::npos) detail = detail.substr(end + 2);
  }
  if (detail.rfind("parse error", 0) == 0) {
    const size_t pos = detail.find(": ");
    if (pos != std::string::npos) detail = detail.substr(pos + 2);
  }
  return detail;
}

// Parses one non-blank line into an object, or throws UserError at file:line:column.
nlohmann::ordered_json ParseObjectLine(const std::string& line, const std::string& file_name,
                                       int line_no) {
  nlohmann::ordered_json value;
  try {
    value = nlohmann::ordered_json::parse(line.begin(), line.end());
  } catch (const nlohmann::json::parse_error& e) {
    const int column = e.byte > 0 ? static_cast<int>(e.byte) : 1;
    throw UserError(file_name, line_no, column, "", "invalid JSON: " + ParseErrorDetail(e.what()));
  } catch (const nlohmann::json::exception& e) {
    // Not a syntax error but a value the parser cannot hold, e.g. 1E999 (out_of_range.406).
    throw UserError(file_name, line_no, 1, "", "invalid JSON: " + ParseErrorDetail(e.what()));
  }
  if (!value.is_object()) {
    throw UserError(file_name, line_no, 1, "",
                    std::string("expected a JSON object, got ") + value.type_name());
  }
  return value;
}

std::string StringField(const nlohmann::ordered_json& object, const char* key,
                        const std::string& file_name, int line_no) {
  auto it = object.find(key);
  if (it == object.end()) {
    throw UserError(file_name, line_no, 1, key, std::string("missing key \"") + key + "\"");
  }
  if (!it->is_string()) {
    throw UserError(file_name, line_no, 1, key,
                    std::string("must be a string, not ") + it->type_name());
  }
  return it->get<std::string>();
}

}  // namespace

std::string PythonJsonString(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      switch (c) {
        case '"':
          out.append("\\\"");
          break;
        case '\\':
          out.append("\\\\");
          break;
        case '\b':
          out.append("\\b");
          break;
        case '\f':
          out.append("\\f");
          break;
        case '\n':
          out.append("\\n");
          break;
        case '\r':
          out.append("\\r");
          break;
        case '\t':
          out.append("\\t");
          break;
        default:
          // Python escapes everything outside ' '..'~', DEL (0x7f) included.
          if (c < 0x20 || c == 0x7F) {
            AppendEscape(c, &out);
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      continue;
    }
    const uint32_t cp = DecodeUtf8(s, &i);
    if (cp >= 0x10000) {
      const uint32_t v = cp - 0x10000;
      AppendEscape(0xD800 + (v >> 10), &out);
      AppendEscape(0xDC00 + (v & 0x3FF), &out);
    } else {
      AppendEscape(cp, &out);
    }
  }
  out.push_back('"');
  return out;
}

std::string FormatJsonlLine(const PromptCompletion& row) {
  return "{\"prompt\": " + PythonJsonString(row.prompt) +
         ", \"completion\": " + PythonJsonString(row.completion) + "}\n";
}

std::string FormatJsonl(const std::vector<PromptCompletion>& rows) {
  std::string out;
  for (const auto& row : rows) out += FormatJsonlLine(row);
  return out;
}

void WriteJsonl(const std::string& path, const std::vector<PromptCompletion>& rows) {
  const std::string text = FormatJsonl(rows);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot open " + path + " for writing");
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string ReadFileBytes(const std::string& path) {
  std::string text, error;
  if (!TryReadFile(path, &text, &error)) throw UserError(path, 0, 0, "", "cannot read file");
  return text;
}

std::vector<JsonlRecord> ParseJsonlRecords(const std::string& text, const std::string& file_name) {
  std::vector<JsonlRecord> records;
  const std::vector<std::string> lines = SplitLines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (IsBlank(lines[i])) continue;
    const int line_no = static_cast<int>(i) + 1;
    records.push_back({line_no, ParseObjectLine(lines[i], file_name, line_no)});
  }
  return records;
}

std::vector<PromptCompletion> ParseJsonl(const std::string& text, const std::string& file_name,
                                         std::vector<int>* line_numbers) {
  std::vector<PromptCompletion> rows;
  if (line_numbers != nullptr) line_numbers->clear();
  const std::vector<std::string> lines = SplitLines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (IsBlank(lines[i])) continue;
    const int line_no = static_cast<int>(i) + 1;
    const nlohmann::ordered_json object = ParseObjectLine(lines[i], file_name, line_no);
    PromptCompletion row;
    row.prompt = StringField(object, "prompt", file_name, line_no);
    row.completion = StringField(object, "completion", file_name, line_no);
    rows.push_back(std::move(row));
    if (line_numbers != nullptr) line_numbers->push_back(line_no);
  }
  return rows;
}

std::vector<PromptCompletion> ReadJsonl(const std::string& path, std::vector<int>* line_numbers) {
  return ParseJsonl(ReadFileBytes(path), path, line_numbers);
}

std::vector<JsonlRecord> ReadJsonlRecords(const std::string& path) {
  return ParseJsonlRecords(ReadFileBytes(path), path);
}

}  // namespace revsweep
