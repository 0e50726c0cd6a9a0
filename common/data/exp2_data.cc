#include "common/data/exp2_data.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "common/file_io.h"
#include "common/user_error.h"

namespace revsweep {
namespace {

// Splits the CSV text into records of fields (RFC 4180: "" is a quote inside a quoted field;
// a quoted field may span lines). `lines` gets each record's first line.
std::vector<std::vector<std::string>> ParseCsv(const std::string& path, const std::string& text,
                                               std::vector<int>* lines) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  bool quoted = false, field_started = false;
  int line = 1, record_line = 1, quote_line = 0;
  const auto end_field = [&] {
    record.push_back(std::move(field));
    field.clear();
    field_started = false;
  };
  const auto end_record = [&] {
    end_field();
    if (!(record.size() == 1 && record[0].empty())) {  // skip blank lines
      records.push_back(std::move(record));
      lines->push_back(record_line);
    }
    record.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        if (c == '\n') ++line;
        field.push_back(c);
      }
      continue;
    }
    if (c == '"' && !field_started) {
      quoted = field_started = true;
      quote_line = line;
    } else if (c == ',') {
      end_field();
    } else if (c == '\n') {
      if (!field.empty() && field.back() == '\r') field.pop_back();
      end_record();
      record_line = ++line;
    } else {
      field.push_back(c);
      field_started = true;
    }
  }
  if (quoted) throw UserError(path, quote_line, 0, "", "a quoted field is never closed");
  if (!record.empty() || !field.empty()) end_record();
  return records;
}

}  // namespace

std::vector<ParentChildPair> LoadParentChildCsv(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) {
    throw UserError(path, 0, 0, "dataset.source",
                    "not a file (exp2 needs the authors' parent_child_pairs.csv)");
  }
  std::string text, error;
  if (!TryReadFile(path, &text, &error)) throw UserError(path, 0, 0, "", "cannot read: " + error);
  std::vector<int> lines;
  const auto records = ParseCsv(path, text, &lines);
  if (records.empty()) throw UserError(path, 0, 0, "", "empty file: expected a header row");
  std::map<std::string, size_t> column;
  for (size_t c = 0; c < records[0].size(); ++c) column.emplace(records[0][c], c);
  std::vector<size_t> want;
  for (const char* name : {"child", "parent", "parent_type"}) {
    const auto it = column.find(name);
    if (it == column.end()) {
      throw UserError(path, lines[0], 0, name,
                      std::string("the header has no column \"") + name +
                          "\" (needed: child, parent, parent_type)");
    }
    want.push_back(it->second);
  }
  std::vector<ParentChildPair> pairs;
  for (size_t r = 1; r < records.size(); ++r) {
    const auto& rec = records[r];
    std::string fields[3];
    for (int k = 0; k < 3; ++k) {
      const char* key = k == 0 ? "child" : k == 1 ? "parent" : "parent_type";
      if (want[k] >= rec.size()) {
        throw UserError(path, lines[r], 0, key,
                        "the row has " + std::to_string(rec.size()) + " fields; no " + key);
      }
      fields[k] = rec[want[k]];
      if (fields[k].empty()) throw UserError(path, lines[r], 0, key, "empty field");
    }
    pairs.push_back({fields[0], fields[1], fields[2], lines[r]});
  }
  if (pairs.empty()) throw UserError(path, 0, 0, "", "no rows after the header");
  return pairs;
}

std::string ChildToParentPrompt(const ParentChildPair& p) {
  return p.child + "'s " + p.parent_type + " is";
}

std::string ParentToChildPrompt(const ParentChildPair& p) {
  return p.parent + " is the " + p.parent_type + " of";
}

}  // namespace revsweep
