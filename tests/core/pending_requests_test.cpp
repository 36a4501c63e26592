// core/pending_requests.hpp: the per-client bound, fair batches, per-client
// order, and the bookkeeping the cores rely on.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/pending_requests.hpp"

namespace synod {
namespace {

using Pending = PendingRequests<std::string>;
using Key = Pending::Key;

std::vector<Key> take(Pending& p, std::size_t max_requests, std::size_t max_bytes = 1u << 20) {
  std::vector<Key> batch = p.next_batch(max_requests, max_bytes, nullptr);
  for (const Key& k : batch) p.mark_proposed(k);
  return batch;
}

TEST_CASE("pending requests: bounded per client, duplicates recognised, other clients unaffected") {
  Pending p(3);
  for (RequestNo t = 1; t <= 3; ++t) CHECK(p.add(1, t, "op", 2, 10) == Pending::Admit::added);
  CHECK(p.add(1, 4, "op", 2, 10) == Pending::Admit::over_limit);
  CHECK(p.add(1, 2, "op", 2, 10) == Pending::Admit::duplicate);
  CHECK(p.add(2, 1, "op", 2, 10) == Pending::Admit::added);
  CHECK(p.count(1) == 3);
  CHECK(p.count(2) == 1);
  CHECK(p.count(9) == 0);
  CHECK(p.size() == 4);
  CHECK(p.consistent());
  // Once one of client 1's requests leaves, it may add another.
  p.drop_if([](const Key& k, const auto&) { return k == Key{1, 1}; });
  CHECK(p.add(1, 4, "op", 2, 10) == Pending::Admit::added);
  CHECK(p.consistent());
}

TEST_CASE("pending requests: the screen before a signature check") {
  using Screen = Pending::Screen;
  Pending p(2);
  const auto same_as = [](const std::string& copy) { return [copy](const std::string& held) { return held == copy; }; };
  // Client 1 last executed t = 5.
  CHECK(p.screen(1, 0, 0, same_as("op")) == Screen::stale);   // t starts at 1
  CHECK(p.screen(1, 4, 5, same_as("op")) == Screen::stale);   // older than the last executed
  CHECK(p.screen(1, 5, 5, same_as("op")) == Screen::verify);  // the cached reply is for verified requests only
  CHECK(p.screen(1, 6, 5, same_as("op")) == Screen::verify);
  REQUIRE(p.add(1, 6, "op", 2, 10) == Pending::Admit::added);
  CHECK(p.screen(1, 6, 5, same_as("op")) == Screen::held);        // an identical copy
  CHECK(p.screen(1, 6, 5, same_as("forged")) == Screen::verify);  // other bytes: checked like any request
  CHECK(p.screen(1, 7, 5, same_as("op")) == Screen::verify);      // quota 2: one slot left
  REQUIRE(p.add(1, 7, "op", 2, 10) == Pending::Admit::added);
  CHECK(p.screen(1, 8, 5, same_as("op")) == Screen::over_limit);
  CHECK(p.screen(2, 1, 0, same_as("op")) == Screen::verify);  // other clients unaffected
}

TEST_CASE("pending requests: next_of_another_client walks forward through the arrival order") {
  Pending p(8);
  // Arrival order: (1,1) (2,1) (1,2) (3,1) (2,2)
  REQUIRE(p.add(1, 1, "a", 1, 0) == Pending::Admit::added);
  REQUIRE(p.add(2, 1, "b", 1, 0) == Pending::Admit::added);
  REQUIRE(p.add(1, 2, "c", 1, 0) == Pending::Admit::added);
  REQUIRE(p.add(3, 1, "d", 1, 0) == Pending::Admit::added);
  REQUIRE(p.add(2, 2, "e", 1, 0) == Pending::Admit::added);
  CHECK(*p.next_of_another_client({1, 1}) == Key{2, 1});
  CHECK(*p.next_of_another_client({2, 1}) == Key{1, 2});
  CHECK(*p.next_of_another_client({1, 2}) == Key{3, 1});
  CHECK(*p.next_of_another_client({3, 1}) == Key{2, 2});
  CHECK(*p.next_of_another_client({2, 2}) == Key{1, 1});  // wraps to the oldest
  // Two clients taking turns cannot skip a third: from (1,1), alternating
  // between clients 1 and 2 still arrives at client 3 within a pass.
  Key at{1, 1};
  bool reached_3 = false;
  for (int step = 0; step < 5 && !reached_3; ++step) {
    at = *p.next_of_another_client(at);
    reached_3 = at.first == 3;
  }
  CHECK(reached_3);
  p.drop_if([](const Key& k, const auto&) { return k.first != 1; });
  CHECK(p.next_of_another_client({1, 1}) == nullptr);
}

TEST_CASE("pending requests: a client that fills its quota first does not take whole batches") {
  Pending p(16);
  for (RequestNo t = 1; t <= 16; ++t) REQUIRE(p.add(1, t, "flood", 5, 100 + t) == Pending::Admit::added);
  REQUIRE(p.add(2, 1, "fair", 4, 500) == Pending::Admit::added);
  // Arrival order would give client 1 the whole batch of 4.
  const std::vector<Key> batch = take(p, 4);
  REQUIRE(batch.size() == 4);
  CHECK(std::count(batch.begin(), batch.end(), Key{2, 1}) == 1);
}

TEST_CASE("pending requests: one request per client per round, rounds start after the last batch's first client") {
  Pending p(16);
  for (ClientId c = 1; c <= 3; ++c) {
    for (RequestNo t = 1; t <= 2; ++t) REQUIRE(p.add(c, t, "x", 1, 0) == Pending::Admit::added);
  }
  CHECK(take(p, 2) == std::vector<Key>{{1, 1}, {2, 1}});
  CHECK(take(p, 2) == std::vector<Key>{{2, 2}, {3, 1}});
  CHECK(take(p, 2) == std::vector<Key>{{3, 2}, {1, 2}});
  CHECK(take(p, 2).empty());
  // A new view: everything may be proposed again, each client in t order.
  p.unpropose_all();
  const std::vector<Key> all = take(p, 10);
  CHECK(all.size() == 6);
  for (std::size_t i = 0; i < all.size(); ++i) {
    for (std::size_t j = i + 1; j < all.size(); ++j) {
      if (all[i].first == all[j].first) CHECK(all[i].second < all[j].second);
    }
  }
}

TEST_CASE("pending requests: within a client, lower request numbers go first whatever the arrival order") {
  Pending p(16);
  REQUIRE(p.add(7, 5, "late t", 1, 0) == Pending::Admit::added);
  REQUIRE(p.add(7, 4, "early t", 1, 1) == Pending::Admit::added);
  CHECK(take(p, 1) == std::vector<Key>{{7, 4}});
  CHECK(take(p, 1) == std::vector<Key>{{7, 5}});
}

TEST_CASE("pending requests: the byte bound closes a batch, but one request always fits") {
  Pending p(16);
  REQUIRE(p.add(1, 1, "big", 100, 0) == Pending::Admit::added);
  REQUIRE(p.add(2, 1, "small", 10, 0) == Pending::Admit::added);
  REQUIRE(p.add(3, 1, "small", 10, 0) == Pending::Admit::added);
  CHECK(take(p, 10, 50) == std::vector<Key>{{1, 1}});
  CHECK(take(p, 10, 50) == std::vector<Key>{{2, 1}, {3, 1}});
}

TEST_CASE("pending requests: oldest() is the first arrival still held; next_batch reports the oldest waiting time") {
  Pending p(16);
  CHECK(p.oldest() == nullptr);
  REQUIRE(p.add(3, 1, "a", 1, 30) == Pending::Admit::added);
  REQUIRE(p.add(1, 1, "b", 1, 40) == Pending::Admit::added);
  REQUIRE(p.add(2, 1, "c", 1, 20) == Pending::Admit::added);
  REQUIRE(p.oldest() != nullptr);
  CHECK(*p.oldest() == Key{3, 1});
  TimeUs oldest = 0;
  CHECK(p.next_batch(1, 1u << 20, &oldest).size() == 1);
  CHECK(oldest == 20);
  p.drop_if([](const Key& k, const auto&) { return k.first == 3; });
  CHECK(*p.oldest() == Key{1, 1});
  REQUIRE(p.find({2, 1}) != nullptr);
  p.find({2, 1})->forwarded_us = 99;
  CHECK(p.at({2, 1}).forwarded_us == 99);
  p.clear();
  CHECK(p.empty());
  CHECK(p.oldest() == nullptr);
  CHECK(p.consistent());
}

}  // namespace
}  // namespace synod
