// Whole files: atomic replacement (write a temp file in the same folder, fsync it, rename it
// over the target, fsync the folder: a crash leaves either the old or the new file, never
// half), and the one way to read a file whole.
#pragma once

#include <string>

namespace revsweep {

// Throws std::runtime_error naming the path and errno text (e.g. "No space left on
// device"); on failure the target is untouched and the temp file removed.
void WriteFileAtomic(const std::string& path, const std::string& bytes);

// Reads a whole file into *out. False when it cannot be opened or read, with *error set to
// the reason (strerror text; "is a directory" for one). Callers that report bad user input
// turn that into a UserError naming the file, the others into their own error.
bool TryReadFile(const std::string& path, std::string* out, std::string* error);

// Reads a whole file. Throws std::runtime_error "<path>: cannot read: <reason>".
std::string ReadFile(const std::string& path);

}  // namespace revsweep
