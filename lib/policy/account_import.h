// Accounts in bulk: `senderguardctl export --csv` writes each account's
// settings as one CSV line, `import --csv` reads them back. Pure: parsing,
// checking every line (all or nothing: every bad line is named), and making
// a record say what its line says.
//
// The columns (RFC 4180 quoting; the header line is required):
//   account,minute,hour,day,month,state,reason,until,dry_run,domains_only,domains
// minute..month: a limit (0 to 10^12), "unlimited", or "" / "default" (the
// configured default, grown by the tier); state: active, suspended or
// reinstated; reason: why (1 to 1000 bytes; only for suspended and
// reinstated); until: when a reinstatement or a timed suspension ends (ISO
// 8601 UTC, 2026-12-08T00:00:00Z; in the future; required for reinstated,
// optional for suspended: empty is until reinstated); dry_run,
// domains_only: yes or no ("" is no); domains: the verified From: domains,
// separated by spaces. A line names the whole of what is set: a column left
// empty is the default, not "unchanged".
//
// Suppression lists in bulk (`suppress export`, `suppress import`): the
// header line "address,reason,added,by", then one line per address: its
// reason, when it was added (ISO 8601 UTC) and by whom. Also read: the older
// form without a header, "ADDRESS[,REASON]" a line (the reason the rest of
// the line, commas and all), as export wrote it before the dates were kept.
//
// Spreadsheet formulas (both files): a spreadsheet takes a field starting
// with = + - @, TAB or CR for a formula, and account names (SASL logins),
// reasons and addresses come from customers. So every field written that
// starts with one of those, or with ', gets one ' in front (a spreadsheet
// shows it as text), and every field read loses one leading ': an export
// reads back exactly as it was.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "senderguard/model/records.h"
#include "senderguard/model/window.h"

namespace senderguard {

inline constexpr std::string_view kAccountCsvHeader =
    "account,minute,hour,day,month,state,reason,until,dry_run,domains_only,domains";
inline constexpr size_t kMaxImportErrors = 100;  // named; more are counted

struct AccountSettings {
  size_t line = 0;  // in the file, for messages
  std::string account;
  std::array<uint64_t, kWindowCount> limits = {kInheritLimit, kInheritLimit, kInheritLimit, kInheritLimit};
  AccountStatus state = AccountStatus::kActive;
  std::string reason;
  int64_t until = 0;
  bool dry_run = false;
  bool domains_only = false;
  std::vector<std::string> domains;  // normalized
};

struct AccountCsv {
  std::vector<AccountSettings> rows;
  std::vector<std::string> errors;  // "line 7: day: ..." (at most kMaxImportErrors)
  size_t error_count = 0;           // all of them
  size_t bad_lines = 0;             // lines with one or more
};

// A domain as `domains add` takes it: the normalized name, or nullopt with
// *why saying what is wrong (the caller's check: the public suffix list).
using DomainCheck = std::function<std::optional<std::string>(std::string_view raw, std::string* why)>;

// Reads a whole file. `now` judges `until`.
AccountCsv ParseAccountCsv(std::string_view text, int64_t now, const DomainCheck& domain);

// The line of one account as it stands at `now` (a reinstatement that has
// ended reads as suspended), without a line end.
std::string AccountCsvLine(const AccountRecord& rec, int64_t now);

// One CSV field: one ' in front when it starts with = + - @ TAB CR or '
// (SpreadsheetSafe), then quoted when it must be (RFC 4180).
std::string CsvField(std::string_view text);

// `field` with one ' in front when it starts with = + - @ TAB CR or ', else
// as it is; FromSpreadsheetSafe takes one leading ' off (if any). Pure.
std::string SpreadsheetSafe(std::string_view field);
std::string_view FromSpreadsheetSafe(std::string_view field);

inline constexpr std::string_view kSuppressionCsvHeader = "address,reason,added,by";

// One line of a suppression list as read (the address normalized, the
// rest as the line gives it).
struct SuppressionLine {
  size_t line = 0;          // in the file, for messages
  std::string address;      // normalized (NormalizeAddress)
  std::string reason;       // empty: the importer's default
  std::optional<int64_t> added;  // nullopt: not given (now)
  std::string by;           // empty: not given (the importer)
};

struct SuppressionList {
  std::vector<SuppressionLine> rows;
  // Each bad line's number and what is wrong with it (the first
  // kMaxImportErrors; one per line).
  std::vector<std::pair<size_t, std::string>> errors;
  size_t error_count = 0;  // all of them
};

// Reads a whole suppression list (either form), checking every line: an
// address NormalizeAddress refuses, a reason over 1000 bytes, an `added`
// that is not ISO 8601 UTC or is after `now`, a `by` over 255 bytes.
SuppressionList ParseSuppressionList(std::string_view text, int64_t now);

// The line of one entry (kSuppressionCsvHeader's columns), without a line end.
std::string SuppressionCsvLine(const SuppressionRecord& rec);

// Makes `rec` say what `s` says, at `now`, by `actor`. Returns what changed,
// as "day=100 state=suspended" ("" when nothing did).
std::string ApplySettings(const AccountSettings& s, AccountRecord* rec, std::string_view actor, int64_t now);

}  // namespace senderguard
