// Writing a Prometheus text file for node_exporter's textfile collector,
// which reads every *.prom file of its directory at each scrape: the text
// goes to PATH.tmp in the same directory (not *.prom, so never read half
// written), mode 0644 (node_exporter runs as another user), and is renamed
// over PATH, so a scrape sees the old file or the new one, never a part.
#pragma once

#include <string>
#include <string_view>

#include "senderguard/base/status.h"

namespace senderguard::monitor {

// Replaces the file at `path` with `text` as above. Errors (Status::Io):
// "PATH.tmp: cannot create: why", "... cannot write: why", "PATH: cannot
// rename: why"; the temporary file is removed on failure. Thread-safe for
// different paths; two writers of one path may interleave their renames
// (each file is whole).
Status WriteTextfile(const std::string& path, std::string_view text);

// For --check: whether the directory of `path` exists (a running daemon only
// logs action=textfile-error at each interval when it does not). Ok for ""
// (no file configured). Errors (Status::Invalid): "[monitoring] textfile
// PATH: the directory DIR does not exist" (or "is not a directory", or
// "cannot be read: why"). Writability is not checked: --check may run as
// another user than the daemon.
Status CheckTextfileDirectory(const std::string& path);

}  // namespace senderguard::monitor
