// For tests: a PostgreSQL 15 server of the test's own (Debian's postgresql-15), made with initdb
// in a temporary folder and listening on a Unix socket only, stopped when the test ends.
#ifndef PASSERELLE_STORE_POSTGRES_CLUSTER_TEST_UTIL_H_
#define PASSERELLE_STORE_POSTGRES_CLUSTER_TEST_UTIL_H_

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace passerelle::testing {

inline const std::string kPgBin = "/usr/lib/postgresql/15/bin/";

inline std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A PostgreSQL 15 cluster of the test's own, in `dir`, listening on a Unix socket only. Its
// destructor stops it, whether the test passed or not. As root, the server runs as `postgres`.
class PostgresCluster {
 public:
  explicit PostgresCluster(std::string dir) : dir_(std::move(dir)) {}
  ~PostgresCluster() {
    if (started_) {
      (void)Run(As() + kPgBin + "pg_ctl -D " + dir_ + "/data -m immediate -w stop");
    }
  }

  // Creates and starts the cluster; "" or what went wrong.
  std::string Start() {
    if (!std::filesystem::exists(kPgBin + "initdb")) {
      return kPgBin +
             "initdb is missing: the PostgreSQL tests need Debian's postgresql-15; run "
             "scripts/install-deps";
    }
    std::filesystem::create_directories(dir_ + "/run");
    if (::geteuid() == 0 && Run("chown -R postgres:postgres " + dir_) != 0) {
      return "cannot give " + dir_ + " to the postgres account";
    }
    if (Run(As() + kPgBin + "initdb -D " + dir_ + "/data -A trust -U cdm_owner -E UTF8 " +
            "--locale=C --no-sync") != 0) {
      return "initdb failed: " + Log();
    }
    if (Run(As() + kPgBin + "pg_ctl -D " + dir_ + "/data -l " + dir_ + "/server.log -w -o \"-k " +
            dir_ + "/run -c listen_addresses='' -c fsync=off\" start") != 0) {
      return "pg_ctl start failed: " + Log() + ReadFileBytes(dir_ + "/server.log");
    }
    started_ = true;
    return "";
  }

  // Runs SQL (psql's commands included) as the cluster's owner on `database`; "" or the error.
  std::string Psql(const std::string& database, const std::string& script) {
    const std::string path = dir_ + "/script.sql";
    std::ofstream(path) << script;
    if (Run(kPgBin + "psql -X -q -v ON_ERROR_STOP=1 -h " + dir_ + "/run -U cdm_owner -d " +
            database + " -f " + path) != 0) {
      return "psql failed: " + Log();
    }
    return "";
  }

  // The connection string of `database`, its tables in `schema`.
  std::string Connection(const std::string& database, const std::string& schema = "cdm") const {
    return "postgresql:///" + database + "?host=" + dir_ + "/run&user=cdm_owner&schema=" + schema;
  }

 private:
  std::string As() const { return ::geteuid() == 0 ? "runuser -u postgres -- " : ""; }
  int Run(const std::string& command) const {
    return std::system((command + " >" + dir_ + "/command.log 2>&1").c_str());
  }
  std::string Log() const { return ReadFileBytes(dir_ + "/command.log"); }

  std::string dir_;
  bool started_ = false;
};

}  // namespace passerelle::testing

#endif  // PASSERELLE_STORE_POSTGRES_CLUSTER_TEST_UTIL_H_
