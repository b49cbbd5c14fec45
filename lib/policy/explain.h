// `senderguardctl explain --login A --from ADDR --rcpt ADDR ...`: the milter's
// checks for one message that is not sent, in the milter's order (identity,
// suspension at MAIL FROM; suppression and each quota window per recipient;
// the From: domain and DMARC at end of message), each with its verdict and
// the reply the milter would give. A pure function of the configuration and
// the facts the caller fetched (the account's record, the suppression entries,
// the committed counts, what MessageAuth learned): it calls the very
// decisions the milter calls (policy.h), so their replies are the milter's.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "senderguard/auth/dmarc.h"
#include "senderguard/auth/from_header.h"
#include "senderguard/config/config.h"
#include "senderguard/decide/identity.h"
#include "senderguard/model/records.h"
#include "senderguard/policy/policy.h"

namespace senderguard {

// What end of message learned about the message's authentication (a copy of
// MessageAuth::Finish's answer, without its I/O types).
struct ExplainAuth {
  Author author;
  std::optional<dmarc::Verdict> verdict;
  std::vector<std::pair<std::string, std::string>> fields;  // spf=, dkim=, dmarc=, ... as logged
};

struct ExplainFacts {
  // The message, as the MTA would give it to the milter.
  std::string sasl_login;
  std::string envelope_from;
  std::string client_address;
  std::vector<std::string> recipients;  // as given to RCPT TO
  int64_t now = 0;
  // What the store answered, for the account ResolveIdentity names.
  std::optional<AccountRecord> record;
  // Per recipient (same order): the suppression entry FindSuppression gives
  // (the global one first), nullopt when none or the address is not valid.
  std::vector<std::optional<SuppressionRecord>> suppressions;
  // Committed count of each window's instance at `now` (ExplainWindows).
  std::array<uint64_t, kWindowCount> used{};
  // End of message; nullopt: the message's header was not given, DMARC is
  // not judged.
  std::optional<ExplainAuth> auth;
};

// The window instances a message at `now` is counted in (those with a limit),
// for the caller to read their committed counts.
std::vector<QuotaCharge> ExplainWindows(const Config& cfg, const AccountRecord* rec, int64_t now);

struct ExplainStep {
  std::string stage;    // "mail", "rcpt", "eom"
  std::string check;    // "identity", "suspension", "suppression", "quota", "domain", "dmarc"
  std::string subject;  // the recipient, the window, the From: domain; "" when none
  // "pass", "refuse", "would-refuse" (dry run: logged, not refused),
  // "skip" (does not apply), "not-checked" (a fact is missing).
  std::string verdict;
  std::string detail;   // one line a postmaster reads
  std::optional<Decision> decision;  // set for refuse and would-refuse: the milter's decision
};

struct Explanation {
  std::optional<Identity> identity;
  std::vector<ExplainStep> steps;
  // The milter's answer at each stage (nullopt = it lets the MTA answer).
  std::optional<Reply> mail;
  std::vector<std::optional<Reply>> rcpt;  // per recipient; empty when refused at MAIL FROM
  std::optional<Reply> eom;
  bool reached_eom = false;  // some recipient was accepted (and the message had no MAIL refusal)
  bool eom_judged = false;   // end of message was judged in full (DMARC not left unchecked)
  // "accepted", "refused at MAIL FROM", "every recipient refused", "refused at end of message",
  // "accepted for N of M recipients".
  std::string outcome;
};

Explanation Explain(const Config& cfg, const ExplainFacts& facts);

// The reply as the SMTP client sees it: "550 5.7.1 text" (the text made
// Printable and capped as MilterReplyText sends it).
std::string ReplyLine(const Reply& r);

}  // namespace senderguard
