// dkim_sign: a TEST TOOL, not product code. Signs a message with DKIM
// (libopendkim, rsa-sha256) so end-to-end tests can submit signed mail and
// check what the milter's verifier says about it.
//
// SECURITY: reads the message on stdin and the private key from the file
// named by -k; writes only to stdout/stderr. Meant for test keys.
//
// Usage: dkim_sign -d DOMAIN -s SELECTOR -k KEYFILE [-c relaxed|simple] [--tamper-body]
//          < message > signed_message
//   KEYFILE: a PEM private key, e.g. SELECTOR.private written by
//     opendkim-genkey -b 1024 -d DOMAIN -s SELECTOR -D DIR
//     (SELECTOR.txt beside it is the zone line to publish).
//   The message may use LF or CRLF line ends. The output is the message with
//   the DKIM-Signature field prepended, every line ending in LF (sendmail -t
//   and swaks take that). h= covers From, Subject, Date, To and Message-ID
//   when present; c= is relaxed/relaxed (default) or simple/simple.
//   --tamper-body appends a line to the body after signing: the signature
//   then fails with a body hash mismatch.
// Exit status: 0 on success, 1 on any failure (one line on stderr), 2 on a
// usage error.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>

#include "dkim_signer.h"

namespace {

using senderguard::test_support::SignMessage;
using senderguard::test_support::SignOptions;
using senderguard::test_support::ToLf;

int Usage(const std::string& why) {
  std::cerr << "dkim_sign: " << why << "\n"
            << "usage: dkim_sign -d DOMAIN -s SELECTOR -k KEYFILE [-c relaxed|simple] "
               "[--tamper-body] < message > signed_message\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  SignOptions options;
  std::string key_file;
  bool tamper_body = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    if (arg == "-d") {
      if (!value(&options.domain)) return Usage("-d needs a domain");
    } else if (arg == "-s") {
      if (!value(&options.selector)) return Usage("-s needs a selector");
    } else if (arg == "-k") {
      if (!value(&key_file)) return Usage("-k needs a key file");
    } else if (arg == "-c") {
      std::string c;
      if (!value(&c)) return Usage("-c needs relaxed or simple");
      if (c == "relaxed") {
        options.relaxed = true;
      } else if (c == "simple") {
        options.relaxed = false;
      } else {
        return Usage("-c must be relaxed or simple, not \"" + c + "\"");
      }
    } else if (arg == "--tamper-body") {
      tamper_body = true;
    } else {
      return Usage("unknown argument \"" + std::string(arg) + "\"");
    }
  }
  if (options.domain.empty() || options.selector.empty() || key_file.empty()) {
    return Usage("-d, -s and -k are required");
  }

  std::ifstream key_in(key_file, std::ios::binary);
  if (!key_in) {
    std::cerr << "dkim_sign: cannot read key file " << key_file << "\n";
    return 1;
  }
  options.private_key_pem.assign(std::istreambuf_iterator<char>(key_in),
                                 std::istreambuf_iterator<char>());
  if (options.private_key_pem.find("PRIVATE KEY-----") == std::string::npos) {
    std::cerr << "dkim_sign: " << key_file << " is not a PEM private key\n";
    return 1;
  }

  std::string message(std::istreambuf_iterator<char>(std::cin), {});
  if (std::cin.bad()) {
    std::cerr << "dkim_sign: reading the message failed\n";
    return 1;
  }
  if (message.empty()) {
    std::cerr << "dkim_sign: empty message on stdin\n";
    return 1;
  }

  std::string field;
  std::string error;
  if (!SignMessage(options, message, &field, &error)) {
    std::cerr << "dkim_sign: " << error << "\n";
    return 1;
  }

  std::string out = ToLf(field) + "\n" + ToLf(message);
  if (tamper_body) {
    if (!out.empty() && out.back() != '\n') out += '\n';
    // A message without a body gets one: the empty line, then the text.
    if (out.find("\n\n") == std::string::npos) out += '\n';
    out += "This line was added after signing.\n";
  }
  std::cout.write(out.data(), static_cast<std::streamsize>(out.size()));
  std::cout.flush();
  if (!std::cout) {
    std::cerr << "dkim_sign: writing the signed message failed\n";
    return 1;
  }
  return 0;
}
