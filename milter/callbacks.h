// The libmilter callbacks: short extern "C" shims that turn libmilter's
// arguments into a Session's steps (session.h) and its StepResult back into
// a reply. Every callback but negotiation runs inside one guard: an
// exception becomes the configured on-error reply and a log line, never a
// crash.
#pragma once

#include <libmilter/mfapi.h>

#include "session.h"

namespace senderguard::milter {

// The filter description to hand to smfi_register: every callback, bound to
// `ctx`. The callbacks keep `ctx` for the life of the process: it must
// outlive smfi_main (and, as libmilter's threads are not joined, should
// never be destroyed). REQUIRES: called once, before smfi_main.
smfiDesc FilterDescription(Context* ctx);

}  // namespace senderguard::milter
