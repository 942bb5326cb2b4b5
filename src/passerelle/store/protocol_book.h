// The protocols a site node has received from the hub and what its custodian decided on each
// (docs/protocols.md): the exact text, the automatic review's flags, the changes from the
// previous version, and the decision with its reason. With scope = "protocol" the node answers
// only tasks of an approved protocol. Kept in its own SQLite file, which the node and the
// custodian's commands open side by side.
//
//   DIR/protocols.sqlite    this book (created at the first Open)
#ifndef PASSERELLE_STORE_PROTOCOL_BOOK_H_
#define PASSERELLE_STORE_PROTOCOL_BOOK_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "passerelle/base/status.h"

namespace passerelle::store {

class Database;

struct ProtocolRecord {
  int64_t id = 0;  // the hub's number for this version
  std::string name;
  int64_t version = 0;
  std::string researcher;   // who submitted it
  std::string text;         // exactly as the hub signed it (JSON)
  std::string digest;       // SHA-256 of the text
  std::string received_at;  // UTC, ISO 8601
  std::string review;       // the automatic review: JSON [{analysis, rule, flag}]
  std::string changes;      // from the previous version: JSON [line]
  std::string status;       // pending, approved, rejected
  std::string reason, decided_by, decided_at;
  bool reported = false;  // the decision has reached the hub
};

class ProtocolBook {
 public:
  static Result<std::unique_ptr<ProtocolBook>> Open(const std::string& dir);
  ~ProtocolBook();

  // Keeps a protocol received (status as given: pending, or rejected by the review). A version
  // already kept stays as it is: AlreadyExists.
  Status Receive(const ProtocolRecord& protocol);
  Result<std::optional<ProtocolRecord>> Get(int64_t id);
  // Every protocol kept, newest first.
  Result<std::vector<ProtocolRecord>> All();
  // The newest version of `name` kept before `id` (for the changes), if any.
  Result<std::optional<ProtocolRecord>> Previous(const std::string& name, int64_t id);
  // The custodian's decision on a pending protocol. FailedPrecondition when it is not pending.
  Status Decide(int64_t id, bool approve, const std::string& reason, const std::string& by);
  // Decisions the hub has not heard yet, and marking one heard.
  Result<std::vector<ProtocolRecord>> Unreported();
  Status MarkReported(int64_t id);

 private:
  explicit ProtocolBook(std::unique_ptr<Database> db);
  Result<std::vector<ProtocolRecord>> Select(const std::string& where, int64_t id = 0,
                                             const std::string& name = "");
  std::unique_ptr<Database> db_;
};

}  // namespace passerelle::store

#endif  // PASSERELLE_STORE_PROTOCOL_BOOK_H_
