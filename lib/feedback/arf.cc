// Feedback-loop reports (ARF, RFC 5965): see arf.h. MIME itself (header
// blocks, Content-Type, transfer encodings) is mime.h's; this file walks a
// report's parts and reads its fields. Just over 600 lines: one RFC's parser.
#include "senderguard/feedback/arf.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "senderguard/base/text.h"
#include "senderguard/feedback/mime.h"

namespace senderguard {
namespace {

using sv = std::string_view;
using mime::Cap;
using mime::ContentType;
using mime::DecodeBase64;
using mime::DecodeQuotedPrintable;
using mime::Field;
using mime::FieldNameChar;
using mime::HeaderBlock;
using mime::ParseContentType;
using mime::ParseHeaderBlock;
using mime::SkipCfws;
using mime::TokenChar;

constexpr size_t kMaxTokenHeaderName = 128;
// A multipart boundary is at most 70 characters (RFC 2046 §5.1.1); allow
// some slack for sloppy generators, but keep the per-line compare short.
constexpr size_t kMaxBoundary = 200;
// Attacker text quoted in an error message (Printable), "..." included.
constexpr size_t kMaxQuoted = 67;

// ------------------------------------------------------------ the parser

struct Entity {
  HeaderBlock header;
  ContentType ct;
  std::string cte;  // lowercased Content-Transfer-Encoding; "" when absent
};

// The fields read from one original-message part.
struct Original {
  bool headers_only = false;
  std::string message_id, token, from, to, subject;
};

// A multipart body cut at its delimiter lines (RFC 2046 §5.1.1).
struct Split {
  std::vector<sv> parts;
  bool closed = false;  // the close delimiter was seen
};

class ArfParser {
 public:
  explicit ArfParser(sv token_header) : token_header_(token_header) {}

  Result<ArfReport> Run(sv message);

 private:
  void Note(std::string n) {
    if (notes_.size() >= kMaxArfNotes) return;
    if (std::find(notes_.begin(), notes_.end(), n) != notes_.end()) return;
    notes_.push_back(std::move(n));
  }

  // Keeps a decoded buffer alive for the views into it.
  sv Keep(std::string s) {
    arena_.push_back(std::make_unique<std::string>(std::move(s)));
    return *arena_.back();
  }

  Status ReadEntity(sv text, const std::string& where, Entity* e);
  Status Body(const Entity& e, const std::string& where, sv* out);
  Status SplitMultipart(const Entity& e, const std::string& where, Split* out);
  Status Search(const Entity& e, int depth, const std::string& where);
  Status ProcessReport(const Entity& e, int depth, const std::string& where, bool* is_report,
                       ArfReport* out);
  Status ReadFeedbackFields(const Entity& part, const std::string& where, bool last_unclosed,
                            ArfReport* out);
  Status ReadOriginal(const Entity& part, const std::string& where, bool last_unclosed,
                      Original* out);

  const sv token_header_;
  std::vector<std::unique_ptr<std::string>> arena_;
  std::vector<std::string> notes_;
  size_t parts_ = 0;
  bool deep_skipped_ = false;
  int reports_found_ = 0;
  ArfReport report_;
};

// One occurrence of each named field, unfolded; "conflict" when the field
// appears more than once with different values.
struct Single {
  bool present = false;
  bool conflict = false;
  std::string value;
};

Single Once(const HeaderBlock& h, sv name) {
  Single s;
  for (const Field& f : h.fields) {
    if (!EqualsIgnoreCase(f.name, name)) continue;
    std::string v = UnfoldHeader(f.raw);
    if (!s.present) {
      s.present = true;
      s.value = std::move(v);
    } else if (v != s.value) {
      s.conflict = true;
    }
  }
  return s;
}

Status ArfParser::ReadEntity(sv text, const std::string& where, Entity* e) {
  Status st = ParseHeaderBlock(text, where, &e->header);
  if (!st.ok()) return st;
  const Single ct = Once(e->header, "Content-Type");
  if (ct.conflict) return Status::Invalid(where + ": two different Content-Type fields");
  if (ct.present) e->ct = ParseContentType(ct.value);
  const Single cte = Once(e->header, "Content-Transfer-Encoding");
  if (cte.conflict) {
    return Status::Invalid(where + ": two different Content-Transfer-Encoding fields");
  }
  if (cte.present) {
    size_t i = 0;
    SkipCfws(cte.value, &i);
    size_t b = i;
    while (i < cte.value.size() && TokenChar(cte.value[i])) ++i;
    e->cte = AsciiLower(sv(cte.value).substr(b, i - b));
  }
  return Status::Ok();
}

Status ArfParser::Body(const Entity& e, const std::string& where, sv* out) {
  const std::string& c = e.cte;
  if (c.empty() || c == "7bit" || c == "8bit" || c == "binary") {
    *out = e.header.body;
  } else if (c == "base64") {
    *out = Keep(DecodeBase64(e.header.body));
  } else if (c == "quoted-printable") {
    *out = Keep(DecodeQuotedPrintable(e.header.body));
  } else {
    return Status::Invalid(where + ": unsupported Content-Transfer-Encoding \"" + Printable(c, kMaxQuoted) +
                           "\"");
  }
  return Status::Ok();
}

Status ArfParser::SplitMultipart(const Entity& e, const std::string& where, Split* out) {
  *out = Split{};
  const std::string* bp = e.ct.Get("boundary");
  if (e.ct.Conflicted("boundary")) {
    return Status::Invalid(where + ": two different boundary parameters");
  }
  if (bp == nullptr || bp->empty()) {
    return Status::Invalid(where + ": " + e.ct.Full() + " has no boundary parameter");
  }
  const sv boundary = *bp;
  if (boundary.size() > kMaxBoundary) {
    return Status::Invalid(where + ": multipart boundary longer than 200 bytes");
  }
  sv body;
  Status st = Body(e, where, &body);
  if (!st.ok()) return st;

  bool in_part = false;
  size_t part_start = 0;
  size_t pos = 0;
  while (pos < body.size()) {
    const size_t nl = body.find('\n', pos);
    const size_t next = nl == sv::npos ? body.size() : nl + 1;
    size_t end = nl == sv::npos ? body.size() : nl;
    if (nl != sv::npos && end > pos && body[end - 1] == '\r') --end;
    sv line = body.substr(pos, end - pos);
    if (line.size() >= 2 + boundary.size() && line[0] == '-' && line[1] == '-' &&
        line.substr(2, boundary.size()) == boundary) {
      sv rest = line.substr(2 + boundary.size());
      const bool close = rest.size() >= 2 && rest[0] == '-' && rest[1] == '-';
      if (close) rest.remove_prefix(2);
      // Only transport padding may follow (RFC 2046 §5.1.1); anything else
      // means a longer boundary ("--abc" is no delimiter of "--abcdef").
      if (TrimWsp(rest).empty()) {
        if (in_part) {
          // The line break before the delimiter belongs to the delimiter.
          size_t part_end = pos;
          if (part_end > part_start && body[part_end - 1] == '\n') --part_end;
          if (part_end > part_start && body[part_end - 1] == '\r') --part_end;
          out->parts.push_back(body.substr(part_start, part_end - part_start));
        }
        if (close) {
          out->closed = true;
          return Status::Ok();
        }
        if (++parts_ > kMaxArfParts) return Status::Invalid("more than 100 MIME parts");
        in_part = true;
        part_start = next;
      }
    }
    pos = next;
  }
  if (in_part) {
    out->parts.push_back(body.substr(part_start));
    Note("multipart without close delimiter");
  }
  return Status::Ok();
}

Status ArfParser::Search(const Entity& e, int depth, const std::string& where) {
  if (e.ct.type == "multipart" && e.ct.subtype == "report") {
    if (e.ct.Conflicted("report-type")) {
      return Status::Invalid(where + ": two different report-type parameters");
    }
    const std::string* rt = e.ct.Get("report-type");
    const std::string type = rt == nullptr ? "" : AsciiLower(*rt);
    if (!type.empty() && type != "feedback-report") return Status::Ok();  // a DSN, an MDN...
    bool is_report = false;
    ArfReport r;
    Status st = ProcessReport(e, depth, where, &is_report, &r);
    if (!st.ok()) return st;
    if (!is_report) return Status::Ok();
    if (++reports_found_ > 1) {
      return Status::Invalid("message holds more than one feedback report");
    }
    report_ = std::move(r);
    return Status::Ok();
  }
  const bool multipart = e.ct.type == "multipart";
  const bool attached = e.ct.Is("message", "rfc822");
  if (!multipart && !attached) return Status::Ok();
  if (depth + 1 > kMaxArfDepth) {
    deep_skipped_ = true;
    return Status::Ok();
  }
  if (attached) {
    sv inner;
    Status st = Body(e, where, &inner);
    if (!st.ok()) return st;
    Entity m;
    const std::string w = where + " > attached message";
    st = ReadEntity(inner, w, &m);
    if (!st.ok()) return st;
    return Search(m, depth + 1, w);
  }
  Split split;
  Status st = SplitMultipart(e, where, &split);
  if (!st.ok()) return st;
  for (size_t i = 0; i < split.parts.size(); ++i) {
    Entity part;
    const std::string w = where + " > part " + std::to_string(i + 1);
    st = ReadEntity(split.parts[i], w, &part);
    if (!st.ok()) return st;
    st = Search(part, depth + 1, w);
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

Status ArfParser::ProcessReport(const Entity& e, int depth, const std::string& where,
                                bool* is_report, ArfReport* out) {
  const std::string* rt = e.ct.Get("report-type");
  const bool typed = rt != nullptr && !rt->empty();
  if (depth + 1 > kMaxArfDepth) {
    deep_skipped_ = true;
    return Status::Ok();
  }
  Split split;
  Status st = SplitMultipart(e, where, &split);
  if (!st.ok()) return st;

  std::vector<Entity> parts(split.parts.size());
  int feedback = -1;
  for (size_t i = 0; i < split.parts.size(); ++i) {
    st = ReadEntity(split.parts[i], where + " > part " + std::to_string(i + 1), &parts[i]);
    if (!st.ok()) return st;
    if (parts[i].ct.Is("message", "feedback-report")) {
      if (feedback >= 0) {
        return Status::Invalid("feedback report has two message/feedback-report parts");
      }
      feedback = static_cast<int>(i);
    }
  }
  if (feedback < 0) {
    if (!typed) return Status::Ok();  // some other multipart/report
    return Status::Invalid("feedback report has no message/feedback-report part");
  }
  *is_report = true;
  if (!typed) Note("multipart/report without report-type");
  const size_t last = split.parts.size() - 1;
  const auto unclosed_last = [&](size_t i) { return !split.closed && i == last; };

  st = ReadFeedbackFields(parts[static_cast<size_t>(feedback)], "feedback-report part",
                          unclosed_last(static_cast<size_t>(feedback)), out);
  if (!st.ok()) return st;

  bool first = true;
  for (size_t i = 0; i < parts.size(); ++i) {
    const ContentType& ct = parts[i].ct;
    const bool headers_only =
        ct.Is("text", "rfc822-headers") || ct.Is("message", "rfc822-headers");
    if (!headers_only && !ct.Is("message", "rfc822")) continue;
    Original o;
    o.headers_only = headers_only;
    st = ReadOriginal(parts[i], "original message part", unclosed_last(i), &o);
    if (!st.ok()) return st;
    if (first) {
      first = false;
      out->has_original = true;
      out->headers_only = o.headers_only;
      out->message_id = std::move(o.message_id);
      out->token = std::move(o.token);
      out->original_from = std::move(o.from);
      out->original_to = std::move(o.to);
      out->original_subject = std::move(o.subject);
      continue;
    }
    if (o.token != out->token) {
      return Status::Invalid("original message parts disagree on the token header");
    }
    if (o.message_id != out->message_id) {
      return Status::Invalid("original message parts disagree on Message-ID");
    }
    out->headers_only = out->headers_only && o.headers_only;
    Note("more than one original message part");
  }
  return Status::Ok();
}

// Skips blank lines at the start of a part's content.
sv SkipBlankLines(sv s, bool* skipped) {
  *skipped = false;
  for (;;) {
    if (!s.empty() && s[0] == '\n') {
      s.remove_prefix(1);
    } else if (s.size() >= 2 && s[0] == '\r' && s[1] == '\n') {
      s.remove_prefix(2);
    } else {
      return s;
    }
    *skipped = true;
  }
}

// "<addr>" -> "addr"; anything else as it is.
std::string StripAngles(std::string v) {
  if (v.size() >= 2 && v.front() == '<') {
    const size_t gt = v.find('>');
    if (gt != std::string::npos && TrimWsp(sv(v).substr(gt + 1)).empty()) {
      return v.substr(1, gt - 1);
    }
  }
  return v;
}

Status ArfParser::ReadFeedbackFields(const Entity& part, const std::string& where,
                                     bool last_unclosed, ArfReport* out) {
  sv content;
  Status st = Body(part, where, &content);
  if (!st.ok()) return st;
  bool skipped;
  content = SkipBlankLines(content, &skipped);
  HeaderBlock fields;
  st = ParseHeaderBlock(content, where, &fields);
  if (!st.ok()) return st;
  if (last_unclosed && !fields.terminated && fields.ends_mid_line) {
    return Status::Invalid("feedback-report part is truncated");
  }
  const HeaderBlock* h = &fields;
  if (!Once(fields, "Feedback-Type").present && Once(part.header, "Feedback-Type").present) {
    // The fields written into the part's own header, without the blank line.
    h = &part.header;
    Note("feedback-report fields in the part header");
  }

  // RFC 5965 §3.1: exactly once. Copies that agree once normalized are
  // harmless; copies that disagree leave no way to tell which is meant.
  bool seen = false;
  for (const Field& f : h->fields) {
    if (!EqualsIgnoreCase(f.name, "Feedback-Type")) continue;
    const std::string v = UnfoldHeader(f.raw);
    size_t i = 0;
    SkipCfws(v, &i);
    const size_t b = i;
    while (i < v.size() && TokenChar(v[i])) ++i;
    std::string t = AsciiLower(sv(v).substr(b, i - b));
    if (t.empty()) return Status::Invalid("feedback report has an empty Feedback-Type field");
    if (seen && t != out->feedback_type) {
      return Status::Invalid("feedback report has two different Feedback-Type fields");
    }
    seen = true;
    out->feedback_type = std::move(t);
  }
  if (!seen) return Status::Invalid("feedback report has no Feedback-Type field");
  Cap(&out->feedback_type, kMaxArfValue);

  // Descriptive fields: the first one, capped.
  const auto first = [&](sv name, std::string* dst) {
    for (const Field& f : h->fields) {
      if (!EqualsIgnoreCase(f.name, name)) continue;
      *dst = UnfoldHeader(f.raw);
      if (Cap(dst, kMaxArfValue)) Note(std::string(name) + " truncated");
      return true;
    }
    return false;
  };
  if (!first("User-Agent", &out->user_agent)) Note("no User-Agent field");
  if (!first("Version", &out->version)) Note("no Version field");
  first("Original-Envelope-Id", &out->original_envelope_id);
  if (!first("Arrival-Date", &out->arrival_date)) first("Received-Date", &out->arrival_date);
  first("Source-IP", &out->source_ip);
  first("Reported-Domain", &out->reported_domain);

  for (const Field& f : h->fields) {
    if (EqualsIgnoreCase(f.name, "Original-Mail-From")) {
      if (!out->original_mail_from.empty()) continue;
      std::string v = StripAngles(UnfoldHeader(f.raw));
      if (v.size() > kMaxArfValue) {
        Note("Original-Mail-From longer than 998 bytes dropped");
      } else {
        out->original_mail_from = std::move(v);
      }
    } else if (EqualsIgnoreCase(f.name, "Original-Rcpt-To")) {
      std::string v = StripAngles(UnfoldHeader(f.raw));
      if (v.empty()) continue;
      if (v.size() > kMaxArfValue) {
        Note("Original-Rcpt-To longer than 998 bytes dropped");
      } else if (out->original_rcpt_to.size() >= kMaxArfRecipients) {
        Note("more than 100 Original-Rcpt-To fields; the rest dropped");
      } else {
        out->original_rcpt_to.push_back(std::move(v));
      }
    } else if (EqualsIgnoreCase(f.name, "Incidents")) {
      const std::string v = UnfoldHeader(f.raw);
      uint64_t n = 0;
      bool ok = !v.empty() && v.size() <= 10;
      for (char c : v) {
        if (c < '0' || c > '9') ok = false;
        if (ok) n = n * 10 + static_cast<uint64_t>(c - '0');
      }
      if (ok && n >= 1 && n <= UINT32_MAX) {
        out->incidents = static_cast<uint32_t>(n);
      } else {
        Note("unreadable Incidents field ignored");
      }
    }
  }
  return Status::Ok();
}

// The msg-id of a Message-ID value (RFC 5322 §3.6.4): comments and
// whitespace dropped, the angle brackets kept. *ok is false for a value
// holding more than one id; an unreadable value gives "".
std::string MessageId(sv v, bool* ok) {
  *ok = true;
  std::string s;  // v without comments (outside quotes and angle brackets)
  int depth = 0;
  bool quoted = false, angled = false;
  for (size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    if (depth > 0) {
      if (c == '\\') {
        ++i;
      } else if (c == '(') {
        ++depth;
      } else if (c == ')') {
        --depth;
      }
      continue;
    }
    if (quoted) {
      if (c == '\\' && i + 1 < v.size()) {
        s.push_back(c);
        s.push_back(v[++i]);
        continue;
      }
      if (c == '"') quoted = false;
    } else if (c == '"') {
      quoted = true;
    } else if (c == '<') {
      angled = true;
    } else if (c == '>') {
      angled = false;
    } else if (c == '(' && !angled) {
      depth = 1;
      s.push_back(' ');  // a comment separates words
      continue;
    }
    s.push_back(c);
  }
  const sv t = TrimWsp(s);
  if (t.empty()) return "";
  if (t[0] == '<') {
    const size_t gt = t.find('>');
    if (gt == sv::npos) return "";  // "<abc@exa": cut off
    if (!TrimWsp(t.substr(gt + 1)).empty()) {
      *ok = false;
      return "";
    }
    return std::string(t.substr(0, gt + 1));
  }
  for (char c : t) {
    if (IsWsp(c) || c == '<' || c == '>') return "";
  }
  return std::string(t);
}

Status ArfParser::ReadOriginal(const Entity& part, const std::string& where, bool last_unclosed,
                               Original* out) {
  sv content;
  Status st = Body(part, where, &content);
  if (!st.ok()) return st;
  bool skipped;
  content = SkipBlankLines(content, &skipped);
  if (skipped) Note("blank lines before the original message's header block");
  HeaderBlock h;
  st = ParseHeaderBlock(content, where, &h);
  if (!st.ok()) return st;
  if (last_unclosed && !h.terminated) {
    // Without a close delimiter and without the blank line after its
    // header block, the last field may have been cut anywhere.
    return Status::Invalid("original message part is truncated");
  }
  if (!token_header_.empty()) {
    const Single t = Once(h, token_header_);
    if (t.conflict) {
      return Status::Invalid("original message has two different " +
                             std::string(token_header_) + " fields");
    }
    if (t.value.size() > kMaxArfValue) {
      return Status::Invalid("original message's " + std::string(token_header_) +
                             " field is longer than 998 bytes");
    }
    out->token = t.value;
  }
  bool seen = false;
  for (const Field& f : h.fields) {
    if (!EqualsIgnoreCase(f.name, "Message-ID")) continue;
    const std::string v = UnfoldHeader(f.raw);
    if (v.size() > kMaxArfValue) {
      return Status::Invalid("original message's Message-ID field is longer than 998 bytes");
    }
    bool single;
    std::string id = MessageId(v, &single);
    if (!single) return Status::Invalid("original message's Message-ID holds more than one id");
    if (seen && id != out->message_id) {
      return Status::Invalid("original message has two different Message-ID fields");
    }
    if (!seen && id.empty()) Note("unreadable Message-ID ignored");
    seen = true;
    out->message_id = std::move(id);
  }
  const auto first = [&](sv name, std::string* dst) {
    for (const Field& f : h.fields) {
      if (!EqualsIgnoreCase(f.name, name)) continue;
      *dst = UnfoldHeader(f.raw);
      if (Cap(dst, kMaxArfValue)) Note("original " + std::string(name) + " truncated");
      return;
    }
  };
  first("From", &out->from);
  first("To", &out->to);
  first("Subject", &out->subject);
  return Status::Ok();
}

Result<ArfReport> ArfParser::Run(sv message) {
  // pipe(8) with flag F, and mbox files, start with "From sender date".
  if (message.substr(0, 5) == "From ") {
    const size_t nl = message.find('\n');
    message = nl == sv::npos ? sv() : message.substr(nl + 1);
  }
  Entity top;
  Status st = ReadEntity(message, "top-level", &top);
  if (!st.ok()) return st;
  const ContentType& ct = top.ct;
  if (ct.Is("multipart", "report")) {
    if (ct.Conflicted("report-type")) {
      return Status::Invalid("top-level: two different report-type parameters");
    }
    const std::string* rt = ct.Get("report-type");
    if (rt != nullptr && !rt->empty() && AsciiLower(*rt) != "feedback-report") {
      return Status::Invalid("not a feedback report: report-type is " + Printable(*rt, kMaxQuoted));
    }
  } else if (ct.type != "multipart" && !ct.Is("message", "rfc822")) {
    return Status::Invalid("not a feedback report: top-level Content-Type is " +
                           Printable(ct.Full(), kMaxQuoted));
  }
  st = Search(top, 0, "top-level");
  if (!st.ok()) return st;
  if (reports_found_ == 0) {
    std::string m = "not a feedback report: " + Printable(ct.Full(), kMaxQuoted);
    m += ct.Is("multipart", "report")
             ? " has no report-type and no message/feedback-report part"
             : " holds no feedback report";
    if (deep_skipped_) m += " within nesting depth 4";
    return Status::Invalid(std::move(m));
  }
  report_.notes = std::move(notes_);
  return std::move(report_);
}

bool ValidFieldName(sv name) {
  if (name.empty() || name.size() > kMaxTokenHeaderName) return false;
  return std::all_of(name.begin(), name.end(), FieldNameChar);
}

}  // namespace

Result<ArfReport> ParseArf(std::string_view message, std::string_view token_header) {
  if (message.size() > kMaxArfMessage) return Status::Invalid("message exceeds 16 MiB");
  if (!token_header.empty() && !ValidFieldName(token_header)) {
    return Status::Invalid("token header name is not a valid field name");
  }
  ArfParser parser(token_header);
  return parser.Run(message);
}

}  // namespace senderguard
