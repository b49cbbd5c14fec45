// The configuration shared by every senderguard program.
//
// One TOML file (default kDefaultConfigPath: /etc/senderguard/senderguard.conf
// in the package; or -c FILE, or $SENDERGUARD_CONF). Every key has one name,
// one default and a range, listed in conf/senderguard.conf. An unknown key, a
// wrong type or a value out of range is an error "file:line: key: what is
// wrong"; programs then exit 78 (EX_CONFIG). A Config is immutable once
// loaded: a reload builds a new one.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <cctz/time_zone.h>

#include "senderguard/decide/identity.h"
#include "senderguard/decide/quota.h"
#include "senderguard/decide/reputation.h"
#include "senderguard/base/status.h"
#include "senderguard/base/version.h"

namespace senderguard {

// kDefaultConfigPath and kDefaultRulesPath: base/version.h (they follow the
// install's sysconfdir).

// [dmarc] mode: predict the receiver's verdict for mail leaving the platform
// (outbound), evaluate as a receiver would for mail arriving from the
// connecting client (inbound), or do no DMARC at all (off).
enum class DmarcMode { kOff, kOutbound, kInbound };

// What the milter answers when it cannot decide (store unavailable, ...).
enum class OnError { kTempfail, kAccept, kReject };

// [store] backend: LMDB on this machine, or PostgreSQL shared by a fleet of
// MTAs (with this machine's LMDB as its cache and lease ledger).
enum class StoreBackend { kLmdb, kPostgresql };

// [store.postgresql] on_unavailable: when PostgreSQL cannot be reached and a
// node's leases are spent (or past their deadline), refuse with a temporary
// failure (exact), or send up to a local allowance per account and window,
// reported when the database returns (may exceed a limit by that allowance).
enum class OnUnavailable { kTempfail, kLocal };

// [store.postgresql]
struct PostgresqlConfig {
  std::string conninfo;   // a libpq connection string; required with backend = "postgresql"
  std::string node;       // this MTA's name in the fleet; empty: the host name
  OnUnavailable on_unavailable = OnUnavailable::kTempfail;
  uint64_t local_allowance = 100;  // per account and window, with on_unavailable = "local"
  uint32_t lease_ttl_s = 60;       // a lease not renewed for this long returns to the pool
};

struct Config {
  std::string source;  // file name, for messages

  // [store]
  StoreBackend store_backend = StoreBackend::kLmdb;
  std::string store_path = "/var/lib/senderguard";  // the LMDB store (a fleet node's cache)
  uint64_t map_size_mb = 256;        // initial LMDB map; grows by itself when full
  uint64_t sync_interval_ms = 1000;  // 0: fsync at every commit
  PostgresqlConfig postgresql;

  // [milter]
  std::string socket = "unix:/run/senderguard/milter.sock";
  uint32_t socket_mode = 0660;
  std::string socket_group;  // empty: leave the group as created
  std::vector<IdentitySource> identity = {IdentitySource::kSasl, IdentitySource::kSenderDomain,
                                          IdentitySource::kClientAddress};
  OnError on_error = OnError::kTempfail;
  bool dry_run = false;
  std::vector<std::string> notify_command;  // argv; empty: none
  bool log_stderr = false;

  // [quota]
  std::string timezone = "UTC";
  cctz::time_zone tz = cctz::utc_time_zone();
  std::array<WindowPolicy, kWindowCount> windows{};

  // [replies] Templates; {name} placeholders, see conf/senderguard.conf.
  std::string reply_suspended =
      "account {account} is disabled due to poor sending reputation; contact support to "
      "restore sending";
  std::string reply_suppressed =
      "recipient {recipient} is suppressed ({reason}); remove it from your list";
  std::string reply_quota = "{window_adj} quota of {limit} {unit} reached; resets {reset}";
  std::string reply_error = "temporary local problem; please try again later";
  std::string reply_dmarc_reject =
      "{domain} publishes DMARC p={policy} and this message cannot pass it from our servers; "
      "send from a domain you have verified with us";
  std::string reply_dmarc_reject_inbound =
      "{domain} publishes DMARC p={policy} and this message fails it: it is neither from a "
      "server that {domain} authorizes (SPF) nor signed by it (DKIM)";
  std::string reply_dmarc_tempfail =
      "cannot check the DMARC policy of {domain} now (DNS temporary failure); please try again later";
  std::string reply_dmarc_author = "{detail}; a message needs exactly one From: address with a domain";
  std::string reply_dmarc_unverified =
      "From: domain {domain} is not verified for account {account}; send from one of your "
      "verified domains";

  // [tail] senderguard-tail: what it follows and how it classifies.
  std::string tail_source = "/var/log/mail.log";  // a file, or "journal"
  std::string tail_rules = kDefaultRulesPath;
  std::string tail_timezone = "localtime";  // zone of RFC 3164 log timestamps
  cctz::time_zone tail_tz = cctz::local_time_zone();
  uint64_t tail_poll_ms = 250;              // how often to look for new lines at the end
  // pipe(8) transports that are content filters handing the message back to
  // Postfix (sendmail re-injection): their "sent" is a hop, not a delivery.
  std::vector<std::string> tail_filter_transports;
  // Postfix's mail_owner (a user name or a uid): following the journal, only
  // its entries and root's are counted (the others are forged).
  std::string tail_postfix_user = "postfix";
  uint32_t suppress_after_hard_bounces = 3;  // 0: never suppress by bounces

  // [reputation]
  ReputationConfig reputation;

  // [dmarc] See conf/senderguard.conf.
  DmarcMode dmarc_mode = DmarcMode::kOutbound;
  std::string dmarc_org_domain = "both";       // "tree-walk" | "psl" | "both"
  bool dmarc_reject_quarantine = true;         // on_quarantine = "reject" (else "accept")
  bool dmarc_tempfail_on_dns_error = true;     // on_temperror = "tempfail" (else "accept")
  std::string dmarc_authserv_id;               // empty: the host name
  std::string dmarc_helo_name;                 // outbound: the MTAs' HELO name; empty: host name
  std::vector<std::string> dmarc_egress;       // outbound: addresses the platform sends from
  std::vector<std::string> dmarc_signing_domains;  // outbound: DKIM d= the platform signs with
  std::vector<std::string> dmarc_exempt_accounts;  // not checked at all
  std::vector<std::string> dns_upstream;       // "ADDR[@PORT]"; empty: /etc/resolv.conf
  uint64_t dns_timeout_ms = 5000;
  bool dns_test_tld = false;                   // send "*.test" names upstream (tests)

  // [feedback] The token the milter adds to each accepted message so an ARF
  // complaint names its account; empty secret: no token.
  std::string feedback_header = "X-Senderguard-ID";
  std::string feedback_secret;

  // [monitoring] The daemons' "action=summary" line and Prometheus file.
  int64_t monitoring_interval_s = 60;  // 1..3600 s
  // node_exporter textfile, with "{program}" for the daemon's name; empty:
  // no file.
  std::string monitoring_textfile;
};

// Parses configuration text. `name` is used in messages.
Result<std::shared_ptr<const Config>> ParseConfig(std::string_view text, std::string_view name);

// Reads and parses a file.
Result<std::shared_ptr<const Config>> LoadConfig(const std::string& path);

// The file to read: `flag` when not empty, else $SENDERGUARD_CONF, else the default.
std::string ConfigPath(const std::string& flag);

// [monitoring] textfile for `program` ("senderguard-milter",
// "senderguard-tail"): its {program} replaced; empty when unset.
std::string MonitoringTextfile(const Config& cfg, std::string_view program);

// One key of the configuration and its value, for `senderguardctl config`
// (as `postconf` prints Postfix's).
struct ConfigEntry {
  std::string key;    // "section.key": "store.path", "quota.day.limit", "store.postgresql.node"
  // The value as TOML writes it (a quoted, escaped string; a number; true or
  // false; [a list]), so that "key = value" lines read back under their
  // sections give the same configuration. A secret that is set reads
  // "(set, hidden)": [feedback] secret whole, the password of [store.postgresql]
  // conninfo (its password= value, or the whole text when it is a URI with
  // a password). Every value but "(set, hidden)" is JSON too (`config
  // --json` reads it so): strings are written with only the escapes both
  // share (\" \\ \n \t \r \uXXXX), floats as digits.
  std::string value;
  bool secret = false;  // the value holds (or would hold) a secret
};

// Every key ParseConfig accepts, in conf/senderguard.conf's order, with its
// value in `cfg` (config_keys.cc: the one table of them; tests/unit/
// config_test.cc checks that the parser knows no key it lacks).
std::vector<ConfigEntry> ConfigEntries(const Config& cfg);

// Replaces {name} in `tpl` with values from `vars` (pairs of name, value);
// an unknown placeholder is left as it is.
std::string RenderTemplate(std::string_view tpl,
                           const std::vector<std::pair<std::string_view, std::string>>& vars);

}  // namespace senderguard
