// senderguardctl explain QUEUE_ID [--log FILE...] [--json]: what happened to
// a queued message: the queue map's entry (account, recipients) and every log
// line about it, the milter's decisions and Postfix's deliveries with the
// class the tailer counts each as (feedback/message_trace.h).
//
// senderguardctl explain --login A --from ADDR --rcpt ADDR... [--client IP]
// [--helo NAME] [--from-header TEXT | --message FILE] [--json]: what the milter
// would do with a message, check by check, in its order, with the reply it
// would give, for a message that is not sent. Reads the store (nothing is
// written: quota counts, suppressions and the audit log are left as they
// are) and, when DMARC applies and a From: is given, asks DNS as the milter
// does (live lookups, [dmarc] upstream). The decisions are the milter's own
// (policy/explain.h).
//
// Not seen here: what other messages hold in flight at this moment (a
// reservation between RCPT TO and end of message), so a window within a few
// messages of its limit may answer otherwise when it is sent.
#include <sys/stat.h>

#include <cerrno>
#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "cli.h"
#include "senderguard/auth/message_auth.h"
#include "senderguard/base/command_line.h"
#include "senderguard/feedback/message_trace.h"
#include "senderguard/feedback/postfix_log.h"
#include "senderguard/policy/explain.h"
#include "senderguard/store/open.h"

namespace senderguard::cli {
namespace {

constexpr size_t kMaxMessage = 16 << 20;  // as senderguard-arf reads at most

struct Message {
  std::vector<std::pair<std::string, std::string>> headers;  // name, value with its leading space
  std::string body;                                          // CRLF line ends
};

// An RFC 5322 message as the MTA hands it to the milter: header fields in
// order, each value as it follows the colon (folded lines joined with "\n",
// as Postfix gives them), the body with CRLF line ends.
Message ParseMessage(const std::string& text) {
  Message m;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) break;  // end of the header
    if ((line[0] == ' ' || line[0] == '\t') && !m.headers.empty()) {
      m.headers.back().second += "\n" + line;
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == std::string::npos) {
      throw Failure{kExitUsage, "--message: not a header field (no colon): \"" + line.substr(0, 60) + "\""};
    }
    m.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
  }
  for (; pos < text.size(); ++pos) {
    if (text[pos] == '\n' && (m.body.empty() || m.body.back() != '\r')) m.body.push_back('\r');
    m.body.push_back(text[pos]);
  }
  return m;
}

// Opens a file the user named for reading: a directory, a compressed log
// (which reads as binary noise) and any open error are refused, naming the
// file and why. "-" is standard input.
std::istream* OpenInput(const std::string& option, const std::string& path, std::ifstream* file) {
  if (path == "-") return &std::cin;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    throw Failure{kExitNotFound, option + " " + path + ": is a directory, not a file"};
  }
  file->open(path, std::ios::binary);
  if (!*file) throw Failure{kExitNotFound, option + " " + path + ": cannot read it: " + std::strerror(errno)};
  const int c1 = file->get(), c2 = file->get();
  if ((c1 == 0x1f && c2 == 0x8b) || (c1 == 'B' && c2 == 'Z') || (c1 == 0xfd && c2 == '7') || (c1 == 0x28 && c2 == 0xb5)) {
    throw Failure{kExitUsage, option + " " + path + ": a compressed file; decompress it into standard input, e.g. zcat " +
                                  path + " | senderguardctl explain ... " + option + " -"};
  }
  file->clear();
  file->seekg(0);
  return file;
}

std::string ReadMessageFile(const std::string& path) {
  std::ifstream file;
  std::istream* in = OpenInput("--message", path, &file);
  std::ostringstream ss;
  ss << in->rdbuf();
  if (in->bad()) throw Failure{kExitNotFound, "--message " + path + ": reading failed"};
  std::string text = ss.str();
  if (text.size() > kMaxMessage) throw Failure{kExitUsage, "--message " + path + ": over 16 MiB"};
  return text;
}

// DMARC's facts for the message, as the milter's end of message learns them.
ExplainAuth Authenticate(const Config& cfg, const AccountRecord* rec, const std::string& client,
                         const std::string& helo, const std::string& from, const Message& msg) {
  auto services = AuthServices::Create(cfg);
  if (!services.ok()) {
    throw Failure{kExitConfig, "DMARC: cannot set up DNS, SPF or DKIM: " + services.status().message()};
  }
  MessageAuth auth(services->get(), &cfg, client, helo);
  auth.StartSpf(from);
  for (const auto& [name, value] : msg.headers) auth.Header(name, value);
  if (auth.WantsBody()) auth.Body(msg.body);
  const std::string id = cfg.dmarc_authserv_id.empty() ? (*services)->hostname() : cfg.dmarc_authserv_id;
  AuthOutcome out = auth.Finish(rec, id);
  return ExplainAuth{std::move(out.author), std::move(out.verdict), std::move(out.fields)};
}

nlohmann::json ReplyJson(const std::optional<Reply>& r) {
  if (!r) return nullptr;
  return ReplyLine(*r);
}

void PrintJsonExplanation(const Explanation& e, const std::vector<std::string>& rcpts) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& s : e.steps) {
    nlohmann::json j{{"stage", s.stage}, {"check", s.check},     {"subject", s.subject},
                     {"verdict", s.verdict}, {"detail", s.detail}};
    if (s.decision) {
      j["action"] = s.decision->action;
      j["reason"] = s.decision->reason;
      j["reply"] = ReplyLine(s.decision->reply);
    }
    steps.push_back(std::move(j));
  }
  nlohmann::json rcpt = nlohmann::json::array();
  for (size_t i = 0; i < e.rcpt.size(); ++i) rcpt.push_back({{"rcpt", rcpts[i]}, {"reply", ReplyJson(e.rcpt[i])}});
  nlohmann::json j{{"account", e.identity ? nlohmann::json(e.identity->account) : nlohmann::json(nullptr)},
                   {"source", e.identity ? nlohmann::json(IdentitySourceName(e.identity->source)) : nlohmann::json(nullptr)},
                   {"steps", steps},
                   {"replies", {{"mail", ReplyJson(e.mail)}, {"rcpt", rcpt}, {"eom", ReplyJson(e.eom)}}},
                   {"reached_eom", e.reached_eom},
                   {"eom_judged", e.eom_judged},
                   {"outcome", e.outcome}};
  PrintJson(j);
}

std::string StageTitle(const std::string& stage, const std::string& subject, const std::string& from,
                       const std::string& from_header) {
  if (stage == "mail") return "MAIL FROM:<" + from + ">";
  if (stage == "rcpt") return "RCPT TO:<" + subject + ">";
  return from_header.empty() ? "end of message" : "end of message (From:" + from_header + ")";
}

// `first` then `text`, broken at spaces into lines of at most kColumns,
// every line after the first indented to `indent` (WrapWords, as --help is
// wrapped); `first` stays whole, with a word of `text` after it.
std::string Wrap(const std::string& first, const std::string& text, size_t indent) {
  return WrapWords(first + text, kColumns, indent, std::max<size_t>(first.size(), 1)) + "\n";
}

void PrintHuman(const Explanation& e, const std::string& from, const std::string& from_header) {
  constexpr size_t kDetail = 24;  // "  suppression  REFUSE   " then the detail
  std::string text;
  std::string title;
  for (const auto& s : e.steps) {
    // A recipient's title comes with its first step (suppression), once
    // per recipient even when two are the same address.
    const std::string t = StageTitle(s.stage, s.stage == "rcpt" ? s.subject : "", from, from_header);
    if (s.stage == "rcpt" ? s.check == "suppression" : t != title) text += Printable(t, 300) + "\n";
    title = t;
    std::string label = s.check;
    if (s.check == "quota") label += " " + s.subject;
    const std::string verdict = s.verdict == "refuse"         ? "REFUSE"
                                : s.verdict == "would-refuse" ? "WOULD"
                                : s.verdict == "not-checked"  ? "unknown"
                                                              : s.verdict;
    char head[64];
    std::snprintf(head, sizeof head, "  %-12s %-8s ", label.c_str(), verdict.c_str());
    text += Wrap(head, Printable(s.detail, kMaxShown), kDetail);
    if (s.decision) {
      const std::string lead = s.verdict == "refuse" ? "answer: " : "dry run, logged only: ";
      text += Wrap(std::string(kDetail, ' '), lead + ReplyLine(s.decision->reply), kDetail + 4);
    }
  }
  std::string outcome = "outcome: " + e.outcome;
  if (e.reached_eom && !e.eom_judged) outcome += " (end of message not judged: no From: given)";
  text += Wrap("", outcome, 4);
  std::fputs(text.c_str(), stdout);
}


std::string ShortProgram(const std::string& program) {
  if (program == "senderguard-milter") return "milter";
  const size_t slash = program.rfind('/');
  return slash == std::string::npos ? program : program.substr(slash + 1);
}

// explain QUEUE_ID
void ExplainQueue(Env& env, const std::string& id, std::vector<std::string> logs) {
  if (!IsPostfixQueueId(id)) {
    throw Failure{kExitUsage, "\"" + id + "\" is not a Postfix queue id (such as 3B7C8A720C1)"};
  }
  const Config& cfg = env.config();
  // Without the rules the lines still tell the story; only the class is missing.
  auto rules = BounceRules::Load(cfg.tail_rules);
  if (!rules.ok()) {
    std::fprintf(stderr, "senderguardctl: [tail] rules: %s: deliveries are shown without the class the tailer counts\n",
                 Printable(rules.status().message(), kMaxShown).c_str());
  }
  const BounceRules* classify = rules.ok() ? &*rules : nullptr;
  std::string option = "--log";
  if (logs.empty()) {
    if (cfg.tail_source == "journal" || cfg.tail_source.rfind("journal:", 0) == 0) {
      throw Failure{kExitUsage, "[tail] source is the journal: give the log with --log FILE, for instance",
                    {"  journalctl -o short --since -7d SYSLOG_FACILITY=2 | senderguardctl explain " + id + " --log -"}};
    }
    logs.push_back(cfg.tail_source);
    option = "[tail] source";
  }
  // The same file named twice (mail.log and ./mail.log) is read once.
  std::vector<std::pair<dev_t, ino_t>> seen_files;
  std::vector<std::string> read;
  for (const auto& p : logs) {
    struct stat st {};
    if (p != "-" && ::stat(p.c_str(), &st) == 0) {
      const std::pair<dev_t, ino_t> key{st.st_dev, st.st_ino};
      if (std::find(seen_files.begin(), seen_files.end(), key) != seen_files.end()) continue;
      seen_files.push_back(key);
    }
    read.push_back(p);
  }
  logs = std::move(read);
  // The queue map when there is a store; the log alone tells the story otherwise.
  std::optional<QueueEntry> entry;
  const bool have_store = StoreExists(cfg);
  if (have_store) entry = Take(env.existing_store().GetQueueEntry(id));
  std::vector<TraceEvent> events;
  std::vector<size_t> per_file;
  for (const auto& path : logs) {
    std::ifstream file;
    std::istream* in = OpenInput(option, path, &file);
    size_t n = 0;
    std::string line;
    while (std::getline(*in, line)) {
      if (auto e = TraceLine(line, id, classify)) {
        events.push_back(std::move(*e));
        ++n;
      }
    }
    per_file.push_back(n);
  }
  if (!entry && events.empty()) {
    std::string where;
    for (const auto& p : logs) where += (where.empty() ? "" : ", ") + (p == "-" ? std::string("standard input") : p);
    throw Failure{kExitNotFound, "nothing known about " + id + ": not in the queue map, no line in " + where};
  }
  // Each recipient's last delivery line is its outcome so far (a deferral
  // followed by a delivery is delivered); without rules, not classified.
  std::map<std::string, std::string> last;  // recipient -> class ("" unclassified)
  std::map<std::string, std::string> category;
  for (const auto& e : events) {
    if (e.kind != "delivery") continue;
    last[e.recipient] = e.outcome;
    category[e.recipient] = e.category;
  }
  std::map<std::string, size_t> outcomes, shown_outcomes;
  for (const auto& [rcpt, cls] : last) {
    ++outcomes[cls.empty() ? "unclassified" : cls];
    ++shown_outcomes[cls.empty() ? "not classified" : cls + (category[rcpt].empty() ? "" : " (" + category[rcpt] + ")")];
  }

  if (env.json) {
    nlohmann::json j{{"queue_id", id}, {"queue_map", nullptr}};
    if (entry) {
      j["queue_map"] = {{"account", entry->account},
                        {"time", FormatUtc(entry->time)},
                        {"recipients", entry->recipients},
                        {"message_id", entry->message_id},
                        {"last_event", entry->last_event == 0 ? nlohmann::json(nullptr)
                                                              : nlohmann::json(FormatUtc(entry->last_event))},
                        {"forwarded", entry->forwarded}};
    }
    nlohmann::json files = nlohmann::json::array();
    for (size_t i = 0; i < logs.size(); ++i) files.push_back({{"path", logs[i]}, {"lines", per_file[i]}});
    j["logs"] = files;
    nlohmann::json ev = nlohmann::json::array();
    for (const auto& e : events) {
      // ISO 8601 UTC when the log's time reads (RFC 3164's has no year or
      // zone: read in [quota] timezone, as the tailer reads it), and as logged.
      const auto t = ParseSyslogTime(e.timestamp, env.Now(), cfg.tz);
      nlohmann::json x{{"time", t ? nlohmann::json(FormatUtc(*t)) : nlohmann::json(nullptr)},
                       {"timestamp", e.timestamp},
                       {"program", e.program},
                       {"kind", e.kind},
                       {"text", e.text}};
      if (!e.recipient.empty()) x["recipient"] = e.recipient;
      if (!e.outcome.empty()) {
        x["outcome"] = e.outcome;
        x["category"] = e.category.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.category);
        x["rule_line"] = e.rule_line > 0 ? nlohmann::json(e.rule_line) : nlohmann::json(nullptr);
      }
      if (!e.related_queue_id.empty()) x["related_queue_id"] = e.related_queue_id;
      ev.push_back(std::move(x));
    }
    j["events"] = ev;
    j["outcomes"] = outcomes;  // per recipient, its last delivery line: class -> count
    PrintJson(j);
    return;
  }
  std::string text = "queue id " + id + "\n";
  if (entry) {
    text += Wrap("  ", Printable("account " + entry->account + ": accepted " + env.HumanTime(entry->time) + " for " +
                                     std::to_string(entry->recipients.size()) + " recipient(s)" +
                                     (entry->message_id.empty() ? "" : ", Message-ID " + entry->message_id) +
                                     (entry->forwarded ? "; handed to a content filter, re-queued under a new id" : ""),
                                 kMaxShown),
                 4);
  } else {
    text += Wrap("  ", "not in the queue map: the milter did not accept it (see the lines below), or the "
                       "tailer has forgotten it since",
                 4);
  }
  for (size_t i = 0; i < logs.size(); ++i) {
    text += (logs[i] == "-" ? std::string("standard input") : Printable(logs[i], 300)) + ": " +
            std::to_string(per_file[i]) + " line(s)\n";
  }
  for (const auto& e : events) {
    char head[80];
    std::snprintf(head, sizeof head, "  %-15s %-7.7s ", e.timestamp.substr(0, 32).c_str(),
                  ShortProgram(e.program).c_str());
    std::string what = e.kind == "delivery" ? e.recipient + ": " + e.text : e.text;
    if (!e.outcome.empty()) {
      what += " -> " + e.outcome + (e.category.empty() ? "" : " (" + e.category + ")");
      if (e.rule_line > 0) what += ", rules line " + std::to_string(e.rule_line);
    }
    text += Wrap(head, what, 29);
  }
  std::string summary;
  for (const auto& [k, n] : shown_outcomes) summary += (summary.empty() ? "" : ", ") + std::to_string(n) + " " + k;
  text += Wrap("", "outcome: " + (summary.empty() ? std::string("no delivery logged") : summary), 4);
  std::fputs(text.c_str(), stdout);
}

}  // namespace

void AddExplainCommand(CLI::App& app, Env& env) {
  auto* cmd = app.add_subcommand(
      "explain", "What the milter would answer to a message, check by check; nothing is sent or changed");
  static std::string queue_id, login, from, client, helo, from_header, message;
  static std::vector<std::string> rcpts, logs;
  cmd->add_option("QUEUE_ID", queue_id, "a Postfix queue id: what happened to that message")->type_name("QUEUE_ID");
  cmd->add_option("--log", logs, "with QUEUE_ID: the log to read (default [tail] source; - for stdin); repeatable")
      ->type_name("FILE");
  cmd->add_option("--login", login, "the SASL login (as the MTA's {auth_authen})")->type_name("NAME");
  auto* from_opt = cmd->add_option("--from", from, "the envelope sender (MAIL FROM); \"<>\" for the null sender")
                       ->type_name("ADDR");
  auto* rcpt_opt = cmd->add_option("--rcpt", rcpts, "a recipient (RCPT TO); repeat for several")->type_name("ADDR");
  cmd->add_option("--client", client, "the connecting client's IP address")->type_name("IP");
  cmd->add_option("--helo", helo, "the client's HELO name (DMARC inbound mode)")->type_name("NAME");
  auto* fh = cmd->add_option("--from-header", from_header,
                             "the From: header's value, for DMARC (e.g. \"Shop <news@shop.example>\")");
  cmd->add_option("--message", message, "a whole message (header and body), for DMARC with its DKIM signatures")
      ->excludes(fh)
      ->type_name("FILE");
  cmd->add_flag("--json", env.json, "one JSON document");
  cmd->footer(
      "Examples:\n  senderguardctl explain 3B7C8A720C1\n"
      "  senderguardctl explain --login alice --from a@shop.example \\\n"
      "      --rcpt bob@example.org --from-header 'Shop <news@shop.example>'");
  cmd->callback([&env, fh, from_opt, rcpt_opt] {
    if (!queue_id.empty()) {
      if (from_opt->count() > 0 || rcpt_opt->count() > 0 || fh->count() > 0 || !message.empty() || !login.empty()) {
        throw Failure{kExitUsage, "explain: QUEUE_ID explains a message that was queued; --from, --rcpt and the "
                                  "rest describe one not sent: give one or the other"};
      }
      ExplainQueue(env, queue_id, logs);
      return;
    }
    if (from_opt->count() == 0 || rcpts.empty()) {
      throw Failure{kExitUsage, "explain: give a QUEUE_ID, or --from and --rcpt (a message not sent)"};
    }
    if (!logs.empty()) throw Failure{kExitUsage, "explain: --log goes with a QUEUE_ID"};
    if (!client.empty()) {
      in6_addr a6{};
      in_addr a4{};
      if (inet_pton(AF_INET, client.c_str(), &a4) != 1 && inet_pton(AF_INET6, client.c_str(), &a6) != 1) {
        throw Failure{kExitUsage, "--client \"" + client.substr(0, 60) + "\": not an IPv4 or IPv6 address"};
      }
    }
    const Config& cfg = env.config();
    ExplainFacts f;
    f.sasl_login = login;
    f.envelope_from = from == "<>" ? "" : from;
    f.client_address = client;
    f.recipients = rcpts;
    f.now = env.Now();
    Message msg;
    if (!message.empty()) {
      msg = ParseMessage(ReadMessageFile(message));
    } else if (fh->count() > 0) {
      msg.headers.emplace_back("From", " " + from_header);
    }
    const std::optional<Identity> id =
        ResolveIdentity(IdentityFacts{f.sasl_login, f.envelope_from, f.client_address}, cfg.identity);
    if (id) {
      Store& store = env.existing_store();
      f.record = Take(store.GetAccount(id->account));
      const AccountRecord* rec = f.record ? &*f.record : nullptr;
      for (const auto& r : rcpts) {
        const std::optional<std::string> addr = NormalizeAddress(r);
        f.suppressions.push_back(addr ? Take(store.FindSuppression(id->account, *addr)) : std::nullopt);
      }
      std::vector<WindowUsage> ask;
      for (const QuotaCharge& c : ExplainWindows(cfg, rec, f.now)) ask.push_back({c.window, c.span, 0});
      for (const WindowUsage& u : Take(store.Usage(id->account, ask))) f.used[Index(u.window)] = u.used;
      if (DmarcApplies(cfg, id->account) && (!message.empty() || fh->count() > 0)) {
        f.auth = Authenticate(cfg, rec, client, helo, "<" + f.envelope_from + ">", msg);
      }
    }
    const Explanation e = Explain(cfg, f);
    if (env.json) {
      PrintJsonExplanation(e, rcpts);
      return;
    }
    std::string shown_from;
    for (const auto& [n, v] : msg.headers)
      if (EqualsIgnoreCase(n, "From")) shown_from = v;
    PrintHuman(e, f.envelope_from, shown_from);
  });
}

}  // namespace senderguard::cli
