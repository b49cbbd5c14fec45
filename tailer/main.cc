// senderguard-tail: follows Postfix's log and feeds every delivery outcome
// back into the store: per-account daily counts, hard-bounce counts toward
// suppression, the tier, and automatic suspension.
//
// SECURITY: the log is untrusted text: any local process can write to
// syslog, and the recipient, Message-ID and reply text inside genuine
// Postfix lines come from SMTP clients and remote servers. Lines are parsed
// with hard limits (postfix_log.h) and only attributed through queue ids the
// milter recorded; journal entries count only if Postfix's user or root wrote
// them (journal_source.h). Runs as the user systemd gives it (it needs read
// access to the log or the journal, and write access to the store); writes
// only the LMDB store under [store] path. Spawns nothing.
//
// Exactly once: the position in the source (file identity and offset, or
// journal cursor) is committed in the same transaction as the counts it
// produced: a crash or kill -9 neither loses nor repeats a line.
//
// Signals: SIGTERM/SIGINT finish the chunk in hand and exit 0.
// Pipeline: follow.h (the loop), chunk_reader.h (read, parse, classify),
// committer.h (the commits); print.h for --print.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include "check.h"
#include "explain.h"
#include "file_source.h"
#include "follow.h"
#include "journal_source.h"
#include "print.h"
#include "source_lock.h"
#include "senderguard/base/command_line.h"
#include "senderguard/base/exit_codes.h"
#include "senderguard/base/syslog_logger.h"
#include "senderguard/config/config.h"
#include "senderguard/feedback/feedback.h"
#include "senderguard/store/open.h"

namespace sg = senderguard;
using sg::tail::FileSource;
using sg::tail::JournalSource;

namespace {

std::atomic<bool> g_stop{false};
extern "C" void OnSignal(int) { g_stop = true; }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"senderguard-tail: feeds Postfix's delivery outcomes back into senderguard"};
  std::string config_flag, print_file, rules_flag, explain_reply, explain_dsn;
  bool once = false, log_stderr = false, check = false, from_start = false;
  sg::PrepareCommandLine(app, "senderguard-tail");
  sg::AddConfigOption(app, &config_flag);
  auto* once_flag = app.add_flag("--once", once, "read what is there now, then exit (no following)");
  app.add_option("--print", print_file,
                 "with --once: read FILE and print one JSON object per delivery outcome; "
                 "writes nothing; - reads standard input")->needs(once_flag)->check(CLI::Validator(
                     [](std::string& v) { return v.empty() ? "must name a file" : ""; }, "", ""))->type_name("LOGFILE");
  app.add_option("--rules", rules_flag, "bounce rules file (overrides [tail] rules)");
  app.add_flag("--stderr", log_stderr, "log to stderr too");
  auto* check_flag =
      app.add_flag("--check", check, "check the configuration and the rules, then exit")->excludes(once_flag);
  app.add_flag("--from-start", from_start, "journal: with no stored cursor, start at the oldest entry");
  auto* explain = app.add_option("--explain-reply", explain_reply,
                                 "print which bounce rule classifies TEXT and why, then exit")
                      ->excludes(once_flag)->excludes(check_flag);
  app.add_option("--dsn", explain_dsn, "with --explain-reply: its enhanced code")->needs(explain);
  sg::AddVersionFlag(app);
  if (auto rc = sg::ParseCommandLine(app, argc, argv)) return *rc;
  const bool explaining = explain->count() > 0;

  const std::string path = sg::ConfigPath(config_flag);
  sg::SyslogLogger logger("senderguard-tail", log_stderr);
  std::shared_ptr<const sg::Config> cfg;
  {
    auto loaded = sg::LoadConfig(path);
    if (!loaded.ok()) {
      // --print and --explain-reply need no configuration: defaults do.
      if ((!print_file.empty() || explaining) && config_flag.empty() &&
          ::access(path.c_str(), F_OK) != 0) {
        cfg = std::make_shared<sg::Config>();
      } else {
        std::fprintf(stderr, "senderguard-tail: %s\n", loaded.status().message().c_str());
        return sg::kExitConfig;
      }
    } else {
      cfg = loaded.value();
    }
  }
  if (cfg->log_stderr) logger.set_stderr(true);
  const std::string rules_path = rules_flag.empty() ? cfg->tail_rules : rules_flag;
  // Compiling the rules takes tens of milliseconds: following, they load on
  // a thread of their own while the store opens and the first chunk is
  // read; Follow waits for them before it classifies anything.
  std::future<sg::Result<sg::BounceRules>> rules_loading =
      std::async(std::launch::async, [rules_path] { return sg::BounceRules::Load(rules_path); });
  sg::BounceRules rules;
  // Waits for the rules (once; later calls give the same answer).
  std::optional<bool> rules_ok;
  auto take_rules = [&]() {
    if (rules_ok) return *rules_ok;
    auto loaded = rules_loading.get();
    rules_ok = loaded.ok();
    if (!loaded.ok()) {
      std::fprintf(stderr, "senderguard-tail: %s\n", loaded.status().message().c_str());
      return false;
    }
    rules = std::move(loaded.value());
    return true;
  };
  if ((check || !print_file.empty() || explaining) && !take_rules()) return sg::kExitConfig;
  if (explaining) {
    return sg::tail::ExplainReply(rules, rules_path, explain_reply, explain_dsn, stdout);
  }
  const std::string& source = cfg->tail_source;
  const bool journal = source == "journal" || source.rfind("journal:", 0) == 0;
  auto trusted = journal && print_file.empty()  // whose entries count, before anything is made
                     ? sg::tail::TrustedJournalUids(cfg->tail_postfix_user)
                     : sg::Result<std::vector<uid_t>>(std::vector<uid_t>{});
  if (!trusted.ok()) {
    std::fprintf(stderr, "senderguard-tail: %s\n", trusted.status().message().c_str());
    return sg::kExitConfig;
  }
  if (check) return sg::tail::CheckOnly(*cfg, path, rules_path, rules.size(), journal);

  sg::StoreUse use;
  use.logger = &logger;
  use.housekeeping = !once;

  if (!print_file.empty()) {
    // Attribution needs the store, but printing must not create one.
    std::unique_ptr<sg::Store> store;
    if (sg::StoreExists(*cfg)) {
      auto opened = sg::OpenStore(*cfg, use);
      if (opened.ok()) store = std::move(opened.value());
    }
    return sg::tail::PrintFile(print_file, *cfg, rules, store.get(), &logger);
  }

  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  for (const int sig : {SIGTERM, SIGINT}) sigaction(sig, &sa, nullptr);
  signal(SIGUSR1, SIG_IGN);  // the milter's reload signal: `pkill -USR1 senderguard` must not end it

  // A first run (no store yet) waits for the rules before it creates one:
  // a broken rules file leaves nothing behind.
  if (!sg::StoreExists(*cfg) && !take_rules()) return sg::kExitConfig;
  // An I/O error before following: a broken rules file is the error to
  // report first, as it was found before the store.
  auto io_error = [&](const std::string& message, int rc = sg::kExitIoError) {
    if (!take_rules()) return sg::kExitConfig;
    std::fprintf(stderr, "senderguard-tail: %s\n", message.c_str());
    return rc;
  };
  if (const sg::Status st = sg::CheckStoreSettings(*cfg); !st.ok()) {
    std::fprintf(stderr, "senderguard-tail: %s\n", st.message().c_str());
    return sg::kExitConfig;  // a setting wrong: not retried by systemd
  }
  use.claim_node = true;  // PostgreSQL: its log positions are this machine's
  auto opened = sg::OpenStore(*cfg, use);  // kInvalid: PostgreSQL refused this login, or another node's store (78)
  if (!opened.ok())
    return io_error(opened.status().message(),
                    opened.status().code() == sg::Status::Code::kInvalid ? sg::kExitConfig : sg::kExitIoError);
  sg::Store* store = opened.value().get();
  const std::string key = journal ? source : "file:" + source;
  if (const int rc = sg::tail::LockSource(cfg->store_path, key)) return rc;  // before the position
  auto pos = store->GetPosition(key);
  if (!pos.ok()) return io_error(pos.status().message());
  const bool resume = pos.value().has_value();
  auto load_rules = [&]() {
    if (!take_rules()) return false;
    logger.Log(sg::Logger::Level::kInfo, sg::KvLine()
                                             .Add("action", "start")
                                             .Add("source", key)  // as every other line names it
                                             .Add("rules", std::to_string(rules.size()))
                                             .Add("resume", resume ? "yes" : "no")
                                             .str());
    return true;
  };
  if (journal) {
    JournalSource src(source, std::move(trusted.value()), &logger);
    sg::Status st = src.Restore(pos.value(), from_start);
    if (!st.ok()) return io_error(st.message());
    return sg::tail::Follow(src, once, *cfg, &rules, load_rules, store, &logger, g_stop);
  }
  FileSource src(source, &logger);
  sg::Status st = src.Restore(pos.value());
  if (!st.ok()) return io_error(st.message());
  return sg::tail::Follow(src, once, *cfg, &rules, load_rules, store, &logger, g_stop);
}
