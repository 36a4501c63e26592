// core/bytes_io.hpp — little-endian writer and bounded reader for synod's own
// records (snapshots, durable state). The reader never reads past its input
// and checks every length before allocating; a failure is sticky.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>

#include "synod/types.hpp"

namespace synod {

class ByteWriter {
 public:
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u32(std::uint32_t v) { put(v, 4); }
  void u64(std::uint64_t v) { put(v, 8); }
  void bytes(ByteView b) {
    u64(b.size());
    out_.insert(out_.end(), b.begin(), b.end());
  }
  void raw(ByteView b) { out_.insert(out_.end(), b.begin(), b.end()); }
  Bytes take() { return std::move(out_); }

 private:
  void put(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  Bytes out_;
};

class ByteReader {
 public:
  explicit ByteReader(ByteView in) : in_(in) {}

  std::optional<std::uint8_t> u8() { return get(1); }
  std::optional<std::uint32_t> u32() {
    auto v = get(4);
    return v ? std::optional<std::uint32_t>(static_cast<std::uint32_t>(*v)) : std::nullopt;
  }
  std::optional<std::uint64_t> u64() { return get(8); }
  // A length-prefixed byte string, viewed in place (no allocation).
  std::optional<ByteView> bytes() {
    auto n = u64();
    if (!n || *n > remaining()) return fail();
    ByteView v = in_.subspan(pos_, static_cast<std::size_t>(*n));
    pos_ += static_cast<std::size_t>(*n);
    return v;
  }
  std::optional<ByteView> raw(std::size_t n) {
    if (n > remaining()) return fail();
    ByteView v = in_.subspan(pos_, n);
    pos_ += n;
    return v;
  }
  std::size_t remaining() const { return failed_ ? 0 : in_.size() - pos_; }
  bool ok() const { return !failed_; }
  bool at_end() const { return !failed_ && pos_ == in_.size(); }

 private:
  std::nullopt_t fail() {
    failed_ = true;
    return std::nullopt;
  }
  std::optional<std::uint64_t> get(std::size_t n) {
    if (failed_ || n > in_.size() - pos_) return fail();
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(in_[pos_ + i]) << (8 * i);
    pos_ += n;
    return v;
  }
  ByteView in_;
  std::size_t pos_ = 0;
  bool failed_ = false;
};

}  // namespace synod
