// Renderers for Summary and PerTrialTable: a fixed-width table for terminals, CSV, JSON and
// Markdown. Pure and deterministic: the same summary gives the same bytes, whatever the
// locale. Every layout is described in docs/SUMMARY.md.
#pragma once

#include <string>

#include "scheduler/summary/summary.h"

namespace revsweep {

enum class SummaryFormat { kTable, kCsv, kJson, kMarkdown };
// "table" | "csv" | "json" | "markdown" (also "md"). Throws UserError naming the choices.
SummaryFormat ParseSummaryFormat(const std::string& name);

// Table and Markdown: the settings table, the best setting per size with CIs and chance,
// the scaling view and the verdicts. CSV: one row per setting (the settings table only).
// JSON: everything, NaN as null.
std::string RenderSummary(const Summary& s, SummaryFormat format);
// One row per trial in every format.
std::string RenderPerTrial(const PerTrialTable& t, SummaryFormat format);

// "900", "12.5K", "0.90M"-style parameter counts for tables ("?" when unknown).
std::string HumanParams(int64_t params);

}  // namespace revsweep
