// DKIM signing for TESTS (the dkim_sign tool and tests/unit/dkim_test.cc),
// not product code: senderguard verifies, it never signs.
//
// SignMessage() signs an RFC 5322 message with libopendkim's dkim_sign and
// returns the DKIM-Signature field to prepend. The message may use LF or
// CRLF line ends; it is handed to libopendkim in CRLF form. The signature
// covers the fields in SignOptions::headers that are present (From is always
// required by libopendkim) and the whole body (no l=).
//
// Header-only. Each call sets up and closes its own libopendkim library
// handle (dkim_init calls res_init(), which is not thread-safe: sign from
// one thread at a time).
#pragma once

// libopendkim's header uses C's _Bool, which g++ accepts in C++ and clang++
// does not: spell it as C++'s bool (the same type in the ABI) around it.
#define _Bool bool
#include <opendkim/dkim.h>
#undef _Bool

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace senderguard::test_support {

struct SignOptions {
  std::string domain;           // d=
  std::string selector;         // s=
  std::string private_key_pem;  // PEM ("-----BEGIN ... PRIVATE KEY-----")
  bool relaxed = true;          // c=relaxed/relaxed, else simple/simple
  dkim_alg_t algorithm = DKIM_SIGN_RSASHA256;
  unsigned min_key_bits = 1024;  // libopendkim refuses to sign with a smaller key
  std::vector<std::string> headers = {"from", "subject", "date", "to", "message-id"};
};

// `message` with every line end as CRLF (a lone LF becomes CRLF).
inline std::string ToCrlf(std::string_view message) {
  std::string out;
  out.reserve(message.size() + message.size() / 32 + 2);
  for (size_t i = 0; i < message.size(); ++i) {
    if (message[i] == '\n' && (i == 0 || message[i - 1] != '\r')) out += '\r';
    out += message[i];
  }
  return out;
}

// `message` with every CRLF as LF.
inline std::string ToLf(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  for (size_t i = 0; i < message.size(); ++i) {
    if (message[i] == '\r' && i + 1 < message.size() && message[i + 1] == '\n') continue;
    out += message[i];
  }
  return out;
}

// A message in CRLF form split into its header fields (each "Name: value"
// with its folding CRLFs, without the final CRLF) and its body (everything
// after the empty line; "" when there is none).
struct SplitMessage {
  std::vector<std::string> fields;
  std::string body;
};

inline SplitMessage Split(std::string_view crlf_message) {
  SplitMessage m;
  size_t pos = 0;
  while (pos < crlf_message.size()) {
    size_t eol = crlf_message.find("\r\n", pos);
    if (eol == std::string_view::npos) eol = crlf_message.size();
    const std::string_view line = crlf_message.substr(pos, eol - pos);
    const size_t next = eol + 2 <= crlf_message.size() ? eol + 2 : crlf_message.size();
    if (line.empty()) {
      m.body = std::string(crlf_message.substr(next));
      return m;
    }
    if ((line[0] == ' ' || line[0] == '\t') && !m.fields.empty()) {
      m.fields.back() += "\r\n";
      m.fields.back() += line;
    } else {
      m.fields.emplace_back(line);
    }
    pos = next;
  }
  return m;
}

// Signs `message`. On success returns true and sets `*field` to the whole
// field "DKIM-Signature: v=1; ..." folded with CRLF + TAB, without a final
// CRLF. On failure returns false with `*error` set.
inline bool SignMessage(const SignOptions& options, std::string_view message, std::string* field,
                        std::string* error) {
  struct LibCloser {
    void operator()(DKIM_LIB* l) const { dkim_close(l); }
  };
  struct HandleFreer {
    void operator()(DKIM* d) const { dkim_free(d); }
  };
  std::unique_ptr<DKIM_LIB, LibCloser> lib(dkim_init(nullptr, nullptr));
  if (lib == nullptr) {
    *error = "dkim_init failed";
    return false;
  }
  std::vector<const char*> names;
  for (const std::string& h : options.headers) names.push_back(h.c_str());
  names.push_back(nullptr);
  // DKIM_OPTS_SIGNHDRS takes the array itself (len: the size of a pointer).
  const char** list = names.data();
  if (dkim_options(lib.get(), DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS, static_cast<void*>(list),
                   sizeof list) != DKIM_STAT_OK) {
    *error = "setting the signed header list failed";
    return false;
  }
  u_int min_bits = options.min_key_bits;
  if (dkim_options(lib.get(), DKIM_OP_SETOPT, DKIM_OPTS_MINKEYBITS, &min_bits, sizeof min_bits) !=
      DKIM_STAT_OK) {
    *error = "setting the minimum key size failed";
    return false;
  }
  const dkim_canon_t canon = options.relaxed ? DKIM_CANON_RELAXED : DKIM_CANON_SIMPLE;
  DKIM_STAT st = DKIM_STAT_OK;
  std::unique_ptr<DKIM, HandleFreer> dkim(
      dkim_sign(lib.get(), reinterpret_cast<const unsigned char*>("dkim_sign"), nullptr,
                reinterpret_cast<dkim_sigkey_t>(const_cast<char*>(options.private_key_pem.c_str())),
                reinterpret_cast<const unsigned char*>(options.selector.c_str()),
                reinterpret_cast<const unsigned char*>(options.domain.c_str()), canon, canon,
                options.algorithm, -1, &st));
  if (dkim == nullptr) {
    const char* r = dkim_getresultstr(st);
    *error = std::string("dkim_sign failed: ") + (r != nullptr ? r : "?");
    return false;
  }
  auto fail = [&](const char* step, DKIM_STAT s) {
    const char* r = dkim_getresultstr(s);
    const char* e = dkim_geterror(dkim.get());
    *error = std::string(step) + " failed: " + (r != nullptr ? r : "?") +
             (e != nullptr && e[0] != '\0' ? std::string(": ") + e : std::string());
    return false;
  };
  SplitMessage m = Split(ToCrlf(message));
  for (std::string& f : m.fields) {
    st = dkim_header(dkim.get(), reinterpret_cast<unsigned char*>(f.data()), f.size());
    if (st != DKIM_STAT_OK) {
      const std::string step = "dkim_header on \"" + f.substr(0, 60) + "\"";
      return fail(step.c_str(), st);
    }
  }
  st = dkim_eoh(dkim.get());
  if (st != DKIM_STAT_OK) return fail("dkim_eoh", st);
  if (!m.body.empty()) {
    st = dkim_body(dkim.get(), reinterpret_cast<unsigned char*>(m.body.data()), m.body.size());
    if (st != DKIM_STAT_OK) return fail("dkim_body", st);
  }
  st = dkim_eom(dkim.get(), nullptr);
  if (st != DKIM_STAT_OK) return fail("dkim_eom", st);
  // The same prefix libopendkim hashed in dkim_eom_sign: "DKIM-Signature: ".
  static constexpr std::string_view kPrefix = "DKIM-Signature: ";
  unsigned char* value = nullptr;
  size_t len = 0;
  st = dkim_getsighdr_d(dkim.get(), kPrefix.size(), &value, &len);
  if (st != DKIM_STAT_OK || value == nullptr) return fail("dkim_getsighdr_d", st);
  *field = std::string(kPrefix) + std::string(reinterpret_cast<const char*>(value), len);
  return true;
}

}  // namespace senderguard::test_support
