#include "senderguard/auth/dns_wire.h"

#include "senderguard/auth/dns.h"

namespace senderguard::dns {

bool EncodeName(std::string_view name, std::string* out) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string wire;
  while (!name.empty()) {
    const size_t dot = name.find('.');
    const std::string_view label = name.substr(0, dot);
    if (label.empty() || label.size() > 63) return false;
    wire += static_cast<char>(label.size());
    wire.append(label);
    if (dot == std::string_view::npos) break;
    name.remove_prefix(dot + 1);
    if (name.empty()) return false;  // "a..": an empty last label
  }
  wire += '\0';
  if (wire.size() > 255) return false;
  out->append(wire);
  return true;
}

namespace {

void PutU16(std::string* out, unsigned v) {
  *out += static_cast<char>((v >> 8) & 0xff);
  *out += static_cast<char>(v & 0xff);
}

}  // namespace

std::string BuildTxtReply(std::string_view qname, int rcode,
                          const std::vector<std::string_view>& rdata) {
  std::string m;
  PutU16(&m, 0);                         // ID
  m += static_cast<char>(0x81);          // QR, RD
  m += static_cast<char>(0x80 | rcode);  // RA, RCODE
  PutU16(&m, 1);                         // QDCOUNT
  PutU16(&m, static_cast<unsigned>(rdata.size()));
  PutU16(&m, 0);  // NSCOUNT
  PutU16(&m, 0);  // ARCOUNT
  if (!EncodeName(qname, &m)) m += '\0';
  PutU16(&m, kTypeTxt);
  PutU16(&m, kClassIn);
  for (const std::string_view r : rdata) {
    m += static_cast<char>(0xc0);
    m += static_cast<char>(0x0c);
    PutU16(&m, kTypeTxt);
    PutU16(&m, kClassIn);
    PutU16(&m, 0);  // TTL (libopendkim keeps no cache here)
    PutU16(&m, 0);
    PutU16(&m, static_cast<unsigned>(r.size()));
    m.append(r);
  }
  return m;
}

}  // namespace senderguard::dns
