// Fuzz target: ParseArf on arbitrary bytes, and a round trip through the
// shapes providers write.
//
// 1. Any input: no crash, no read outside the input (ASan), no unbounded
//    recursion, the same answer twice; a refusal is kInvalid with a one-line
//    message; a report has a lowercase token Feedback-Type, values within
//    kMaxArfValue and without LF, at most kMaxArfRecipients recipients and
//    kMaxArfNotes notes.
// 2. Round trip: a report built from fuzzed token, Message-ID, recipients and
//    subject, with fuzzed line ends (LF or CRLF), folding, header-name case,
//    transfer encodings (7bit, base64, quoted-printable) and wrapping (none,
//    multipart/mixed, message/rfc822 attachment), parses back to exactly
//    those values. This is the promise that attribution does not depend on
//    how a provider chose to encode its report.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "senderguard/feedback/arf.h"

namespace {

using senderguard::ArfReport;
using senderguard::ParseArf;
using senderguard::Result;
using senderguard::Status;

void Check(bool ok, const char* what, std::string_view detail) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_arf: invariant broken: %s [%.*s]\n", what,
               static_cast<int>(detail.size() > 2000 ? 2000 : detail.size()), detail.data());
  std::abort();
}

void CheckValue(const std::string& v, const char* what) {
  Check(v.size() <= senderguard::kMaxArfValue, what, v);
  Check(v.find('\n') == std::string::npos, what, v);
}

bool SameReport(const ArfReport& a, const ArfReport& b) {
  return a.feedback_type == b.feedback_type && a.user_agent == b.user_agent &&
         a.version == b.version && a.original_envelope_id == b.original_envelope_id &&
         a.original_mail_from == b.original_mail_from &&
         a.original_rcpt_to == b.original_rcpt_to && a.arrival_date == b.arrival_date &&
         a.source_ip == b.source_ip && a.reported_domain == b.reported_domain &&
         a.incidents == b.incidents && a.has_original == b.has_original &&
         a.headers_only == b.headers_only && a.message_id == b.message_id &&
         a.token == b.token && a.original_from == b.original_from &&
         a.original_to == b.original_to && a.original_subject == b.original_subject &&
         a.notes == b.notes;
}

void CheckAny(std::string_view in, std::string_view token_header) {
  const Result<ArfReport> r = ParseArf(in, token_header);
  const Result<ArfReport> again = ParseArf(in, token_header);
  Check(r.ok() == again.ok(), "not deterministic", in);
  if (!r.ok()) {
    Check(r.status().code() == Status::Code::kInvalid, "error code", r.status().message());
    Check(r.status().message() == again.status().message(), "not deterministic", in);
    Check(!r.status().message().empty() &&
              r.status().message().find('\n') == std::string::npos,
          "error message is one line", r.status().message());
    return;
  }
  Check(SameReport(*r, *again), "not deterministic", in);
  const ArfReport& a = *r;
  Check(!a.feedback_type.empty(), "empty feedback type", in);
  for (char c : a.feedback_type) {
    Check(!(c >= 'A' && c <= 'Z') && static_cast<unsigned char>(c) > 32 && c != 127,
          "feedback type not a lowercase token", a.feedback_type);
  }
  for (const std::string* v :
       {&a.feedback_type, &a.user_agent, &a.version, &a.original_envelope_id,
        &a.original_mail_from, &a.arrival_date, &a.source_ip, &a.reported_domain, &a.message_id,
        &a.token, &a.original_from, &a.original_to, &a.original_subject}) {
    CheckValue(*v, "value too long or holds LF");
  }
  Check(a.original_rcpt_to.size() <= senderguard::kMaxArfRecipients, "too many recipients", in);
  for (const std::string& v : a.original_rcpt_to) CheckValue(v, "recipient");
  Check(a.notes.size() <= senderguard::kMaxArfNotes, "too many notes", in);
  Check(a.incidents >= 1, "incidents", in);
  Check(a.has_original || (a.token.empty() && a.message_id.empty() && !a.headers_only),
        "original fields without an original", in);
  Check(token_header.empty() ? a.token.empty() : true, "token without a token header", in);
}

// ------------------------------------------------------------ round trip

// Bytes from `alphabet`, [min, max] of them.
std::string Word(FuzzedDataProvider& fdp, std::string_view alphabet, size_t min, size_t max) {
  const size_t n = fdp.ConsumeIntegralInRange<size_t>(min, max);
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s.push_back(alphabet[fdp.ConsumeIntegralInRange<size_t>(0, alphabet.size() - 1)]);
  }
  return s;
}

constexpr std::string_view kAlnum =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
// Printable ASCII without space: what an opaque token may hold.
constexpr std::string_view kTokenChars =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    "!#$%&'*+-/=?^_`{|}~.:;<>@[]\"(),\\";
// RFC 5322 atext and ".", "@": a dot-atom msg-id.
constexpr std::string_view kIdChars =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~.@";
constexpr std::string_view kText =
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

std::string MixCase(FuzzedDataProvider& fdp, std::string_view name) {
  std::string s(name);
  for (char& c : s) {
    if (fdp.ConsumeBool()) {
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      else if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return s;
}

// "Name: value", folded before the value or not, with optional whitespace.
std::string HeaderLine(FuzzedDataProvider& fdp, std::string_view name, const std::string& value) {
  std::string s = MixCase(fdp, name) + ":";
  switch (fdp.ConsumeIntegralInRange(0, 3)) {
    case 0: s += " "; break;
    case 1: s += "\n "; break;
    case 2: s += "\n\t\n  "; break;
    default: break;
  }
  return s + value + (fdp.ConsumeBool() ? "  " : "") + "\n";
}

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t line = 0;
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16;
    if (i + 1 < in.size()) v |= static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
    if (i + 2 < in.size()) v |= static_cast<unsigned char>(in[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back(i + 2 < in.size() ? kAlphabet[v & 63] : '=');
    if (++line == 19) {
      out.push_back('\n');
      line = 0;
    }
  }
  return out + "\n";
}

// RFC 2045 §6.7: "=" and anything outside printable ASCII as =XX, lines
// broken softly at 60 characters.
std::string QuotedPrintable(std::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  size_t col = 0;
  for (char c : in) {
    if (c == '\n') {
      out.push_back('\n');
      col = 0;
      continue;
    }
    const unsigned char u = static_cast<unsigned char>(c);
    if (col >= 60) {
      out += "=\n";
      col = 0;
    }
    if (c == '=' || u < 32 || u >= 127 || (c == ' ' && col == 0)) {
      out.push_back('=');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
      col += 3;
    } else {
      out.push_back(c);
      ++col;
    }
  }
  return out;
}

std::string Encode(FuzzedDataProvider& fdp, const std::string& content, std::string* cte_line) {
  switch (fdp.ConsumeIntegralInRange(0, 2)) {
    case 0:
      *cte_line = "Content-Transfer-Encoding: base64\n";
      return Base64(content);
    case 1:
      *cte_line = "Content-Transfer-Encoding: quoted-printable\n";
      return QuotedPrintable(content);
    default:
      *cte_line = fdp.ConsumeBool() ? "Content-Transfer-Encoding: 7bit\n" : "";
      return content;
  }
}

std::string ToCrlf(std::string_view s) {
  std::string r;
  for (char c : s) {
    if (c == '\n') r.push_back('\r');
    r.push_back(c);
  }
  return r;
}

void RoundTrip(const uint8_t* data, size_t size) {
  FuzzedDataProvider fdp(data, size);
  const std::string token = Word(fdp, kTokenChars, 1, 80);
  const bool with_id = fdp.ConsumeBool();
  const std::string id = with_id ? "<" + Word(fdp, kIdChars, 1, 60) + ">" : "";
  const std::string subject = Word(fdp, kText, 0, 120);
  std::vector<std::string> rcpts;
  const size_t nrcpt = fdp.ConsumeIntegralInRange<size_t>(0, 3);
  for (size_t i = 0; i < nrcpt; ++i) rcpts.push_back(Word(fdp, kIdChars, 1, 30));
  static const char* const kTypes[] = {"abuse", "fraud", "virus", "other", "not-spam",
                                       "auth-failure"};
  const std::string type = kTypes[fdp.ConsumeIntegralInRange<size_t>(0, 5)];
  const std::string boundary = "=_sg_" + Word(fdp, kAlnum, 1, 20);
  const bool headers_only = fdp.ConsumeBool();

  std::string fields = HeaderLine(fdp, "Feedback-Type", MixCase(fdp, type)) +
                       HeaderLine(fdp, "User-Agent", "fuzz/1") + HeaderLine(fdp, "Version", "1");
  for (const std::string& r : rcpts) {
    fields += HeaderLine(fdp, "Original-Rcpt-To", fdp.ConsumeBool() ? "<" + r + ">" : r);
  }
  std::string original = "Received: from x by y\n";
  original += HeaderLine(fdp, "X-Senderguard-ID", token);
  if (with_id) original += HeaderLine(fdp, "Message-ID", id);
  if (!subject.empty()) original += "Subject: " + subject + "\n";
  if (!headers_only) original += "\nbody line\n";

  std::string fb_cte, orig_cte;
  const std::string fb_body = Encode(fdp, fields, &fb_cte);
  const std::string orig_body = Encode(fdp, original, &orig_cte);

  std::string report =
      "From: fbl@example.net\nMIME-Version: 1.0\nContent-Type: multipart/report; "
      "report-type=feedback-report; boundary=\"" + boundary + "\"\n\npreamble\n--" + boundary +
      "\nContent-Type: text/plain\n\nA complaint.\n--" + boundary +
      "\nContent-Type: message/feedback-report\n" + fb_cte + "\n" + fb_body + "\n--" + boundary +
      "\nContent-Type: " + (headers_only ? "text/rfc822-headers" : "message/rfc822") + "\n" +
      orig_cte + "\n" + orig_body + "\n--" + boundary + "--\n";
  switch (fdp.ConsumeIntegralInRange(0, 2)) {
    case 0:
      report = "Content-Type: multipart/mixed; boundary=\"w=_\"\n\n--w=_\n"
               "Content-Type: text/plain\n\nforwarded\n--w=_\n" + report + "--w=_--\n";
      break;
    case 1:
      report = "Content-Type: multipart/mixed; boundary=\"w=_\"\n\n--w=_\n"
               "Content-Type: message/rfc822\n\n" + report + "--w=_--\n";
      break;
    default:
      break;
  }
  if (fdp.ConsumeBool()) report = ToCrlf(report);

  const Result<ArfReport> r = ParseArf(report, "x-senderguard-id");
  Check(r.ok(), "round trip: refused", report + "\n=> " + r.status().ToString());
  Check(r->feedback_type == type, "round trip: feedback type", report);
  Check(r->token == token, "round trip: token", report);
  Check(r->message_id == id, "round trip: message id", report);
  std::string_view want_subject = subject;  // the parser trims surrounding whitespace
  while (!want_subject.empty() && want_subject.front() == ' ') want_subject.remove_prefix(1);
  while (!want_subject.empty() && want_subject.back() == ' ') want_subject.remove_suffix(1);
  Check(r->original_subject == want_subject, "round trip: subject", report);
  Check(r->original_rcpt_to == rcpts, "round trip: recipients", report);
  Check(r->headers_only == headers_only, "round trip: headers only", report);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  CheckAny(in, "X-Senderguard-ID");
  // The last input byte also picks an odd token header name now and then.
  if (size > 0 && data[size - 1] == 'Z') CheckAny(in, "Content-Type");
  if (size <= 4096) RoundTrip(data, size);
  return 0;
}
