#include "senderguard/config/config.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>

#include <toml.hpp>

#include <arpa/inet.h>

#include "senderguard/auth/dmarc.h"
#include "senderguard/base/toml_check.h"
#include "senderguard/decide/account_state.h"  // ParseDuration

namespace senderguard {
namespace {

constexpr size_t kMaxConfigBytes = 64 << 10;  // real files are ~3 KiB
constexpr size_t kMaxReplyText = 400;

[[noreturn]] void Fail(const std::string& file, const toml::value& v, std::string_view key,
                       std::string_view what) {
  TomlFail(file, v, key, what);
}

std::string TypeName(const toml::value& v) { return TomlTypeName(v); }

struct Ctx {
  const std::string& file;
  Config& c;
};

bool GetBool(const Ctx& x, const toml::value& v, std::string_view key) {
  if (!v.is_boolean()) Fail(x.file, v, key, "expected true or false, got " + TypeName(v));
  return v.as_boolean();
}

int64_t GetInt(const Ctx& x, const toml::value& v, std::string_view key, int64_t lo, int64_t hi) {
  if (!v.is_integer()) Fail(x.file, v, key, "expected an integer, got " + TypeName(v));
  int64_t n = v.as_integer();
  if (n < lo || n > hi) {
    Fail(x.file, v, key,
         "value " + std::to_string(n) + " out of range " + std::to_string(lo) + ".." +
             std::to_string(hi));
  }
  return n;
}

std::string GetString(const Ctx& x, const toml::value& v, std::string_view key, size_t max) {
  return TomlGetString(x.file, v, key, max);
}

std::string GetReply(const Ctx& x, const toml::value& v, std::string_view key) {
  std::string s = GetString(x, v, key, kMaxReplyText);
  for (char ch : s) {
    if (ch == '\r' || ch == '\n') Fail(x.file, v, key, "a reply text must be one line");
    if (static_cast<unsigned char>(ch) < 0x20 && ch != '\t')
      Fail(x.file, v, key, "contains a control character");
  }
  if (s.empty()) Fail(x.file, v, key, "must not be empty");
  return s;
}

using Handler = std::function<void(const Ctx&, const toml::value&, const std::string& key)>;

void WalkTable(const Ctx& x, const toml::value& table, const std::string& prefix,
               const std::map<std::string, Handler>& keys) {
  for (const auto& [k, v] : table.as_table()) {
    const std::string full = prefix.empty() ? k : prefix + "." + k;
    auto it = keys.find(k);
    if (it == keys.end()) Fail(x.file, v, full, v.is_table() ? "unknown section [" + full + "]" : "unknown key");
    it->second(x, v, full);
  }
}

void RequireTable(const Ctx& x, const toml::value& v, const std::string& key) {
  if (!v.is_table()) Fail(x.file, v, key, "expected a table, got " + TypeName(v));
}

// A node name is a key in the shared tables and a word in log lines.
bool ValidNodeName(std::string_view s) {
  if (s.empty() || s.size() > 255) return false;
  for (char ch : s)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == '_'))
      return false;
  return true;
}

void ParseStorePostgresql(const Ctx& x, const toml::value& t, const std::string& key) {
  RequireTable(x, t, key);
  WalkTable(x, t, key,
            {{"conninfo", [](const Ctx& x, const toml::value& v, const std::string& k) {
                x.c.postgresql.conninfo = GetString(x, v, k, 4000);
                if (x.c.postgresql.conninfo.empty()) Fail(x.file, v, k, "must not be empty");
              }},
             {"node", [](const Ctx& x, const toml::value& v, const std::string& k) {
                x.c.postgresql.node = GetString(x, v, k, 255);
                if (!ValidNodeName(x.c.postgresql.node))
                  Fail(x.file, v, k, "must be 1 to 255 letters, digits, '.', '-' or '_'");
              }},
             {"on_unavailable", [](const Ctx& x, const toml::value& v, const std::string& k) {
                std::string s = GetString(x, v, k, 64);
                if (s == "tempfail") x.c.postgresql.on_unavailable = OnUnavailable::kTempfail;
                else if (s == "local") x.c.postgresql.on_unavailable = OnUnavailable::kLocal;
                else Fail(x.file, v, k, "must be \"tempfail\" or \"local\"");
              }},
             {"local_allowance", [](const Ctx& x, const toml::value& v, const std::string& k) {
                x.c.postgresql.local_allowance = GetInt(x, v, k, 0, 1000000000);
              }},
             {"lease_ttl_s", [](const Ctx& x, const toml::value& v, const std::string& k) {
                x.c.postgresql.lease_ttl_s = GetInt(x, v, k, 5, 3600);
              }}});
}

void ParseStore(const Ctx& x, const toml::value& t, const std::string& key) {
  RequireTable(x, t, key);
  WalkTable(x, t, key,
            {{"path", [](const Ctx& x, const toml::value& v, const std::string& k) {
                x.c.store_path = GetString(x, v, k, 4000);
                if (x.c.store_path.empty() || x.c.store_path[0] != '/')
                  Fail(x.file, v, k, "must be an absolute path");
              }},
             {"map_size_mb", [](const Ctx& x, const toml::value& v, const std::string& k) {
                x.c.map_size_mb = GetInt(x, v, k, 1, 1 << 20);
              }},
             {"sync_interval_ms", [](const Ctx& x, const toml::value& v, const std::string& k) {
                x.c.sync_interval_ms = GetInt(x, v, k, 0, 60000);
              }},
             {"backend", [](const Ctx& x, const toml::value& v, const std::string& k) {
                std::string b = GetString(x, v, k, 64);
                if (b == "lmdb") x.c.store_backend = StoreBackend::kLmdb;
                else if (b == "postgresql") x.c.store_backend = StoreBackend::kPostgresql;
                else Fail(x.file, v, k, "must be \"lmdb\" or \"postgresql\"");
              }},
             {"postgresql", ParseStorePostgresql}});
  if (x.c.store_backend == StoreBackend::kPostgresql && x.c.postgresql.conninfo.empty())
    Fail(x.file, t, key,
         "backend = \"postgresql\" needs [store.postgresql] conninfo (a libpq connection "
         "string, e.g. \"host=db1,db2 dbname=senderguard user=senderguard "
         "target_session_attrs=read-write\")");
}

bool ValidSocket(std::string_view s) {
  auto rest = [&](std::string_view p) { return s.substr(p.size()); };
  if (s.rfind("unix:", 0) == 0 || s.rfind("local:", 0) == 0) {
    auto path = s.rfind("unix:", 0) == 0 ? rest("unix:") : rest("local:");
    return !path.empty() && path[0] == '/' && path.size() < 100;
  }
  if (s.rfind("inet:", 0) == 0 || s.rfind("inet6:", 0) == 0) {
    auto spec = s.rfind("inet:", 0) == 0 ? rest("inet:") : rest("inet6:");
    auto at = spec.find('@');
    auto port = spec.substr(0, at);
    if (port.empty() || port.size() > 5) return false;
    for (char ch : port)
      if (ch < '0' || ch > '9') return false;
    return std::stoi(std::string(port)) <= 65535;
  }
  if (s.rfind("fd:", 0) == 0) {
    auto n = rest("fd:");
    if (n.empty() || n.size() > 4) return false;
    for (char ch : n)
      if (ch < '0' || ch > '9') return false;
    return true;
  }
  return false;
}

void ParseMilter(const Ctx& x, const toml::value& t, const std::string& key) {
  RequireTable(x, t, key);
  WalkTable(
      x, t, key,
      {{"socket",
        [](const Ctx& x, const toml::value& v, const std::string& k) {
          x.c.socket = GetString(x, v, k, 200);
          if (!ValidSocket(x.c.socket))
            Fail(x.file, v, k,
                 "expected unix:/path, inet:PORT@HOST, inet6:PORT@HOST or fd:N, got \"" +
                     x.c.socket + "\"");
        }},
       {"socket_mode",
        [](const Ctx& x, const toml::value& v, const std::string& k) {
          std::string s = GetString(x, v, k, 8);
          bool octal = !s.empty();
          for (char ch : s) octal = octal && ch >= '0' && ch <= '7';
          long m = octal ? std::strtol(s.c_str(), nullptr, 8) : -1;
          if (!octal || m > 0777)
            Fail(x.file, v, k, "expected an octal mode such as \"0660\"");
          x.c.socket_mode = static_cast<uint32_t>(m);
        }},
       {"socket_group",
        [](const Ctx& x, const toml::value& v, const std::string& k) {
          x.c.socket_group = GetString(x, v, k, 64);
        }},
       {"identity",
        [](const Ctx& x, const toml::value& v, const std::string& k) {
          if (!v.is_array()) Fail(x.file, v, k, "expected an array of sources");
          x.c.identity.clear();
          for (const auto& e : v.as_array()) {
            std::string s = GetString(x, e, k, 32);
            auto src = ParseIdentitySource(s);
            if (!src)
              Fail(x.file, e, k,
                   "unknown source \"" + s + "\" (sasl, sender-domain, client-address)");
            for (auto have : x.c.identity)
              if (have == *src) Fail(x.file, e, k, "source \"" + s + "\" listed twice");
            x.c.identity.push_back(*src);
          }
          if (x.c.identity.empty()) Fail(x.file, v, k, "needs at least one source");
        }},
       {"on_error",
        [](const Ctx& x, const toml::value& v, const std::string& k) {
          std::string s = GetString(x, v, k, 16);
          if (s == "tempfail") x.c.on_error = OnError::kTempfail;
          else if (s == "accept") x.c.on_error = OnError::kAccept;
          else if (s == "reject") x.c.on_error = OnError::kReject;
          else Fail(x.file, v, k, "expected \"tempfail\", \"accept\" or \"reject\"");
        }},
       {"dry_run", [](const Ctx& x, const toml::value& v,
                      const std::string& k) { x.c.dry_run = GetBool(x, v, k); }},
       {"log_stderr", [](const Ctx& x, const toml::value& v,
                         const std::string& k) { x.c.log_stderr = GetBool(x, v, k); }},
       {"notify_command", [](const Ctx& x, const toml::value& v, const std::string& k) {
          if (!v.is_array()) Fail(x.file, v, k, "expected an array: [\"/path/to/program\", \"arg\"]");
          x.c.notify_command.clear();
          for (const auto& e : v.as_array()) x.c.notify_command.push_back(GetString(x, e, k, 4000));
          if (!x.c.notify_command.empty() && x.c.notify_command[0].rfind('/', 0) != 0)
            Fail(x.file, v, k, "the program must be an absolute path (it runs without a shell)");
        }}});
}

void ParseWindowTable(const Ctx& x, const toml::value& t, const std::string& key, Window w) {
  RequireTable(x, t, key);
  WindowPolicy& p = x.c.windows[Index(w)];
  for (const auto& [k, v] : t.as_table()) {
    const std::string full = key + "." + k;
    if (k == "limit") {
      if (v.is_string() && v.as_string().str == "unlimited") {
        p.default_limit = kUnlimited;
      } else {
        p.default_limit = static_cast<uint64_t>(GetInt(x, v, full, 0, 1'000'000'000'000LL));
      }
    } else if (k == "count") {
      std::string s = GetString(x, v, full, 16);
      auto u = ParseCountUnit(s);
      if (!u) Fail(x.file, v, full, "expected \"recipients\" or \"messages\"");
      p.unit = *u;
    } else if (k == "on_exceed") {
      std::string s = GetString(x, v, full, 16);
      if (s == "tempfail") p.on_exceed = ExceedAction::kTempfail;
      else if (s == "reject") p.on_exceed = ExceedAction::kReject;
      else Fail(x.file, v, full, "expected \"tempfail\" (452 4.7.1) or \"reject\" (550 5.7.1)");
    } else {
      Fail(x.file, v, full, "unknown key");
    }
  }
}

void ParseQuota(const Ctx& x, const toml::value& t, const std::string& key) {
  RequireTable(x, t, key);
  for (const auto& [k, v] : t.as_table()) {
    const std::string full = key + "." + k;
    if (k == "timezone") {
      std::string s = GetString(x, v, full, 64);
      cctz::time_zone tz;
      if (s.empty() || !cctz::load_time_zone(s, &tz))
        Fail(x.file, v, full, "unknown time zone \"" + s + "\" (an IANA name such as \"Europe/Berlin\")");
      x.c.timezone = s;
      x.c.tz = tz;
    } else if (auto w = ParseWindow(k)) {
      ParseWindowTable(x, v, full, *w);
    } else {
      Fail(x.file, v, full, v.is_table() ? "unknown section [" + full + "] (minute, hour, day, month)"
                                         : "unknown key (timezone, minute, hour, day, month)");
    }
  }
}

void ParseReplies(const Ctx& x, const toml::value& t, const std::string& key) {
  RequireTable(x, t, key);
  WalkTable(x, t, key,
            {{"suspended", [](const Ctx& x, const toml::value& v, const std::string& k) {
                x.c.reply_suspended = GetReply(x, v, k);
              }},
             {"suppressed", [](const Ctx& x, const toml::value& v, const std::string& k) {
                x.c.reply_suppressed = GetReply(x, v, k);
              }},
             {"quota", [](const Ctx& x, const toml::value& v, const std::string& k) {
                x.c.reply_quota = GetReply(x, v, k);
              }},
             {"error", [](const Ctx& x, const toml::value& v, const std::string& k) {
                x.c.reply_error = GetReply(x, v, k);
              }},
             {"dmarc_reject", [](const Ctx& x, const toml::value& v, const std::string& k) {
                x.c.reply_dmarc_reject = GetReply(x, v, k);
              }},
             {"dmarc_reject_inbound", [](const Ctx& x, const toml::value& v, const std::string& k) {
                x.c.reply_dmarc_reject_inbound = GetReply(x, v, k);
              }},
             {"dmarc_tempfail", [](const Ctx& x, const toml::value& v, const std::string& k) {
                x.c.reply_dmarc_tempfail = GetReply(x, v, k);
              }},
             {"dmarc_author", [](const Ctx& x, const toml::value& v, const std::string& k) {
                x.c.reply_dmarc_author = GetReply(x, v, k);
              }},
             {"dmarc_unverified", [](const Ctx& x, const toml::value& v, const std::string& k) {
                x.c.reply_dmarc_unverified = GetReply(x, v, k);
              }}});
}

double GetRate(const Ctx& x, const toml::value& v, std::string_view key, double lo, double hi) {
  double d = 0;
  if (v.is_floating()) d = v.as_floating();
  else if (v.is_integer()) d = static_cast<double>(v.as_integer());
  else Fail(x.file, v, key, "expected a number, got " + TypeName(v));
  if (!(d >= lo && d <= hi))
    Fail(x.file, v, key, "value out of range " + std::to_string(lo) + ".." + std::to_string(hi));
  return d;
}

std::vector<std::string> GetStringList(const Ctx& x, const toml::value& v, std::string_view key,
                                       size_t max_items, size_t max_len);

void ParseTail(const Ctx& x, const toml::value& t, const std::string& key) {
  RequireTable(x, t, key);
  WalkTable(
      x, t, key,
      {{"source", [](const Ctx& x, const toml::value& v, const std::string& k) {
          x.c.tail_source = GetString(x, v, k, 4000);
          if (x.c.tail_source != "journal" && x.c.tail_source.rfind("journal:/", 0) != 0 &&
              (x.c.tail_source.empty() || x.c.tail_source[0] != '/'))
            Fail(x.file, v, k, "expected an absolute file path or \"journal\"");
        }},
       {"rules", [](const Ctx& x, const toml::value& v, const std::string& k) {
          x.c.tail_rules = GetString(x, v, k, 4000);
          if (x.c.tail_rules.empty() || x.c.tail_rules[0] != '/')
            Fail(x.file, v, k, "must be an absolute path");
        }},
       {"timezone", [](const Ctx& x, const toml::value& v, const std::string& k) {
          std::string s = GetString(x, v, k, 64);
          cctz::time_zone tz;
          if (s == "localtime") tz = cctz::local_time_zone();
          else if (s.empty() || !cctz::load_time_zone(s, &tz))
            Fail(x.file, v, k, "unknown time zone \"" + s + "\" (\"localtime\" or an IANA name)");
          x.c.tail_timezone = s;
          x.c.tail_tz = tz;
        }},
       {"poll_interval_ms", [](const Ctx& x, const toml::value& v, const std::string& k) {
          x.c.tail_poll_ms = static_cast<uint64_t>(GetInt(x, v, k, 10, 60000));
        }},
       {"filter_transports", [](const Ctx& x, const toml::value& v, const std::string& k) {
          x.c.tail_filter_transports = GetStringList(x, v, k, 32, 64);
          for (const auto& t : x.c.tail_filter_transports) {
            const bool ok = !t.empty() && std::all_of(t.begin(), t.end(), [](char ch) {
              return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '-' ||
                     ch == '_' || ch == '.';
            });
            if (!ok) Fail(x.file, v, k, "\"" + t + "\" is not a master.cf service name");
          }
        }},
       {"postfix_user", [](const Ctx& x, const toml::value& v, const std::string& k) {
          x.c.tail_postfix_user = GetString(x, v, k, 32);
          const std::string& u = x.c.tail_postfix_user;
          // A POSIX-ish user name, or a decimal uid (for a journal copied off
          // a machine whose postfix user has another uid).
          const bool ok = !u.empty() && u[0] != '-' && std::all_of(u.begin(), u.end(), [](char ch) {
            return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '_' || ch == '-' ||
                   ch == '.';
          });
          if (!ok) Fail(x.file, v, k, "\"" + u + "\" is not a user name or a uid");
        }},
       {"suppress_after_hard_bounces", [](const Ctx& x, const toml::value& v, const std::string& k) {
          x.c.suppress_after_hard_bounces = static_cast<uint32_t>(GetInt(x, v, k, 0, 1000));
        }}});
}

void ParseReputation(const Ctx& x, const toml::value& t, const std::string& key) {
  RequireTable(x, t, key);
  ReputationConfig& r = x.c.reputation;
  for (const auto& [k, v] : t.as_table()) {
    const std::string full = key + "." + k;
    if (k == "window_days") r.window_days = static_cast<int>(GetInt(x, v, full, 1, 90));
    else if (k == "min_volume") r.min_volume = static_cast<uint64_t>(GetInt(x, v, full, 1, 1'000'000'000'000LL));
    else if (k == "suspend_complaint_rate") r.suspend_complaint_rate = GetRate(x, v, full, 1e-9, 1);
    else if (k == "suspend_hard_rate") r.suspend_hard_rate = GetRate(x, v, full, 1e-9, 1);
    else if (k == "score_zero_complaint_rate") r.score_zero_complaint_rate = GetRate(x, v, full, 1e-9, 1);
    else if (k == "score_zero_hard_rate") r.score_zero_hard_rate = GetRate(x, v, full, 1e-9, 1);
    else if (k == "clean_days_per_step") r.clean_days_per_step = static_cast<int>(GetInt(x, v, full, 1, 365));
    else if (k == "day_clean_volume") r.day_clean_volume = static_cast<uint64_t>(GetInt(x, v, full, 1, 1'000'000'000'000LL));
    else if (k == "day_min_attempted") r.day_min_attempted = static_cast<uint64_t>(GetInt(x, v, full, 1, 1'000'000'000'000LL));
    else if (k == "day_complaint_max") r.day_complaint_max = GetRate(x, v, full, 1e-9, 1);
    else if (k == "day_hard_max") r.day_hard_max = GetRate(x, v, full, 1e-9, 1);
    else if (k == "tier_multipliers") {
      if (!v.is_array() || v.as_array().size() != 5)
        Fail(x.file, v, full, "expected an array of 5 numbers (tiers 1..5)");
      for (size_t i = 0; i < 5; ++i) r.tier_multipliers[i] = GetRate(x, v.as_array()[i], full, 0.001, 1000);
    } else {
      Fail(x.file, v, full, "unknown key");
    }
  }
  Status st = r.Validate();
  if (!st.ok()) Fail(x.file, t, key, st.message());
}

void ParseFeedback(const Ctx& x, const toml::value& t, const std::string& key) {
  RequireTable(x, t, key);
  WalkTable(x, t, key,
            {{"header", [](const Ctx& x, const toml::value& v, const std::string& k) {
                x.c.feedback_header = GetString(x, v, k, 64);
                bool ok = !x.c.feedback_header.empty();
                for (char ch : x.c.feedback_header)
                  ok = ok && ch > 32 && ch < 127 && ch != ':';
                if (!ok) Fail(x.file, v, k, "not a header field name");
              }},
             {"secret", [](const Ctx& x, const toml::value& v, const std::string& k) {
                x.c.feedback_secret = GetString(x, v, k, 256);
                if (!x.c.feedback_secret.empty() && x.c.feedback_secret.size() < 16)
                  Fail(x.file, v, k, "use at least 16 characters (e.g. openssl rand -hex 32)");
              }}});
}

// One of `choices`, else an error listing them.
std::string GetChoice(const Ctx& x, const toml::value& v, std::string_view key,
                      std::initializer_list<std::string_view> choices) {
  std::string s = GetString(x, v, key, 32);
  std::string list;
  for (auto c : choices) {
    if (s == c) return s;
    list += (list.empty() ? "\"" : ", \"") + std::string(c) + "\"";
  }
  Fail(x.file, v, key, "expected one of " + list + ", got \"" + s + "\"");
}

std::vector<std::string> GetStringList(const Ctx& x, const toml::value& v, std::string_view key,
                                       size_t max_items, size_t max_len) {
  if (!v.is_array()) Fail(x.file, v, key, "expected a list of strings, got " + TypeName(v));
  if (v.as_array().size() > max_items)
    Fail(x.file, v, key, "more than " + std::to_string(max_items) + " entries");
  std::vector<std::string> out;
  for (const auto& e : v.as_array()) out.push_back(GetString(x, e, key, max_len));
  return out;
}

bool IsIpAddress(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// "ADDRESS[@PORT]", the form libunbound's forwarders take.
bool IsForwarder(const std::string& s) {
  const size_t at = s.find('@');
  if (!IsIpAddress(s.substr(0, at))) return false;
  if (at == std::string::npos) return true;
  const std::string port = s.substr(at + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
    return false;
  const int n = std::stoi(port);
  return n >= 1 && n <= 65535;
}

void ParseDmarc(const Ctx& x, const toml::value& t, const std::string& key) {
  RequireTable(x, t, key);
  WalkTable(
      x, t, key,
      {{"mode", [](const Ctx& x, const toml::value& v, const std::string& k) {
          const std::string s = GetChoice(x, v, k, {"outbound", "inbound", "off"});
          x.c.dmarc_mode = s == "outbound" ? DmarcMode::kOutbound
                           : s == "inbound" ? DmarcMode::kInbound
                                            : DmarcMode::kOff;
        }},
       {"org_domain", [](const Ctx& x, const toml::value& v, const std::string& k) {
          x.c.dmarc_org_domain = GetChoice(x, v, k, {"tree-walk", "psl", "both"});
        }},
       {"on_quarantine", [](const Ctx& x, const toml::value& v, const std::string& k) {
          x.c.dmarc_reject_quarantine = GetChoice(x, v, k, {"reject", "accept"}) == "reject";
        }},
       {"on_temperror", [](const Ctx& x, const toml::value& v, const std::string& k) {
          x.c.dmarc_tempfail_on_dns_error = GetChoice(x, v, k, {"tempfail", "accept"}) == "tempfail";
        }},
       {"authserv_id", [](const Ctx& x, const toml::value& v, const std::string& k) {
          x.c.dmarc_authserv_id = GetString(x, v, k, 253);
          const auto& id = x.c.dmarc_authserv_id;
          if (!id.empty() && (id.find_first_of(" \t;()\"\\") != std::string::npos ||
                              !dmarc::NormalizeDomain(id)))
            Fail(x.file, v, k, "expected a host name such as mx.example.com (RFC 8601 authserv-id)");
        }},
       {"helo_name", [](const Ctx& x, const toml::value& v, const std::string& k) {
          x.c.dmarc_helo_name = GetString(x, v, k, 253);
          if (!x.c.dmarc_helo_name.empty() && !dmarc::NormalizeDomain(x.c.dmarc_helo_name))
            Fail(x.file, v, k, "expected a host name such as mx1.example.com");
        }},
       {"egress", [](const Ctx& x, const toml::value& v, const std::string& k) {
          x.c.dmarc_egress = GetStringList(x, v, k, 64, 64);
          for (const auto& a : x.c.dmarc_egress)
            if (!IsIpAddress(a)) Fail(x.file, v, k, "not an IPv4 or IPv6 address: \"" + a + "\"");
        }},
       {"signing_domains", [](const Ctx& x, const toml::value& v, const std::string& k) {
          x.c.dmarc_signing_domains.clear();
          for (const auto& d : GetStringList(x, v, k, 1000, 253)) {
            auto n = dmarc::NormalizeDomain(d);
            if (!n) Fail(x.file, v, k, "not a domain name: \"" + d + "\"");
            x.c.dmarc_signing_domains.push_back(*n);
          }
        }},
       {"exempt_accounts", [](const Ctx& x, const toml::value& v, const std::string& k) {
          x.c.dmarc_exempt_accounts.clear();
          for (const auto& a : GetStringList(x, v, k, 10000, 320)) {
            auto n = NormalizeAccount(a);
            if (!n) Fail(x.file, v, k, "not an account name: \"" + a + "\"");
            x.c.dmarc_exempt_accounts.push_back(*n);
          }
        }},
       {"upstream", [](const Ctx& x, const toml::value& v, const std::string& k) {
          x.c.dns_upstream = GetStringList(x, v, k, 8, 64);
          for (const auto& a : x.c.dns_upstream)
            if (!IsForwarder(a)) Fail(x.file, v, k, "expected ADDRESS or ADDRESS@PORT, got \"" + a + "\"");
        }},
       {"dns_timeout_ms", [](const Ctx& x, const toml::value& v, const std::string& k) {
          x.c.dns_timeout_ms = static_cast<uint64_t>(GetInt(x, v, k, 10, 60000));
        }},
       {"test_tld", [](const Ctx& x, const toml::value& v, const std::string& k) {
          x.c.dns_test_tld = GetBool(x, v, k);
        }}});
}

void ParseMonitoring(const Ctx& x, const toml::value& t, const std::string& key) {
  RequireTable(x, t, key);
  WalkTable(
      x, t, key,
      {{"interval", [](const Ctx& x, const toml::value& v, const std::string& k) {
          const std::string s = GetString(x, v, k, 16);
          const std::optional<int64_t> d = ParseDuration(s);
          if (!d || *d < 1 || *d > 3600)
            Fail(x.file, v, k, "expected a duration from \"1s\" to \"1h\" such as \"60s\" or \"5m\", got \"" + s + "\"");
          x.c.monitoring_interval_s = *d;
        }},
       {"textfile", [](const Ctx& x, const toml::value& v, const std::string& k) {
          const std::string s = GetString(x, v, k, 4000);
          if (!s.empty()) {
            // Every daemon reads this file: without {program} they would
            // overwrite each other's.
            if (s[0] != '/') Fail(x.file, v, k, "must be an absolute path");
            if (s.find("{program}") == std::string::npos)
              Fail(x.file, v, k,
                   "must contain {program} (each daemon writes its own file), e.g. "
                   "\"/var/lib/prometheus/node-exporter/{program}.prom\"");
            if (s.size() < 5 || s.compare(s.size() - 5, 5, ".prom") != 0)
              Fail(x.file, v, k, "must end in .prom (node_exporter's textfile collector reads only *.prom)");
          }
          x.c.monitoring_textfile = s;
        }}});
}

}  // namespace

Result<std::shared_ptr<const Config>> ParseConfig(std::string_view text, std::string_view name) {
  const std::string file(name);
  auto cfg = std::make_shared<Config>();
  cfg->source = file;
  Status st = ParseToml(text, file, kMaxConfigBytes, TomlLimits{}, [&](const toml::value& root) {
    Ctx x{file, *cfg};
    WalkTable(x, root, "",
              {{"store", ParseStore}, {"milter", ParseMilter}, {"quota", ParseQuota},
               {"replies", ParseReplies}, {"tail", ParseTail}, {"reputation", ParseReputation},
               {"feedback", ParseFeedback}, {"dmarc", ParseDmarc}, {"monitoring", ParseMonitoring}});
  });
  if (!st.ok()) return st;
  return std::shared_ptr<const Config>(std::move(cfg));
}

Result<std::shared_ptr<const Config>> LoadConfig(const std::string& path) {
  auto text = ReadTomlFile(path, kMaxConfigBytes);
  if (!text.ok()) return text.status();
  return ParseConfig(text.value(), path);
}

std::string ConfigPath(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("SENDERGUARD_CONF"); env != nullptr && *env != '\0') return env;
  return kDefaultConfigPath;
}

std::string MonitoringTextfile(const Config& cfg, std::string_view program) {
  if (cfg.monitoring_textfile.empty()) return {};
  return RenderTemplate(cfg.monitoring_textfile, {{"program", std::string(program)}});
}

std::string RenderTemplate(std::string_view tpl,
                           const std::vector<std::pair<std::string_view, std::string>>& vars) {
  std::string out;
  out.reserve(tpl.size() + 64);
  size_t i = 0;
  while (i < tpl.size()) {
    if (tpl[i] == '{') {
      size_t close = tpl.find('}', i + 1);
      if (close != std::string_view::npos) {
        std::string_view name = tpl.substr(i + 1, close - i - 1);
        bool found = false;
        for (const auto& [k, v] : vars) {
          if (k == name) {
            out += v;
            found = true;
            break;
          }
        }
        if (found) {
          i = close + 1;
          continue;
        }
      }
    }
    out.push_back(tpl[i++]);
  }
  return out;
}

}  // namespace senderguard
