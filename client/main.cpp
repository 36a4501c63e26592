// synod-client — one kv operation against a running cluster:
//   synod-client --config FILE [--client C] [--key FILE] put K V | get K | del K | cas K OLD NEW
//   synod-client --config FILE status [--json]
// get prints the value (exit 1 if the key is absent); cas exits 1 on a
// mismatch and prints the current value. status asks every replica (up to
// --timeout-ms, default 2000 for status) and prints a table, or with --json
// a list of one object per replica; it exits 1 if any replica is
// unreachable. Every error is one line on stderr.
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <vector>
#include <filesystem>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "runtime/config_file.hpp"
#include "synod/client.hpp"
#include "synod/examples/kv.hpp"

namespace {

int die(const std::string& message, int code = 1) {
  std::fprintf(stderr, "synod-client: %s\n", message.c_str());
  return code;
}

// The role names each protocol's papers use.
const char* role(const synod::ReplicaReport& r) {
  if (r.protocol == synod::Protocol::pbft) return r.is_leader ? "primary" : "backup";
  return r.is_leader ? "leader" : "follower";
}

// Prints the reports; exit status 1 when any replica did not answer.
int print_status(const std::vector<synod::ReplicaReport>& reports, bool json) {
  int unreachable = 0;
  if (json) {
    // Every value is a number, a bool or a fixed set of ASCII words: no escaping needed.
    std::cout << "[";
    for (std::size_t i = 0; i < reports.size(); ++i) {
      const auto& r = reports[i];
      std::cout << (i == 0 ? "\n" : ",\n") << "  {\"id\": " << r.id << ", \"reachable\": " << (r.reachable ? "true" : "false");
      if (r.reachable) {
        std::cout << ", \"protocol\": \"" << synod::to_string(r.protocol) << "\", \"view\": " << r.view
                  << ", \"role\": \"" << role(r) << "\", \"leader\": " << r.leader
                  << ", \"changing_view\": " << (r.changing_view ? "true" : "false")
                  << ", \"last_executed\": " << r.last_executed << ", \"stable_checkpoint\": " << r.stable_checkpoint
                  << ", \"state_digest\": \"" << synod::to_hex(r.state_digest) << "\""
                  << ", \"view_changes\": " << r.view_changes << ", \"state_transfers\": " << r.state_transfers;
      }
      std::cout << "}";
    }
    std::cout << "\n]\n";
  } else {
    std::printf("%-3s %-11s %-9s %-8s %-8s %-14s %-11s %s\n", "ID", "REACHABLE", "PROTOCOL", "VIEW", "ROLE",
                "LAST_EXECUTED", "STABLE_CKPT", "STATE_DIGEST");
    for (const auto& r : reports) {
      if (!r.reachable) {
        std::printf("%-3u %s\n", r.id, "no");
        continue;
      }
      std::printf("%-3u %-11s %-9s %-8llu %-8s %-14llu %-11llu %s%s\n", r.id, "yes", synod::to_string(r.protocol),
                  static_cast<unsigned long long>(r.view), role(r), static_cast<unsigned long long>(r.last_executed),
                  static_cast<unsigned long long>(r.stable_checkpoint), synod::to_hex(r.state_digest).substr(0, 16).c_str(),
                  r.changing_view ? " (changing view)" : "");
    }
  }
  for (const auto& r : reports) unreachable += r.reachable ? 0 : 1;
  return unreachable == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  namespace kv = synod::examples::kv;
  CLI::App cli{"synod-client: run one key-value operation against a synod cluster (kv app)"};
  cli.require_subcommand(1);
  std::string config_path;
  std::uint32_t client_id = 0;
  std::string key_path;
  std::optional<std::uint32_t> timeout_ms;
  cli.add_option("--config", config_path, "cluster.toml")->required();
  cli.add_option("--client", client_id, "client id (default 0)");
  cli.add_option("--key", key_path, "client private key (default: DIR/keys/client-<id>.key)");
  cli.add_option("--timeout-ms", timeout_ms, "give up after this long (default 10000; status: 2000)");

  std::string key, value, expected;
  auto* put = cli.add_subcommand("put", "set K to V");
  put->add_option("K", key)->required();
  put->add_option("V", value)->required();
  auto* get = cli.add_subcommand("get", "print K's value (exit 1 if absent)");
  get->add_option("K", key)->required();
  auto* del = cli.add_subcommand("del", "remove K");
  del->add_option("K", key)->required();
  auto* cas = cli.add_subcommand("cas", "set K to NEW if its value is OLD (exit 1 otherwise)");
  cas->add_option("K", key)->required();
  cas->add_option("OLD", expected)->required();
  cas->add_option("NEW", value)->required();
  auto* status = cli.add_subcommand("status", "ask every replica for its status (exit 1 if one does not answer)");
  bool json = false;
  status->add_flag("--json", json, "JSON output");
  CLI11_PARSE(cli, argc, argv);

  auto config = synod::runtime::load_cluster_config(config_path);
  if (!config) return die(config.error().message);
  if (key_path.empty()) {
    key_path = (std::filesystem::path(config_path).parent_path() / "keys" /
                ("client-" + std::to_string(client_id) + ".key")).string();
  }
  auto private_key = synod::crypto::PrivateKey::load_pem_file(key_path);
  if (!private_key) return die("private key " + key_path + ": " + private_key.error().message);
  synod::ClientOptions options;
  options.timeout = std::chrono::milliseconds(timeout_ms.value_or(10'000));
  auto client = synod::Client::connect(*config, client_id, std::move(*private_key), options);
  if (!client) return die(client.error().message);

  if (status->parsed()) {
    auto reports = (*client)->status(std::chrono::milliseconds(timeout_ms.value_or(2'000)));
    if (!reports) return die(reports.error().message);
    return print_status(*reports, json);
  }

  synod::Bytes op;
  if (put->parsed()) op = kv::encode_put(key, value);
  if (get->parsed()) op = kv::encode_get(key);
  if (del->parsed()) op = kv::encode_del(key);
  if (cas->parsed()) op = kv::encode_cas(key, expected, value);
  auto reply = (*client)->invoke(synod::as_view(op), get->parsed());
  if (!reply) return die(reply.error().message);
  auto result = kv::decode_result(synod::as_view(*reply));
  if (!result) return die("undecodable result: " + result.error().message);

  using Status = kv::KvResult::Status;
  switch (result->status) {
    case Status::ok:
      if (get->parsed()) {
        std::cout << result->value.value_or("") << "\n";
      } else {
        std::cout << "ok\n";
      }
      return 0;
    case Status::not_found:
      return die("key '" + key + "' not found");
    case Status::cas_mismatch:
      return die("cas mismatch: current value " + (result->value ? "'" + *result->value + "'" : "absent"));
    default:
      return die(std::string("operation failed: ") + kv::to_string(result->status));
  }
}
