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
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli.h"
#include "senderguard/auth/message_auth.h"
#include "senderguard/base/command_line.h"
#include "senderguard/policy/explain.h"

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

std::string ReadMessageFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string text;
  if (in) {
    std::ostringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  if (!in || in.bad()) throw Failure{kExitNotFound, "--message " + path + ": cannot read it"};
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

// `text` broken at spaces into lines of at most kColumns, every line after
// the first indented to `indent`; a word longer than the room stays whole.
std::string Wrap(const std::string& first, const std::string& text, size_t indent) {
  std::string out = first;
  size_t col = first.size();
  bool line_start = true;
  size_t i = 0;
  while (i < text.size()) {
    size_t end = text.find(' ', i);
    if (end == std::string::npos) end = text.size();
    const size_t len = end - i;
    if (!line_start && col + 1 + len > kColumns) {
      out += "\n" + std::string(indent, ' ');
      col = indent;
    } else if (!line_start) {
      out += ' ';
      ++col;
    }
    line_start = false;
    out.append(text, i, len);
    col += len;
    i = end + 1;
  }
  return out + "\n";
}

void PrintHuman(const Explanation& e, const std::string& from, const std::string& from_header) {
  constexpr size_t kDetail = 24;  // "  suppression  REFUSE   " then the detail
  std::string text;
  std::string title;
  for (const auto& s : e.steps) {
    // A recipient's title comes with its first step (suppression).
    if (s.stage != "rcpt" || s.check == "suppression") {
      const std::string t = StageTitle(s.stage, s.stage == "rcpt" ? s.subject : "", from, from_header);
      if (t != title) text += Wrap("", Printable(t, 300), 4);
      title = t;
    }
    std::string label = s.check;
    if (s.check == "quota") label += " " + s.subject;
    const std::string verdict = s.verdict == "refuse" ? "REFUSE" : s.verdict == "would-refuse" ? "WOULD" : s.verdict;
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

}  // namespace

void AddExplainCommand(CLI::App& app, Env& env) {
  auto* cmd = app.add_subcommand(
      "explain", "What the milter would answer to a message, check by check; nothing is sent or changed");
  static std::string login, from, client, helo, from_header, message;
  static std::vector<std::string> rcpts;
  cmd->add_option("--login", login, "the SASL login (as the MTA's {auth_authen})")->type_name("NAME");
  cmd->add_option("--from", from, "the envelope sender (MAIL FROM); \"\" for the null sender")
      ->required()
      ->type_name("ADDR");
  cmd->add_option("--rcpt", rcpts, "a recipient (RCPT TO); repeat for several")->required()->type_name("ADDR");
  cmd->add_option("--client", client, "the connecting client's IP address")->type_name("IP");
  cmd->add_option("--helo", helo, "the client's HELO name (DMARC inbound mode)")->type_name("NAME");
  auto* fh = cmd->add_option("--from-header", from_header,
                             "the From: header's value, for DMARC (e.g. \"Shop <news@shop.example>\")");
  cmd->add_option("--message", message, "a whole message (header and body), for DMARC with its DKIM signatures")
      ->excludes(fh)
      ->type_name("FILE");
  cmd->add_flag("--json", env.json, "one JSON document");
  cmd->footer(
      "Example:\n  senderguardctl explain --login alice --from a@shop.example \\\n"
      "      --rcpt bob@example.org --from-header 'Shop <news@shop.example>'");
  cmd->callback([&env, fh] {
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
