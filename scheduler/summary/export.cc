#include "scheduler/summary/export.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "common/user_error.h"

namespace revsweep {
namespace {

using Json = nlohmann::ordered_json;

// One exported row before it becomes text: ordered (column, value) pairs. A value is
// missing (empty CSV field, JSON null), a number, or a settings value keeping its type.
struct Cell {
  enum Kind { kMissing, kNumber, kInteger, kSetting, kText } kind = kMissing;
  double number = 0;
  int64_t integer = 0;
  const Value* setting = nullptr;
  std::string text;
};

Cell Missing() { return {}; }
Cell Number(double v) {
  Cell c;
  c.kind = Cell::kNumber;
  c.number = v;
  return c;
}
Cell Integer(int64_t v) {
  Cell c;
  c.kind = Cell::kInteger;
  c.integer = v;
  return c;
}
Cell Text(std::string s) {
  Cell c;
  c.kind = Cell::kText;
  c.text = std::move(s);
  return c;
}
Cell SettingValue(const Value& v) {
  Cell c;
  c.kind = Cell::kSetting;
  c.setting = &v;
  return c;
}

std::string CsvText(const Cell& c) {
  switch (c.kind) {
    case Cell::kMissing:
      return "";
    case Cell::kNumber:
      return FormatNumber(c.number);
    case Cell::kInteger:
      return std::to_string(c.integer);
    case Cell::kSetting:
      return ValueToString(*c.setting);
    case Cell::kText:
      return c.text;
  }
  return "";
}

Json JsonValue(const Cell& c) {
  switch (c.kind) {
    case Cell::kMissing:
      return nullptr;
    case Cell::kNumber:
      return std::isfinite(c.number) ? Json(c.number) : Json(nullptr);
    case Cell::kInteger:
      return c.integer;
    case Cell::kSetting:
      return std::visit([](const auto& v) { return Json(v); }, *c.setting);
    case Cell::kText:
      return c.text;
  }
  return nullptr;
}

struct Layout {
  std::vector<std::string> settings_keys;  // sorted
  std::vector<std::string> metrics;        // MetricLess order, without "params"
};

Layout MakeLayout(const std::vector<TrialRow>& trials, const ResultsMap& results) {
  Layout l;
  std::set<std::string> keys;
  std::set<std::string, bool (*)(const std::string&, const std::string&)> metrics(MetricLess);
  for (const TrialRow& t : trials) {
    for (const auto& kv : t.settings) keys.insert(kv.first);
    auto r = results.find(t.id);
    if (r == results.end()) continue;
    for (const auto& kv : r->second) {
      if (kv.first != "params") metrics.insert(kv.first);
    }
  }
  l.settings_keys.assign(keys.begin(), keys.end());
  l.metrics.assign(metrics.begin(), metrics.end());
  return l;
}

std::vector<std::string> Columns(const Layout& l, ExportGranularity per) {
  std::vector<std::string> c = {"trial_id", "sweep", "state"};
  c.insert(c.end(), l.settings_keys.begin(), l.settings_keys.end());
  c.push_back("params");
  if (per == ExportGranularity::kTrial) {
    c.insert(c.end(), l.metrics.begin(), l.metrics.end());
  } else {
    for (const char* k : {"cell", "subset", "direction", "split", "accuracy", "chance"}) {
      c.push_back(k);
    }
  }
  return c;
}

void Emit(const std::vector<std::string>& columns, const std::vector<Cell>& row,
          ExportFormat format, std::ostream& out) {
  if (format == ExportFormat::kCsv) {
    std::vector<std::string> fields;
    fields.reserve(row.size());
    for (const Cell& c : row) fields.push_back(CsvText(c));
    out << CsvLine(fields);
  } else {
    Json j = Json::object();
    for (size_t i = 0; i < row.size(); ++i) j[columns[i]] = JsonValue(row[i]);
    out << j.dump() << '\n';
  }
}

}  // namespace

std::string FormatNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return ec == std::errc() ? std::string(buf, end) : std::string("NaN");
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

std::string CsvLine(const std::vector<std::string>& fields) {
  std::string line;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) line += ',';
    line += CsvField(fields[i]);
  }
  return line + "\n";
}

ExportFormat ParseExportFormat(const std::string& name) {
  if (name == "csv") return ExportFormat::kCsv;
  if (name == "jsonl") return ExportFormat::kJsonl;
  throw UserError("--format", 0, 0, "", "unknown export format '" + name + "' (csv|jsonl)");
}

ExportGranularity ParseExportGranularity(const std::string& name) {
  if (name == "trial") return ExportGranularity::kTrial;
  if (name == "cell") return ExportGranularity::kCell;
  throw UserError("--per", 0, 0, "", "unknown export granularity '" + name + "' (trial|cell)");
}

std::vector<std::string> ExportColumns(const std::vector<TrialRow>& trials,
                                       const ResultsMap& results, ExportGranularity per) {
  return Columns(MakeLayout(trials, results), per);
}

void WriteExport(const std::string& sweep, const std::vector<TrialRow>& trials,
                 const ResultsMap& results, ExportFormat format, ExportGranularity per,
                 std::ostream& out) {
  const Layout layout = MakeLayout(trials, results);
  const std::vector<std::string> columns = Columns(layout, per);
  if (format == ExportFormat::kCsv) out << CsvLine(columns);
  static const std::map<std::string, double> kNoMetrics;
  std::vector<Cell> row;
  for (const TrialRow& t : trials) {
    auto r = results.find(t.id);
    const std::map<std::string, double>& m = r == results.end() ? kNoMetrics : r->second;
    // The columns every row starts with.
    std::vector<Cell> head = {Text(t.id), Text(sweep), Text(TrialStateName(t.state))};
    for (const std::string& k : layout.settings_keys) {
      auto v = t.settings.find(k);
      head.push_back(v == t.settings.end() ? Missing() : SettingValue(v->second));
    }
    const int64_t params = TrialParams(t, r == results.end() ? nullptr : &r->second);
    head.push_back(params > 0 ? Integer(params) : Missing());
    if (per == ExportGranularity::kTrial) {
      row = head;
      for (const std::string& metric : layout.metrics) {
        auto v = m.find(metric);
        row.push_back(v == m.end() ? Missing() : Number(v->second));
      }
      Emit(columns, row, format, out);
      continue;
    }
    std::vector<std::string> cells;
    for (const auto& kv : m) {
      if (kv.first.rfind("acc.", 0) == 0) cells.push_back(kv.first.substr(4));
    }
    std::sort(cells.begin(), cells.end(), CellLess);
    for (const std::string& cell : cells) {
      CellName cn;
      ParseCell(cell, &cn);  // malformed names leave the three parts empty
      row = head;
      row.push_back(Text(cell));
      row.push_back(cn.subset.empty() ? Missing() : Text(cn.subset));
      row.push_back(cn.direction.empty() ? Missing() : Text(cn.direction));
      row.push_back(cn.split.empty() ? Missing() : Text(cn.split));
      row.push_back(Number(m.at("acc." + cell)));
      auto ch = m.find("chance." + cell);
      row.push_back(ch == m.end() ? Missing() : Number(ch->second));
      Emit(columns, row, format, out);
    }
  }
}

void ExportSweep(ResultsStore& store, const std::string& sweep, ExportFormat format,
                 ExportGranularity per, std::ostream& out) {
  if (!store.HasSweep(sweep)) {
    throw UserError(store.path(), 0, 0, "", "no sweep named '" + sweep + "' in this store");
  }
  WriteExport(sweep, store.Trials(sweep), store.SweepResults(sweep), format, per, out);
}

}  // namespace revsweep
