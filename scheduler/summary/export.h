// `revsweep export`: a sweep's trials and metrics as CSV or JSON Lines, one row per trial or
// one row per (trial, cell), for analysis in other tools. Column reference: docs/SUMMARY.md.
//
// CSV: header row; RFC 4180 quoting (a field with a comma, double quote, CR or LF is wrapped
// in double quotes, inner quotes doubled); lines end with LF; a missing value is an empty
// field; numbers are written in the shortest form that parses back to the same double.
// JSONL: one flat JSON object per line with the same keys as the CSV columns, in the same
// order; a missing value is null.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "common/store/results_store.h"
#include "scheduler/summary/summary.h"

namespace revsweep {

// ---- Text helpers (also used by the summary renderers).
// Shortest round-trip decimal ("0.1", "1e-05", "3"); "NaN", "inf", "-inf" when not finite.
// Independent of the C locale.
std::string FormatNumber(double v);
// The field as RFC 4180 wants it: quoted only when it holds ',', '"', CR or LF.
std::string CsvField(const std::string& s);
// Fields joined by commas, each through CsvField, plus "\n".
std::string CsvLine(const std::vector<std::string>& fields);

enum class ExportFormat { kCsv, kJsonl };
enum class ExportGranularity { kTrial, kCell };
// "csv" | "jsonl"; "trial" | "cell". Throw UserError naming the choices.
ExportFormat ParseExportFormat(const std::string& name);
ExportGranularity ParseExportGranularity(const std::string& name);

// The columns, in order:
//   per trial: trial_id, sweep, state, <every settings key, sorted>, params,
//              <every stored metric except params, in MetricLess order>
//   per cell:  trial_id, sweep, state, <every settings key, sorted>, params,
//              cell, subset, direction, split, accuracy, chance
// Settings keys and metrics are the union over `trials` (and their results).
std::vector<std::string> ExportColumns(const std::vector<TrialRow>& trials,
                                       const ResultsMap& results, ExportGranularity per);

// Writes `trials` (all states, in the given order) with their results. Per cell: one row
// per acc.<cell> metric of each trial, cells in canonical order; chance is empty when
// chance.<cell> is not stored. `params` is TrialParams (empty when unknown).
void WriteExport(const std::string& sweep, const std::vector<TrialRow>& trials,
                 const ResultsMap& results, ExportFormat format, ExportGranularity per,
                 std::ostream& out);

// Loads the sweep's trials (store order) and results, then WriteExport. Throws UserError
// when the store has no sweep of that name.
void ExportSweep(ResultsStore& store, const std::string& sweep, ExportFormat format,
                 ExportGranularity per, std::ostream& out);

}  // namespace revsweep
