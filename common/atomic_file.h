// Atomic file replacement: write a temp file in the same folder, fsync it, rename it over
// the target, fsync the folder. A crash leaves either the old or the new file, never half.
#pragma once

#include <string>

namespace revsweep {

// Throws std::runtime_error naming the path and errno text (e.g. "No space left on
// device"); on failure the target is untouched and the temp file removed.
void WriteFileAtomic(const std::string& path, const std::string& bytes);

// Reads a whole file. Throws std::runtime_error when unreadable.
std::string ReadFile(const std::string& path);

}  // namespace revsweep
