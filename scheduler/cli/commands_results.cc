// summary, status, export (wired to scheduler/summary, status_report, export).
#include "scheduler/cli/commands.h"
#include "scheduler/cli/progress_line.h"
#include "common/user_error.h"

namespace revsweep {

int CmdSummary(const CommandArgs& a) {
  PrintRunTable(a.store.empty() ? DefaultStore() : a.store, a.sweep);
  return 0;
}
int CmdStatus(const CommandArgs&) { throw UserError("status: not wired yet"); }
int CmdExport(const CommandArgs&) { throw UserError("export: not wired yet"); }

}  // namespace revsweep
