// The `pki` commands: the consortium CA and the certificates of the hub and the site nodes.
#include <iostream>

#include "apps/passerelle/commands.h"
#include "passerelle/net/pki.h"

namespace passerelle::cli {

Status PkiInit(const PkiOptions& options) {
  net::AuthorityOptions authority;
  if (!options.name.empty()) authority.name = options.name;
  if (options.days > 0) authority.days = options.days;
  RETURN_IF_ERROR(net::CreateAuthority(options.dir, authority));
  std::cout << "Created certificate authority '" << authority.name << "' in " << options.dir
            << " (ca.crt to distribute, ca.key to keep offline)\n";
  return Status::Ok();
}

Status PkiIssue(const PkiOptions& options) {
  net::IssueOptions issue;
  issue.name = options.name;
  if (options.role != "node" && options.role != "hub") {
    return InvalidArgument("--role must be node or hub");
  }
  issue.role = options.role == "hub" ? net::CertificateRole::kHub : net::CertificateRole::kNode;
  if (options.days > 0) issue.days = options.days;
  // Where researchers and nodes reach the hub; localhost and 127.0.0.1 are always included.
  for (const std::string& d : options.dns_names) issue.dns_names.push_back(d);
  for (const std::string& ip : options.ip_addresses) issue.ip_addresses.push_back(ip);
  const std::string out = options.out.empty() ? options.dir : options.out;
  RETURN_IF_ERROR(net::IssueCertificate(options.dir, out, issue));
  ASSIGN_OR_RETURN(
      net::CertificateInfo info,
      net::VerifyCertificate(options.dir + "/ca.crt", out + "/" + issue.name + ".crt"));
  std::cout << "Issued " << info.role << " certificate '" << info.subject << "': " << out << "/"
            << issue.name << ".crt and .key, valid until " << info.not_after << "\n  sha256 "
            << info.sha256 << "\n";
  return Status::Ok();
}

Status PkiVerify(const PkiOptions& options) {
  ASSIGN_OR_RETURN(net::CertificateInfo info,
                   net::VerifyCertificate(options.dir + "/ca.crt", options.cert,
                                          net::RevocationListBeside(options.dir + "/ca.crt")));
  std::cout << options.cert << ": " << info.role << " certificate '" << info.subject
            << "', valid until " << info.not_after << ", sha256 " << info.sha256 << "\n";
  return Status::Ok();
}

Status PkiRevoke(const PkiOptions& options) {
  RETURN_IF_ERROR(net::RevokeCertificate(options.dir, options.cert));
  std::cout << "Revoked " << options.cert << ": give " << net::RevocationListPath(options.dir)
            << " to the hub and every node (beside their ca.crt) and restart them\n";
  return Status::Ok();
}

}  // namespace passerelle::cli
