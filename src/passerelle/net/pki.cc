#include "passerelle/net/pki.h"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "passerelle/base/text.h"

namespace passerelle::net {
namespace {

namespace fs = std::filesystem;

// RAII for OpenSSL objects.
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct StoreFree {
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
};
struct StoreCtxFree {
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct CrlFree {
  void operator()(X509_CRL* p) const { X509_CRL_free(p); }
};
using Crl = std::unique_ptr<X509_CRL, CrlFree>;
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Cert = std::unique_ptr<X509, X509Free>;

std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  if (code == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return buf;
}

Result<Pkey> NewKey() {
  Pkey key(EVP_EC_gen("P-256"));
  if (!key) return Internal("cannot generate an EC P-256 key: " + OpenSslError());
  return key;
}

Status WritePem(const std::string& path, bool private_key, EVP_PKEY* key, X509* cert) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return Unavailable(path + ": cannot write");
  if (private_key) ::chmod(path.c_str(), 0600);
  const int ok = private_key ? PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr)
                             : PEM_write_X509(f, cert);
  std::fclose(f);
  if (!ok) return Internal(path + ": cannot write PEM: " + OpenSslError());
  return Status::Ok();
}

Result<Pkey> ReadKey(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return NotFound(path + ": cannot read the private key");
  Pkey key(PEM_read_PrivateKey(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  if (!key) return InvalidArgument(path + ": not a PEM private key");
  return key;
}

Result<Cert> ReadCert(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return NotFound(path + ": cannot read the certificate");
  Cert cert(PEM_read_X509(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  if (!cert) return InvalidArgument(path + ": not a PEM certificate");
  return cert;
}

Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) return Internal("certificate extension '" + value + "': " + OpenSslError());
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return Status::Ok();
}

// An unsigned certificate for `key` named `common_name`, valid from now - backdate to
// now - backdate + days, issued by `issuer` (by itself when issuer is null).
Result<Cert> MakeCertificate(EVP_PKEY* key, const std::string& common_name, int days,
                             int backdate_days, X509* issuer) {
  Cert cert(X509_new());
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  const long day = 24L * 3600L;
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -backdate_days * day);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), (static_cast<long>(days) - backdate_days) * day);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("Passerelle"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509* issuer_cert = issuer ? issuer : cert.get();
  if (!issuer) {
    RETURN_IF_ERROR(
        AddExtension(cert.get(), issuer_cert, NID_basic_constraints, "critical,CA:TRUE"));
    RETURN_IF_ERROR(
        AddExtension(cert.get(), issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign"));
  }
  RETURN_IF_ERROR(AddExtension(cert.get(), issuer_cert, NID_subject_key_identifier, "hash"));
  if (issuer) {
    RETURN_IF_ERROR(AddExtension(cert.get(), issuer_cert, NID_authority_key_identifier, "keyid"));
  }
  return cert;
}

Status Sign(X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, EVP_sha256()) == 0) {
    return Internal("cannot sign the certificate: " + OpenSslError());
  }
  return Status::Ok();
}

std::string CommonName(X509* cert) {
  char buf[256] = {0};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf);
  return buf;
}

Result<Crl> ReadCrl(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return NotFound(path + ": cannot read the revocation list");
  Crl crl(PEM_read_X509_CRL(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  if (!crl) return InvalidArgument(path + ": not a PEM certificate revocation list");
  return crl;
}

// Writes CA_DIR/crl.pem: the entries of `previous` (when given) and the serial of `revoked`
// (when given), signed by the CA, valid for as long as the CA.
Status WriteRevocationList(const std::string& ca_dir, const X509_CRL* previous,
                           const X509* revoked) {
  ASSIGN_OR_RETURN(Cert ca, ReadCert((fs::path(ca_dir) / "ca.crt").string()));
  ASSIGN_OR_RETURN(Pkey ca_key, ReadKey((fs::path(ca_dir) / "ca.key").string()));
  Crl crl(X509_CRL_new());
  X509_CRL_set_version(crl.get(), 1);  // v2
  X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca.get()));
  ASN1_TIME* now = X509_gmtime_adj(nullptr, 0);
  X509_CRL_set1_lastUpdate(crl.get(), now);
  X509_CRL_set1_nextUpdate(crl.get(), X509_get0_notAfter(ca.get()));
  auto add = [&](const ASN1_INTEGER* serial, const ASN1_TIME* when) {
    X509_REVOKED* entry = X509_REVOKED_new();
    X509_REVOKED_set_serialNumber(entry, const_cast<ASN1_INTEGER*>(serial));
    X509_REVOKED_set_revocationDate(entry, const_cast<ASN1_TIME*>(when));
    X509_CRL_add0_revoked(crl.get(), entry);
  };
  if (previous) {
    STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(const_cast<X509_CRL*>(previous));
    for (int i = 0; i < sk_X509_REVOKED_num(entries); ++i) {
      const X509_REVOKED* e = sk_X509_REVOKED_value(entries, i);
      add(X509_REVOKED_get0_serialNumber(e), X509_REVOKED_get0_revocationDate(e));
    }
  }
  if (revoked) add(X509_get0_serialNumber(revoked), now);
  ASN1_TIME_free(now);
  X509_CRL_sort(crl.get());
  if (X509_CRL_sign(crl.get(), ca_key.get(), EVP_sha256()) == 0) {
    return Internal("cannot sign the revocation list: " + OpenSslError());
  }
  const std::string path = RevocationListPath(ca_dir), partial = path + ".partial";
  std::FILE* f = std::fopen(partial.c_str(), "wb");
  if (!f) return Unavailable(partial + ": cannot write");
  const int ok = PEM_write_X509_CRL(f, crl.get());
  std::fclose(f);
  if (!ok || std::rename(partial.c_str(), path.c_str()) != 0) {
    return Internal(path + ": cannot write the revocation list");
  }
  return Status::Ok();
}

}  // namespace

std::string RevocationListPath(const std::string& ca_dir) {
  return (fs::path(ca_dir) / "crl.pem").string();
}

std::string RevocationListBeside(const std::string& ca_cert_path) {
  const fs::path crl = fs::path(ca_cert_path).parent_path() / "crl.pem";
  std::error_code ec;
  return fs::exists(crl, ec) ? crl.string() : "";
}

Status RevokeCertificate(const std::string& ca_dir, const std::string& cert_path) {
  ASSIGN_OR_RETURN(Cert cert, ReadCert(cert_path));
  ASSIGN_OR_RETURN(Cert ca, ReadCert((fs::path(ca_dir) / "ca.crt").string()));
  Pkey ca_public(X509_get_pubkey(ca.get()));
  if (X509_verify(cert.get(), ca_public.get()) != 1) {
    return InvalidArgument(cert_path + ": certificate of '" + CommonName(cert.get()) +
                           "' was not issued by the CA in " + ca_dir);
  }
  Crl previous;
  if (fs::exists(RevocationListPath(ca_dir))) {
    ASSIGN_OR_RETURN(previous, ReadCrl(RevocationListPath(ca_dir)));
  }
  return WriteRevocationList(ca_dir, previous.get(), cert.get());
}

Status CreateAuthority(const std::string& dir, const AuthorityOptions& options) {
  const fs::path key_path = fs::path(dir) / "ca.key", cert_path = fs::path(dir) / "ca.crt";
  if (fs::exists(key_path) || fs::exists(cert_path)) {
    return AlreadyExists(dir + " already holds a certificate authority");
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Unavailable(dir + ": cannot create the folder: " + ec.message());
  ASSIGN_OR_RETURN(Pkey key, NewKey());
  ASSIGN_OR_RETURN(Cert cert, MakeCertificate(key.get(), options.name, options.days, 0, nullptr));
  RETURN_IF_ERROR(Sign(cert.get(), key.get()));
  RETURN_IF_ERROR(WritePem(key_path.string(), true, key.get(), nullptr));
  RETURN_IF_ERROR(WritePem(cert_path.string(), false, nullptr, cert.get()));
  return WriteRevocationList(dir, nullptr, nullptr);  // empty, to travel with ca.crt
}

Status IssueCertificate(const std::string& ca_dir, const std::string& out_dir,
                        const IssueOptions& options) {
  if (options.name.empty() || options.name.find_first_of("/\\ ") != std::string::npos) {
    return InvalidArgument("certificate name '" + options.name + "' must be a plain name");
  }
  ASSIGN_OR_RETURN(Pkey ca_key, ReadKey((fs::path(ca_dir) / "ca.key").string()));
  ASSIGN_OR_RETURN(Cert ca_cert, ReadCert((fs::path(ca_dir) / "ca.crt").string()));
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) return Unavailable(out_dir + ": cannot create the folder: " + ec.message());
  ASSIGN_OR_RETURN(Pkey key, NewKey());
  ASSIGN_OR_RETURN(Cert cert, MakeCertificate(key.get(), options.name, options.days,
                                              options.backdate_days, ca_cert.get()));
  RETURN_IF_ERROR(AddExtension(cert.get(), ca_cert.get(), NID_basic_constraints, "CA:FALSE"));
  RETURN_IF_ERROR(AddExtension(cert.get(), ca_cert.get(), NID_key_usage,
                               "critical,digitalSignature,keyAgreement"));
  const bool hub = options.role == CertificateRole::kHub;
  RETURN_IF_ERROR(AddExtension(cert.get(), ca_cert.get(), NID_ext_key_usage,
                               hub ? "serverAuth,clientAuth" : "clientAuth"));
  // The role travels in the certificate, so a node certificate cannot serve as a hub.
  RETURN_IF_ERROR(AddExtension(cert.get(), ca_cert.get(), NID_netscape_comment,
                               hub ? "passerelle-role=hub" : "passerelle-role=node"));
  if (hub) {
    std::string san;
    for (const std::string& d : options.dns_names) san += (san.empty() ? "" : ",") + ("DNS:" + d);
    for (const std::string& ip : options.ip_addresses) {
      san += (san.empty() ? "" : ",") + ("IP:" + ip);
    }
    if (!san.empty()) {
      RETURN_IF_ERROR(AddExtension(cert.get(), ca_cert.get(), NID_subject_alt_name, san));
    }
  }
  RETURN_IF_ERROR(Sign(cert.get(), ca_key.get()));
  const fs::path base = fs::path(out_dir) / options.name;
  RETURN_IF_ERROR(WritePem(base.string() + ".key", true, key.get(), nullptr));
  return WritePem(base.string() + ".crt", false, nullptr, cert.get());
}

Result<CertificateInfo> VerifyCertificate(const std::string& ca_cert_path,
                                          const std::string& cert_path,
                                          const std::string& crl_path) {
  ASSIGN_OR_RETURN(Cert ca, ReadCert(ca_cert_path));
  ASSIGN_OR_RETURN(Cert cert, ReadCert(cert_path));
  std::unique_ptr<X509_STORE, StoreFree> store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), ca.get());
  if (!crl_path.empty()) {
    ASSIGN_OR_RETURN(Crl crl, ReadCrl(crl_path));
    X509_STORE_add_crl(store.get(), crl.get());
    X509_STORE_set_flags(store.get(), X509_V_FLAG_CRL_CHECK);
  }
  std::unique_ptr<X509_STORE_CTX, StoreCtxFree> ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr);
  if (X509_verify_cert(ctx.get()) != 1) {
    const int error = X509_STORE_CTX_get_error(ctx.get());
    return PermissionDenied(cert_path + ": certificate of '" + CommonName(cert.get()) +
                            "' refused: " + X509_verify_cert_error_string(error));
  }
  CertificateInfo info;
  info.subject = CommonName(cert.get());
  const int index = X509_get_ext_by_NID(cert.get(), NID_netscape_comment, -1);
  if (index >= 0) {
    ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(X509_get_ext(cert.get(), index));
    const std::string comment(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                              ASN1_STRING_length(data));
    const size_t at = comment.find("passerelle-role=");
    if (at != std::string::npos) info.role = comment.substr(at + 16);
  }
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  ASN1_TIME_print(bio.get(), X509_get0_notAfter(cert.get()));
  char* text = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &text);
  info.not_after.assign(text, static_cast<size_t>(length));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_length = 0;
  X509_digest(cert.get(), EVP_sha256(), digest, &digest_length);
  info.sha256 = HexEncode(std::string_view(reinterpret_cast<const char*>(digest), digest_length));
  return info;
}

}  // namespace passerelle::net
