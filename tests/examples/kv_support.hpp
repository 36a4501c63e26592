// Shared helpers for the KvStore tests: run one op through execute() the way
// a replica would, and print KvResults in failure messages.
#pragma once

#include <doctest/doctest.h>

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "synod/examples/kv.hpp"

namespace synod::examples::kv {

inline std::ostream& operator<<(std::ostream& out, const KvResult& r) {
  out << to_string(r.status);
  if (r.value) out << " \"" << *r.value << "\"";
  return out;
}

}  // namespace synod::examples::kv

namespace kv_test {

using synod::Bytes;
using synod::examples::KvStore;
using synod::examples::kv::KvResult;
using Status = KvResult::Status;

inline KvResult ok(std::optional<std::string> value = std::nullopt) { return KvResult{Status::ok, std::move(value)}; }
inline KvResult not_found() { return KvResult{Status::not_found, std::nullopt}; }
inline KvResult mismatch(std::optional<std::string> current) {
  return KvResult{Status::cas_mismatch, std::move(current)};
}
inline KvResult bad_op() { return KvResult{Status::bad_op, std::nullopt}; }
inline KvResult full() { return KvResult{Status::full, std::nullopt}; }

// Executes `op` as a batch of one and decodes the result, which must decode.
inline KvResult run(KvStore& store, const Bytes& op) {
  const synod::Operation batch[] = {synod::Operation{.client = 1, .request = 1, .payload = synod::as_view(op)}};
  const std::vector<Bytes> results = store.execute(batch);
  REQUIRE(results.size() == 1);
  auto decoded = synod::examples::kv::decode_result(synod::as_view(results[0]));
  if (!decoded) FAIL("execute() returned an undecodable result: " << decoded.error().describe());
  return *decoded;
}

}  // namespace kv_test
