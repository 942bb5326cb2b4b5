// The consortium's certificate authority: one CA for the whole consortium, and a key and
// certificate per hub and per site node, for HTTPS with mutual TLS (docs/pki.md). Keys are
// EC P-256; files are PEM; private keys are written readable by their owner only.
#ifndef PASSERELLE_NET_PKI_H_
#define PASSERELLE_NET_PKI_H_

#include <string>
#include <vector>

#include "passerelle/base/status.h"

namespace passerelle::net {

enum class CertificateRole { kHub, kNode };

struct AuthorityOptions {
  std::string name = "Passerelle consortium CA";
  int days = 3650;
};

// Creates DIR/ca.key and DIR/ca.crt. AlreadyExists when DIR holds a CA.
Status CreateAuthority(const std::string& dir, const AuthorityOptions& options);

struct IssueOptions {
  std::string name;  // hub or site name: the certificate's common name
  CertificateRole role = CertificateRole::kNode;
  int days = 825;
  // Validity starts this many days before now (tests use it, with `days`, for expired ones).
  int backdate_days = 0;
  // Subject alternative names of a hub: DNS names and IP addresses it is reached at.
  std::vector<std::string> dns_names = {"localhost"};
  std::vector<std::string> ip_addresses = {"127.0.0.1"};
};

// Writes OUT_DIR/NAME.key and OUT_DIR/NAME.crt signed by the CA in CA_DIR.
Status IssueCertificate(const std::string& ca_dir, const std::string& out_dir,
                        const IssueOptions& options);

struct CertificateInfo {
  std::string subject;    // common name
  std::string role;       // "hub" or "node"
  std::string not_after;  // UTC, as OpenSSL prints it
  std::string sha256;     // fingerprint of the DER certificate, hex
};

// Checks CERT_PATH against the CA certificate: signature, validity period, role, and the CA's
// revocation list when one is given. OK with the certificate's details; PermissionDenied naming
// the reason (another CA, expired, not yet valid, revoked).
Result<CertificateInfo> VerifyCertificate(const std::string& ca_cert_path,
                                          const std::string& cert_path,
                                          const std::string& crl_path = "");

// The CA's revocation list, CA_DIR/crl.pem, signed with its key: CreateAuthority writes it
// empty; RevokeCertificate adds CERT_PATH's certificate (kept on every later revocation).
// Hub and nodes refuse the certificates it lists (TlsIdentity::crl). InvalidArgument when the
// certificate is not one of this CA's.
std::string RevocationListPath(const std::string& ca_dir);
Status RevokeCertificate(const std::string& ca_dir, const std::string& cert_path);

// The revocation list that goes with a CA certificate: crl.pem in the same folder, when it is
// there ("" otherwise).
std::string RevocationListBeside(const std::string& ca_cert_path);

}  // namespace passerelle::net

#endif  // PASSERELLE_NET_PKI_H_
