// The libmilter callbacks (callbacks.h): each one a short shim into the
// connection's Session, reached through smfi_getpriv.
//
// SECURITY: every argument comes from the MTA and is untrusted; the shims
// only copy it (a null pointer read as empty) and leave normalizing, caps
// and escaping to the Session.
#include "callbacks.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <exception>
#include <string>
#include <string_view>

#include "monitor.h"
#include "senderguard/base/kvlog.h"

namespace senderguard::milter {
namespace {

Context* g_ctx = nullptr;  // set once by FilterDescription, before smfi_main

Session* Priv(SMFICTX* ctx) { return static_cast<Session*>(smfi_getpriv(ctx)); }

std::string Macro(SMFICTX* ctx, const char* name) {
  const char* v = smfi_getsymval(ctx, const_cast<char*>(name));
  return v == nullptr ? std::string() : std::string(v);
}

sfsistat ToMilter(SMFICTX* ctx, const StepResult& r) {
  if (r.verdict == Verdict::kContinue) return SMFIS_CONTINUE;
  const std::string code = std::to_string(r.reply.code);
  const std::string text = MilterReplyText(r.reply.text);
  smfi_setreply(ctx, const_cast<char*>(code.c_str()), const_cast<char*>(r.reply.enhanced.c_str()),
                const_cast<char*>(text.c_str()));
  return r.verdict == Verdict::kReject ? SMFIS_REJECT : SMFIS_TEMPFAIL;
}

// Every callback runs inside this guard: an exception becomes the configured
// on-error reply and a log line, never a crash.
template <typename F>
sfsistat Guard(SMFICTX* ctx, const char* stage, F&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    if (Session* s = Priv(ctx)) return ToMilter(ctx, s->OnInternalError(stage, e.what()));
    g_ctx->logger()->Log(Logger::Level::kError,
                         KvLine().Add("stage", stage).Add("action", "error").Add("error", e.what()).str());
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
    const DmarcMode mode = session->config().dmarc_mode;
    // Only the steps used: connect, MAIL, RCPT, headers (Message-ID, the
    // feedback token, From:, Authentication-Results, DKIM), end of message
    // (and abort/close); the body only for DMARC (DKIM), HELO only for
    // inbound DMARC (SPF). Nothing is decided at connect, so the MTA does
    // not wait for it (SMFIP_NR_CONN: one round trip fewer per connection;
    // a failure there is answered at MAIL). Headers need no reply
    // (SMFIP_NR_HDR): they cost no round trip. The body is read only for a
    // DKIM signature: its chunks need no reply either (SMFIP_NR_BODY; most
    // messages carry no signature, and one round trip per message costs more
    // than receiving a chunk).
    // Header values keep their leading space (SMFIP_HDR_LEADSPC), so a
    // signature with simple canonicalization sees the bytes that were signed.
    // libmilter answers for the MTA where it lacks a NR_* step.
    unsigned long want = SMFIP_NOEOH | SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NR_HDR | SMFIP_NR_CONN;
    if (mode != DmarcMode::kInbound) want |= SMFIP_NOHELO;
    if (mode == DmarcMode::kOff) want |= SMFIP_NOBODY;
    else want |= SMFIP_HDR_LEADSPC | SMFIP_NR_BODY;
    *pf0 = SMFIF_SETSYMLIST | (f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS));
    *pf1 = want & f1;
    session->protocol.no_connect_reply = (*pf1 & SMFIP_NR_CONN) != 0;
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
    const Session* s = Priv(ctx);
    return s != nullptr && s->protocol.no_connect_reply ? SMFIS_NOREPLY : SMFIS_CONTINUE;
  });
}

extern "C" sfsistat OnHelo(SMFICTX* ctx, char* helo) {
  return Guard(ctx, "helo", [&] {
    if (Session* s = Priv(ctx); s != nullptr && helo != nullptr) s->OnHelo(helo);
    return SMFIS_CONTINUE;
  });
}

extern "C" sfsistat OnEnvFrom(SMFICTX* ctx, char** argv) {
  const LatencyTimer timer(g_ctx, monitor::Stage::kMail);
  return Guard(ctx, "mail", [&] {
    Session* s = Priv(ctx);
    if (s == nullptr) return SMFIS_CONTINUE;
    return ToMilter(ctx, s->OnMail(argv != nullptr && argv[0] != nullptr ? argv[0] : "",
                                   Macro(ctx, "{auth_authen}")));
  });
}

extern "C" sfsistat OnEnvRcpt(SMFICTX* ctx, char** argv) {
  const LatencyTimer timer(g_ctx, monitor::Stage::kRcpt);
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
  const LatencyTimer timer(g_ctx, monitor::Stage::kEom);
  return Guard(ctx, "eom", [&] {
    Session* s = Priv(ctx);
    if (s == nullptr) return SMFIS_CONTINUE;
    const StepResult r = s->OnEom(Macro(ctx, "i"));
    if (r.verdict == Verdict::kContinue) {
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
          g_ctx->logger()->Log(Logger::Level::kError,
                               KvLine().Add("stage", "eom").Add("action", "header-edit-failed")
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

}  // namespace

smfiDesc FilterDescription(Context* ctx) {
  g_ctx = ctx;
  smfiDesc desc = {};
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
  return desc;
}

}  // namespace senderguard::milter
