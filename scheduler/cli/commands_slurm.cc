// submit, cancel (wired to scheduler/slurm).
#include "scheduler/cli/commands.h"
#include "common/user_error.h"

namespace revsweep {

void AddSubmitOptions(CLI::App*, CommandArgs*) {}
int CmdSubmit(const CommandArgs&) { throw UserError("submit: not wired yet"); }
int CmdCancel(const CommandArgs&) { throw UserError("cancel: not wired yet"); }

}  // namespace revsweep
