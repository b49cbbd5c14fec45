// The milter's listening socket, after libmilter has created it.
#pragma once

#include "senderguard/base/kvlog.h"
#include "senderguard/config/config.h"

namespace senderguard::milter {

// For a UNIX-domain [milter] socket ("unix:PATH" or "local:PATH"), gives the
// file [milter] socket_group (when set) and socket_mode, so Postfix's user
// can connect; nothing to do for an inet socket. Returns false after logging
// a start-failed line to `log` when the group is unknown or chown/chmod
// fails. REQUIRES: the socket exists (smfi_opensocket succeeded).
bool PrepareUnixSocket(const Config& cfg, Logger* log);

// True when [milter] socket is a UNIX-domain socket that some process is
// listening on now (a connect succeeds): libmilter would unlink it and take
// it over silently, leaving the running milter unreachable. A stale socket
// file nobody listens on is not in use (libmilter replaces it).
bool UnixSocketInUse(const Config& cfg);

}  // namespace senderguard::milter
