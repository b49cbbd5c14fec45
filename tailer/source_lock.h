// One reader per source and store: two senderguard-tail processes reading
// the same source into the same store would each count every line (each
// reads the stored position, then commits its own). LockSource takes an
// exclusive flock(2) on "tail-HASH.lock" in the store's directory ([store]
// path; a fleet node's local one) for the process's lifetime; a second
// process is refused at once rather than left to wait.
#pragma once
#include <string>

namespace senderguard::tail {

// Takes the lock of source `key` ("file:/var/log/mail.log", "journal") in
// `store_dir`, before the position is read. Returns 0, or an exit status
// after printing why on stderr: 75 (EX_TEMPFAIL) when another process holds
// it (naming its pid), 74 when the lock file cannot be made. The lock is
// released when the process exits (its descriptor is kept open).
int LockSource(const std::string& store_dir, const std::string& key);

}  // namespace senderguard::tail
