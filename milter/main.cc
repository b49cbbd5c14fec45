// senderguard-milter: enforces per-account quotas, suspension and recipient
// suppression inside the SMTP transaction, for Postfix or Sendmail.
//
// SECURITY: everything from the MTA is untrusted: the envelope sender and
// recipients, the SASL login, the client address (only as the MTA reports
// them). They are normalized, length-capped and logged escaped. Runs as the
// user systemd gives it (not root); writes only the LMDB store under
// [store] path and its milter socket. Spawns [milter] notify_command
// without a shell.
//
// Signals: SIGTERM/SIGHUP stop (libmilter's), SIGUSR1 reloads the
// configuration (a bad file keeps the old one), connections keep the
// configuration they started with.
#include <arpa/inet.h>
#include <grp.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <thread>

#include "senderguard/base/exit_codes.h"
#include "senderguard/store/open.h"
#include "senderguard/base/syslog_logger.h"
#include "session.h"

namespace sg = senderguard;
using sg::milter::Context;
using sg::milter::Session;
using sg::milter::StepResult;

namespace {

Context* g_ctx = nullptr;  // set once in main before smfi_main

Session* Priv(SMFICTX* ctx) { return static_cast<Session*>(smfi_getpriv(ctx)); }

std::string Macro(SMFICTX* ctx, const char* name) {
  const char* v = smfi_getsymval(ctx, const_cast<char*>(name));
  return v == nullptr ? std::string() : std::string(v);
}

sfsistat ToMilter(SMFICTX* ctx, const StepResult& r) {
  if (r.verdict == sg::Verdict::kContinue) return SMFIS_CONTINUE;
  const std::string code = std::to_string(r.reply.code);
  const std::string text = sg::MilterReplyText(r.reply.text);
  smfi_setreply(ctx, const_cast<char*>(code.c_str()), const_cast<char*>(r.reply.enhanced.c_str()),
                const_cast<char*>(text.c_str()));
  return r.verdict == sg::Verdict::kReject ? SMFIS_REJECT : SMFIS_TEMPFAIL;
}

// Every callback runs inside this guard: an exception becomes the configured
// on-error reply and a log line, never a crash.
template <typename F>
sfsistat Guard(SMFICTX* ctx, const char* stage, F&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    if (Session* s = Priv(ctx)) return ToMilter(ctx, s->OnInternalError(stage, e.what()));
    g_ctx->logger()->Log(sg::Logger::Level::kError,
                         sg::KvLine().Add("stage", stage).Add("action", "error").Add("error", e.what()).str());
    return SMFIS_TEMPFAIL;
  } catch (...) {
    if (Session* s = Priv(ctx)) return ToMilter(ctx, s->OnInternalError(stage, "unknown exception"));
    return SMFIS_TEMPFAIL;
  }
}

extern "C" sfsistat OnNegotiate(SMFICTX* ctx, unsigned long f0, unsigned long f1, unsigned long,
                                unsigned long, unsigned long* pf0, unsigned long* pf1,
                                unsigned long* pf2, unsigned long* pf3) {
  try {
    // The connection's Session starts here, with the configuration it keeps
    // (a reload applies to new connections): what is negotiated follows it.
    delete Priv(ctx);
    auto* session = new Session(g_ctx, std::string());
    smfi_setpriv(ctx, session);
    const sg::DmarcMode mode = session->config().dmarc_mode;
    // Only the steps used: connect, MAIL, RCPT, headers (Message-ID, the
    // feedback token, From:, Authentication-Results, DKIM), end of message
    // (and abort/close); the body only for DMARC (DKIM), HELO only for
    // inbound DMARC (SPF). Headers need no reply (SMFIP_NR_HDR): they cost
    // no round trip. The body is read only for a DKIM signature: its chunks
    // need no reply either (SMFIP_NR_BODY; most messages carry no signature,
    // and one round trip per message costs more than receiving a chunk).
    // Header values keep their leading space (SMFIP_HDR_LEADSPC), so a
    // signature with simple canonicalization sees the bytes that were signed.
    // libmilter answers for the MTA where it lacks a NR_* step.
    unsigned long want = SMFIP_NOEOH | SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NR_HDR;
    if (mode != sg::DmarcMode::kInbound) want |= SMFIP_NOHELO;
    if (mode == sg::DmarcMode::kOff) want |= SMFIP_NOBODY;
    else want |= SMFIP_HDR_LEADSPC | SMFIP_NR_BODY;
    *pf0 = SMFIF_SETSYMLIST | (f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS));
    *pf1 = want & f1;
    session->protocol.no_header_reply = (*pf1 & SMFIP_NR_HDR) != 0;
    session->protocol.leading_space = (*pf1 & SMFIP_HDR_LEADSPC) != 0;
    session->protocol.no_body_reply = (*pf1 & SMFIP_NR_BODY) != 0;
    session->protocol.skip = (*pf1 & SMFIP_SKIP) != 0;
    session->protocol.change_headers = (*pf0 & SMFIF_CHGHDRS) != 0;
    session->protocol.add_headers = (*pf0 & SMFIF_ADDHDRS) != 0;
    *pf2 = 0;
    *pf3 = 0;
    smfi_setsymlist(ctx, SMFIM_ENVFROM, const_cast<char*>("{auth_authen}"));
    smfi_setsymlist(ctx, SMFIM_ENVRCPT, const_cast<char*>("i"));
    smfi_setsymlist(ctx, SMFIM_EOM, const_cast<char*>("i"));
    return SMFIS_CONTINUE;
  } catch (...) {
    return SMFIS_TEMPFAIL;
  }
}

extern "C" sfsistat OnConnect(SMFICTX* ctx, char*, _SOCK_ADDR* addr) {
  return Guard(ctx, "connect", [&] {
    std::string client;
    char buf[INET6_ADDRSTRLEN] = {0};
    if (addr != nullptr && addr->sa_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(addr)->sin_addr, buf, sizeof buf);
      client = buf;
    } else if (addr != nullptr && addr->sa_family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(addr)->sin6_addr, buf, sizeof buf);
      client = buf;
    }
    // Negotiation made the Session; XCLIENT can bring a second connect.
    if (Session* s = Priv(ctx)) s->OnConnect(std::move(client));
    else smfi_setpriv(ctx, new Session(g_ctx, std::move(client)));
    return SMFIS_CONTINUE;
  });
}

extern "C" sfsistat OnHelo(SMFICTX* ctx, char* helo) {
  return Guard(ctx, "helo", [&] {
    if (Session* s = Priv(ctx); s != nullptr && helo != nullptr) s->OnHelo(helo);
    return SMFIS_CONTINUE;
  });
}

extern "C" sfsistat OnEnvFrom(SMFICTX* ctx, char** argv) {
  return Guard(ctx, "mail", [&] {
    Session* s = Priv(ctx);
    if (s == nullptr) return SMFIS_CONTINUE;
    return ToMilter(ctx, s->OnMail(argv != nullptr && argv[0] != nullptr ? argv[0] : "",
                                   Macro(ctx, "{auth_authen}")));
  });
}

extern "C" sfsistat OnEnvRcpt(SMFICTX* ctx, char** argv) {
  return Guard(ctx, "rcpt", [&] {
    Session* s = Priv(ctx);
    if (s == nullptr) return SMFIS_CONTINUE;
    return ToMilter(ctx, s->OnRcpt(argv != nullptr && argv[0] != nullptr ? argv[0] : "",
                                   Macro(ctx, "i")));
  });
}

extern "C" sfsistat OnHeader(SMFICTX* ctx, char* name, char* value) {
  return Guard(ctx, "header", [&] {
    Session* s = Priv(ctx);
    if (s == nullptr) return SMFIS_CONTINUE;
    if (name != nullptr && value != nullptr) {
      // Without SMFIP_HDR_LEADSPC the MTA removed the space after the
      // colon; put the usual one back.
      if (s->protocol.leading_space) s->OnHeader(name, value);
      else s->OnHeader(name, std::string(" ") + value);
    }
    return s->protocol.no_header_reply ? SMFIS_NOREPLY : SMFIS_CONTINUE;
  });
}

extern "C" sfsistat OnBody(SMFICTX* ctx, unsigned char* chunk, size_t len) {
  return Guard(ctx, "body", [&] {
    Session* s = Priv(ctx);
    if (s == nullptr) return SMFIS_CONTINUE;
    const bool more =
        chunk != nullptr && s->OnBody(std::string_view(reinterpret_cast<const char*>(chunk), len));
    if (s->protocol.no_body_reply) return SMFIS_NOREPLY;
    return more || !s->protocol.skip ? SMFIS_CONTINUE : SMFIS_SKIP;
  });
}

extern "C" sfsistat OnEom(SMFICTX* ctx) {
  return Guard(ctx, "eom", [&] {
    Session* s = Priv(ctx);
    if (s == nullptr) return SMFIS_CONTINUE;
    const StepResult r = s->OnEom(Macro(ctx, "i"));
    if (r.verdict == sg::Verdict::kContinue) {
      for (const auto& e : r.edits) {
        char* name = const_cast<char*>(e.name.c_str());
        int rc;
        if (e.index > 0) {
          rc = smfi_chgheader(ctx, name, e.index, nullptr);
        } else {
          // With SMFIP_HDR_LEADSPC the MTA also writes added values as given:
          // the space after the colon is ours to supply.
          const std::string value = s->protocol.leading_space ? " " + e.value : e.value;
          rc = smfi_insheader(ctx, 0, name, const_cast<char*>(value.c_str()));
        }
        if (rc != MI_SUCCESS) {
          g_ctx->logger()->Log(sg::Logger::Level::kError,
                               sg::KvLine().Add("stage", "eom").Add("action", "header-edit-failed")
                                   .Add("header", e.name).Add("op", e.index > 0 ? "delete" : "insert")
                                   .Add("note", "the MTA did not grant header changes (SMFIF_ADDHDRS/CHGHDRS)").str());
        }
      }
    }
    return ToMilter(ctx, r);
  });
}

extern "C" sfsistat OnAbort(SMFICTX* ctx) {
  return Guard(ctx, "abort", [&] {
    if (Session* s = Priv(ctx)) s->OnAbort();
    return SMFIS_CONTINUE;
  });
}

extern "C" sfsistat OnClose(SMFICTX* ctx) {
  return Guard(ctx, "close", [&] {
    delete Priv(ctx);
    smfi_setpriv(ctx, nullptr);
    return SMFIS_CONTINUE;
  });
}

void Usage(FILE* out) {
  std::fprintf(out,
               "usage: senderguard-milter [-c FILE] [--stderr] [--check]\n"
               "  -c FILE     configuration (default $SENDERGUARD_CONF or %s)\n"
               "  --stderr    log to stderr as well as syslog\n"
               "  --check     check the configuration and exit\n"
               "Runs in the foreground; SIGUSR1 reloads the configuration.\n",
               sg::kDefaultConfigPath);
}

// Reloads the configuration on SIGUSR1 (blocked in every other thread).
void ReloadLoop(std::string path, sg::Logger* log) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    auto cfg = sg::LoadConfig(path);
    if (!cfg.ok()) {
      log->Log(sg::Logger::Level::kError,
               sg::KvLine().Add("action", "reload-failed").Add("kept", "previous").Add("error", cfg.status().message()).str());
      continue;
    }
    auto old = g_ctx->config();
    if ((*cfg)->store_path != old->store_path || (*cfg)->socket != old->socket) {
      log->Log(sg::Logger::Level::kWarning,
               sg::KvLine().Add("action", "reload").Add("note", "store.path and milter.socket change only at restart").str());
    }
    if ((*cfg)->dns_upstream != old->dns_upstream || (*cfg)->dns_timeout_ms != old->dns_timeout_ms ||
        (*cfg)->dns_test_tld != old->dns_test_tld) {
      log->Log(sg::Logger::Level::kWarning,
               sg::KvLine().Add("action", "reload").Add("note", "dmarc.upstream, dns_timeout_ms and test_tld change only at restart").str());
    }
    g_ctx->set_config(*cfg);
    log->Log(sg::Logger::Level::kInfo, sg::KvLine().Add("action", "reload").Add("config", path).str());
  }
}

bool PrepareUnixSocket(const sg::Config& cfg, sg::Logger* log) {
  std::string path;
  if (cfg.socket.rfind("unix:", 0) == 0) path = cfg.socket.substr(5);
  else if (cfg.socket.rfind("local:", 0) == 0) path = cfg.socket.substr(6);
  if (path.empty()) return true;
  gid_t gid = static_cast<gid_t>(-1);
  if (!cfg.socket_group.empty()) {
    struct group* g = getgrnam(cfg.socket_group.c_str());
    if (g == nullptr) {
      log->Log(sg::Logger::Level::kError, sg::KvLine().Add("action", "start-failed").Add("error", "unknown socket_group " + cfg.socket_group).str());
      return false;
    }
    gid = g->gr_gid;
  }
  if (gid != static_cast<gid_t>(-1) && chown(path.c_str(), static_cast<uid_t>(-1), gid) != 0) {
    log->Log(sg::Logger::Level::kError, sg::KvLine().Add("action", "start-failed").Add("error", std::string("chown socket: ") + std::strerror(errno)).str());
    return false;
  }
  if (chmod(path.c_str(), cfg.socket_mode) != 0) {
    log->Log(sg::Logger::Level::kError, sg::KvLine().Add("action", "start-failed").Add("error", std::string("chmod socket: ") + std::strerror(errno)).str());
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string conf_flag;
  bool to_stderr = false, check_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-c" && i + 1 < argc) conf_flag = argv[++i];
    else if (a == "--stderr") to_stderr = true;
    else if (a == "--check") check_only = true;
    else if (a == "-h" || a == "--help") { Usage(stdout); return 0; }
    else { Usage(stderr); return 2; }
  }
  const std::string path = sg::ConfigPath(conf_flag);
  auto cfg = sg::LoadConfig(path);
  if (!cfg.ok()) {
    std::fprintf(stderr, "senderguard-milter: %s\n", cfg.status().message().c_str());
    return sg::kExitConfig;
  }
  if (!(*cfg)->socket_group.empty() && getgrnam((*cfg)->socket_group.c_str()) == nullptr) {
    std::fprintf(stderr, "senderguard-milter: %s: milter.socket_group: no such group \"%s\"\n",
                 path.c_str(), (*cfg)->socket_group.c_str());
    return sg::kExitConfig;
  }
  if (check_only) {
    std::printf("%s: ok\n", path.c_str());
    return 0;
  }
  sg::SyslogLogger logger("senderguard-milter", to_stderr || (*cfg)->log_stderr);

  // Block the signals handled by dedicated threads before any thread starts
  // (the store's writer, the reload thread): SIGUSR1 for our reload thread,
  // SIGHUP/SIGTERM/SIGINT for libmilter's signal thread, which sigwait()s for
  // them. Unblocked in any thread, they would kill the process outright.
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGUSR1, SIGHUP, SIGTERM, SIGINT}) sigaddset(&set, sig);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  sg::StoreUse use;
  use.logger = &logger;
  use.housekeeping = true;
  auto store = sg::OpenStore(**cfg, use);
  if (!store.ok()) {
    logger.Log(sg::Logger::Level::kError, sg::KvLine().Add("action", "start-failed").Add("error", store.status().message()).str());
    std::fprintf(stderr, "senderguard-milter: %s\n", store.status().message().c_str());
    return 75;  // EX_TEMPFAIL
  }
  // DNS, SPF and DKIM for DMARC, set up whatever the mode ([dmarc] upstream
  // changes only at restart).
  auto auth = sg::milter::AuthServices::Create(**cfg);
  if (!auth.ok()) {
    logger.Log(sg::Logger::Level::kError, sg::KvLine().Add("action", "start-failed").Add("error", auth.status().message()).str());
    std::fprintf(stderr, "senderguard-milter: %s\n", auth.status().message().c_str());
    return 75;
  }
  if ((*cfg)->dmarc_mode == sg::DmarcMode::kOutbound && (*cfg)->dmarc_egress.empty() &&
      (*cfg)->dmarc_signing_domains.empty()) {
    logger.Log(sg::Logger::Level::kWarning,
               sg::KvLine().Add("action", "config-warning").Add("note", "[dmarc] mode is outbound but neither egress nor signing_domains is set: only mail already DKIM-signed or from accounts' verified domains can pass p=reject domains").str());
  }
  Context context(*cfg, store->get(), &logger, auth->get());
  g_ctx = &context;
  std::thread(ReloadLoop, path, &logger).detach();

  struct smfiDesc desc = {};
  desc.xxfi_name = const_cast<char*>("senderguard");
  desc.xxfi_version = SMFI_VERSION;
  desc.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS;
  desc.xxfi_connect = OnConnect;
  desc.xxfi_envfrom = OnEnvFrom;
  desc.xxfi_envrcpt = OnEnvRcpt;
  desc.xxfi_helo = OnHelo;
  desc.xxfi_header = OnHeader;
  desc.xxfi_body = OnBody;
  desc.xxfi_eom = OnEom;
  desc.xxfi_abort = OnAbort;
  desc.xxfi_close = OnClose;
  desc.xxfi_negotiate = OnNegotiate;

  if (smfi_setconn(const_cast<char*>((*cfg)->socket.c_str())) == MI_FAILURE ||
      smfi_register(desc) == MI_FAILURE || smfi_opensocket(true) == MI_FAILURE) {
    logger.Log(sg::Logger::Level::kError, sg::KvLine().Add("action", "start-failed").Add("socket", (*cfg)->socket).str());
    std::fprintf(stderr, "senderguard-milter: cannot listen on %s\n", (*cfg)->socket.c_str());
    return 71;  // EX_OSERR
  }
  if (!PrepareUnixSocket(**cfg, &logger)) return 71;
  logger.Log(sg::Logger::Level::kInfo, sg::KvLine().Add("action", "start").Add("socket", (*cfg)->socket).Add("store", (*cfg)->store_path).Add("config", path).str());
  const int rc = smfi_main();
  logger.Log(sg::Logger::Level::kInfo, sg::KvLine().Add("action", "stop").Add("status", rc).str());
  // Leave without running destructors: a reload thread may still hold g_ctx,
  // and every commit is already in the store. Flush it to disk first.
  (*store)->Flush();
  std::_Exit(rc == MI_SUCCESS ? 0 : 1);
}
