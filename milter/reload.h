// The milter's signals: which thread takes which, and the reload thread.
// SIGUSR1 reloads the configuration; a bad file keeps the old one, and
// connections keep the configuration they started with (session.h).
#pragma once

#include <string>

#include "senderguard/base/kvlog.h"
#include "session.h"

namespace senderguard::milter {

// Blocks SIGUSR1 (the reload thread's) and SIGHUP, SIGTERM, SIGINT
// (libmilter's signal thread sigwait()s for them) in the calling thread, and
// so in every thread it starts later; ignores SIGPIPE. Unblocked in any
// thread, those signals would kill the process outright.
// REQUIRES: called from main before any thread starts (the store's writer,
// the reload thread, libmilter's).
void BlockHandledSignals();

// Starts a detached thread that waits for SIGUSR1 and then loads the
// configuration at `path` into `ctx` (set_config), logging the outcome to
// `log`. A file that fails to load keeps the configuration in use;
// [store] path, [milter] socket and the DNS settings change only at
// restart (logged as a warning). `ctx` and `log` must stay live for the
// life of the process: the thread is never joined.
// REQUIRES: BlockHandledSignals() already called.
void StartReloadThread(std::string path, Context* ctx, Logger* log);

}  // namespace senderguard::milter
