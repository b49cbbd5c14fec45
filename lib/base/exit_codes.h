// Exit codes of the senderguard programs: the sysexits(3) values, by one
// name each. pipe(8) and systemd read them: Postfix defers a message on
// kExitTempFail and bounces it on most others, so a program that Postfix
// runs (senderguard-arf) must map its own failures with care.
#pragma once

namespace senderguard {

inline constexpr int kExitOk = 0;
inline constexpr int kExitUsageError = 64;  // EX_USAGE: wrong command line
inline constexpr int kExitDataError = 65;   // EX_DATAERR: the input is not what it should be
inline constexpr int kExitNoInput = 66;     // EX_NOINPUT: an input file cannot be opened
inline constexpr int kExitSoftware = 70;    // EX_SOFTWARE: an internal error
inline constexpr int kExitOsError = 71;     // EX_OSERR: the system refused (fork, threads)
inline constexpr int kExitIoError = 74;     // EX_IOERR: reading or writing failed (the store)
inline constexpr int kExitTempFail = 75;    // EX_TEMPFAIL: try again later
inline constexpr int kExitConfig = 78;      // EX_CONFIG: the configuration is wrong

}  // namespace senderguard
