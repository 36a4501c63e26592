// wire/archive.hpp — PRIVATE to lib/wire and its tests: a Cereal archive pair
// over memory in Cereal's portable binary format.
//
// MemoryOutputArchive appends to a Bytes vector and writes exactly what
// cereal::PortableBinaryOutputArchive writes after its 1-byte endianness
// header (little-endian fixed-width integers, 64-bit size prefixes), without
// an ostream in the way.
//
// BoundedInputArchive reads from a ByteView that may come from a Byzantine
// peer. Stock Cereal sizes a vector from its length prefix before it knows
// whether the bytes exist (12 bytes can make it touch 16 GiB); here every
// length prefix is checked against the bytes that remain, divided by the
// smallest encoding one element can have, before anything is allocated;
// a field the format limits (at_most) is also checked against its limit.
// bool decodes only from 0/1. Failures throw DecodeFailure, which never
// leaves codec_core.cpp (decode_into turns it into a Fault).
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include <cereal/cereal.hpp>
#include <cereal/types/array.hpp>
#include <cereal/types/vector.hpp>

#include "synod/types.hpp"
#include "wire/codec_core.hpp"

namespace synod::wire::detail {

// The only exception decoding throws on purpose.
struct DecodeFailure {
  Fault fault;
};

// What the decoder needs to know about an encoded T to bound its allocations:
//   min_bytes      the fewest bytes any encoding of a T occupies;
//   heap_per_byte  an upper bound on heap bytes allocated while decoding a T,
//                  per encoded byte (see the vector specialisation).
// Specialised below for integers, enums, byte arrays and vectors, and in
// serialize.hpp for every message struct. Deliberately undefined otherwise:
// a vector of a type without a known minimum must not compile.
template <class T>
struct WireBound;

template <class T>
  requires std::is_integral_v<T> || std::is_enum_v<T>
struct WireBound<T> {
  static constexpr std::size_t min_bytes = sizeof(T);
  static constexpr double heap_per_byte = 0;
};

template <std::size_t N>
struct WireBound<std::array<std::uint8_t, N>> {
  static constexpr std::size_t min_bytes = N;
  static constexpr double heap_per_byte = 0;
};

// A vector of n elements is admitted only if n * min_bytes(T) <= remaining
// bytes, so its buffer is at most sizeof(T) / min_bytes(T) heap bytes per
// input byte; the elements' own allocations come from disjoint input bytes
// and add heap_per_byte(T). Nesting therefore adds the ratios along a chain.
template <class T, class A>
struct WireBound<std::vector<T, A>> {
  static constexpr std::size_t min_bytes = sizeof(cereal::size_type);
  static constexpr double heap_per_byte =
      static_cast<double>(sizeof(T)) / static_cast<double>(WireBound<T>::min_bytes) +
      WireBound<T>::heap_per_byte;
};

// A struct encodes its members one after another: minimums add up, and its
// members' input bytes are disjoint, so its heap factor is their maximum.
template <class... Members>
struct StructBound {
  static constexpr std::size_t min_bytes = (std::size_t{0} + ... + WireBound<Members>::min_bytes);
  static constexpr double heap_per_byte = std::max({0.0, WireBound<Members>::heap_per_byte...});
};

// Portable binary is little-endian; on a big-endian host each element of
// `element_size` bytes is reversed on the way in and out.
template <std::size_t ElementSize>
inline void to_little_endian_in_place(std::uint8_t* data, std::size_t size) {
  if constexpr (std::endian::native == std::endian::big && ElementSize > 1) {
    for (std::size_t i = 0; i + ElementSize <= size; i += ElementSize) {
      std::reverse(data + i, data + i + ElementSize);
    }
  } else {
    (void)data;
    (void)size;
  }
}

class MemoryOutputArchive
    : public cereal::OutputArchive<MemoryOutputArchive, cereal::AllowEmptyClassElision> {
 public:
  explicit MemoryOutputArchive(Bytes& out)
      : cereal::OutputArchive<MemoryOutputArchive, cereal::AllowEmptyClassElision>(this), out_(out) {}

  // Appends `size` bytes made of elements of `ElementSize` bytes each.
  template <std::size_t ElementSize>
  void write(const void* data, std::size_t size) {
    if (size == 0) return;  // data may be null for an empty vector
    const auto* bytes = static_cast<const std::uint8_t*>(data);
    const std::size_t at = out_.size();
    out_.insert(out_.end(), bytes, bytes + size);
    to_little_endian_in_place<ElementSize>(out_.data() + at, size);
  }

 private:
  Bytes& out_;
};

class BoundedInputArchive
    : public cereal::InputArchive<BoundedInputArchive, cereal::AllowEmptyClassElision> {
 public:
  explicit BoundedInputArchive(ByteView input)
      : cereal::InputArchive<BoundedInputArchive, cereal::AllowEmptyClassElision>(this),
        next_(input.data()),
        end_(input.data() + input.size()) {}

  std::size_t remaining() const { return static_cast<std::size_t>(end_ - next_); }

  [[noreturn]] static void fail(Fault fault) { throw DecodeFailure{fault}; }

  // The next `size` bytes, consumed; truncated if they are not all there.
  const std::uint8_t* take(std::size_t size) {
    if (size > remaining()) fail(Fault::truncated);
    const std::uint8_t* at = next_;
    next_ += size;
    return at;
  }

  template <std::size_t ElementSize>
  void read(void* data, std::size_t size) {
    const std::uint8_t* from = take(size);
    if (size == 0) return;  // data may be null for an empty vector
    std::memcpy(data, from, size);
    to_little_endian_in_place<ElementSize>(static_cast<std::uint8_t*>(data), size);
  }

  // Admits a length prefix of `count` elements only if that many elements of
  // at least `min_element_bytes` each could still follow. Checked before the
  // caller allocates anything for them.
  void admit(std::uint64_t count, std::size_t min_element_bytes) const {
    if (count > remaining() / min_element_bytes) fail(Fault::length_overflow);
  }

 private:
  const std::uint8_t* next_;
  const std::uint8_t* end_;
};

// ---- primitives, found by Cereal through argument-dependent lookup on the
// archive type. Integers only: no message carries floating point.

template <class T>
  requires std::is_integral_v<T>
void CEREAL_SAVE_FUNCTION_NAME(MemoryOutputArchive& ar, const T& value) {
  ar.write<sizeof(T)>(std::addressof(value), sizeof(T));
}

template <class T>
  requires std::is_integral_v<T> && (!std::is_same_v<T, bool>)
void CEREAL_LOAD_FUNCTION_NAME(BoundedInputArchive& ar, T& value) {
  ar.read<sizeof(T)>(std::addressof(value), sizeof(T));
}

// Any byte other than 0 or 1 in a bool would be undefined behaviour to load
// and would make encode(decode(x)) != x.
inline void CEREAL_LOAD_FUNCTION_NAME(BoundedInputArchive& ar, bool& value) {
  std::uint8_t raw = 0;
  ar.read<1>(&raw, 1);
  if (raw > 1) BoundedInputArchive::fail(Fault::bad_value);
  value = raw == 1;
}

template <class T>
void CEREAL_SAVE_FUNCTION_NAME(MemoryOutputArchive& ar, const cereal::BinaryData<T>& data) {
  using Element = std::remove_cv_t<std::remove_pointer_t<std::remove_reference_t<T>>>;
  static_assert(std::is_integral_v<Element>, "binary data of integers only");
  ar.write<sizeof(Element)>(data.data, static_cast<std::size_t>(data.size));
}

template <class T>
void CEREAL_LOAD_FUNCTION_NAME(BoundedInputArchive& ar, cereal::BinaryData<T>& data) {
  using Element = std::remove_cv_t<std::remove_pointer_t<std::remove_reference_t<T>>>;
  static_assert(std::is_integral_v<Element> && !std::is_same_v<Element, bool>,
                "binary data of integers only; bools go through the checked bool load");
  ar.read<sizeof(Element)>(data.data, static_cast<std::size_t>(data.size));
}

template <class T>
void CEREAL_SERIALIZE_FUNCTION_NAME(MemoryOutputArchive& ar, cereal::SizeTag<T>& tag) {
  ar(tag.size);
}
template <class T>
void CEREAL_SERIALIZE_FUNCTION_NAME(BoundedInputArchive& ar, cereal::SizeTag<T>& tag) {
  ar(tag.size);
}
template <class T>
void CEREAL_SERIALIZE_FUNCTION_NAME(MemoryOutputArchive& ar, cereal::NameValuePair<T>& pair) {
  ar(pair.value);
}
template <class T>
void CEREAL_SERIALIZE_FUNCTION_NAME(BoundedInputArchive& ar, cereal::NameValuePair<T>& pair) {
  ar(pair.value);
}

// A vector field whose length the format limits (to at most MaxCount
// elements, and, for a vector of vectors, each element to at most
// EachMaxCount of its own): decoding rejects a longer one as length_overflow
// before it allocates anything for it. Only a limit, never a different
// encoding: saving is the plain vector's. Wrap such fields in at_most().
inline constexpr std::size_t kNoLimit = static_cast<std::size_t>(-1);

template <std::size_t MaxCount, std::size_t EachMaxCount, class T, class A>
struct LimitedVector {
  std::vector<T, A>& value;
};
template <std::size_t MaxCount, std::size_t EachMaxCount = kNoLimit, class T, class A>
LimitedVector<MaxCount, EachMaxCount, T, A> at_most(std::vector<T, A>& value) {
  return LimitedVector<MaxCount, EachMaxCount, T, A>{value};
}

// The bounded load of a vector of at most max_count elements (each, if a
// vector itself, of at most EachMaxCount): the length prefix is checked
// against the limit and admitted against the bytes that remain before the
// vector grows, and the vector is sized exactly once.
template <std::size_t EachMaxCount, class T, class A>
void load_vector(BoundedInputArchive& ar, std::vector<T, A>& vector, std::size_t max_count) {
  static_assert(!std::is_same_v<T, bool>, "std::vector<bool> is not a wire type");
  cereal::size_type count = 0;
  ar(cereal::make_size_tag(count));
  if (count > max_count) BoundedInputArchive::fail(Fault::length_overflow);
  ar.admit(count, WireBound<T>::min_bytes);
  const auto n = static_cast<std::size_t>(count);
  if constexpr (std::is_same_v<T, std::uint8_t>) {
    const std::uint8_t* bytes = ar.take(n);
    vector.assign(bytes, bytes + n);
  } else if constexpr (std::is_integral_v<T>) {
    vector.resize(n);
    ar(cereal::binary_data(vector.data(), n * sizeof(T)));
  } else {
    vector.clear();
    vector.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      if constexpr (EachMaxCount != kNoLimit) {
        load_vector<kNoLimit>(ar, vector.emplace_back(), EachMaxCount);
      } else {
        ar(vector.emplace_back());
      }
    }
  }
}

// Replaces cereal/types/vector.hpp's load for this archive (more specialised
// on the archive parameter, so overload resolution picks it). Saving stays
// Cereal's own, so the bytes are stock Cereal's.
template <class T, class A>
void CEREAL_LOAD_FUNCTION_NAME(BoundedInputArchive& ar, std::vector<T, A>& vector) {
  load_vector<kNoLimit>(ar, vector, kNoLimit);
}

template <class Archive, std::size_t MaxCount, std::size_t EachMaxCount, class T, class A>
void CEREAL_SAVE_FUNCTION_NAME(Archive& ar, const LimitedVector<MaxCount, EachMaxCount, T, A>& field) {
  ar(field.value);
}

template <std::size_t MaxCount, std::size_t EachMaxCount, class T, class A>
void CEREAL_LOAD_FUNCTION_NAME(BoundedInputArchive& ar, LimitedVector<MaxCount, EachMaxCount, T, A>& field) {
  load_vector<EachMaxCount>(ar, field.value, MaxCount);
}

// An enum travels as its underlying integer and decodes only from a value
// is_known() accepts (bad_value otherwise). Wrap enum fields in enum_field().
template <class E>
struct EnumField {
  E& value;
};
template <class E>
EnumField<E> enum_field(E& value) {
  return EnumField<E>{value};
}

template <class Archive, class E>
void CEREAL_SAVE_FUNCTION_NAME(Archive& ar, const EnumField<E>& field) {
  ar(static_cast<std::underlying_type_t<E>>(field.value));
}

template <class E>
void CEREAL_LOAD_FUNCTION_NAME(BoundedInputArchive& ar, EnumField<E>& field) {
  std::underlying_type_t<E> raw{};
  ar(raw);
  if (!is_known(static_cast<E>(raw))) BoundedInputArchive::fail(Fault::bad_value);
  field.value = static_cast<E>(raw);
}

}  // namespace synod::wire::detail

CEREAL_REGISTER_ARCHIVE(synod::wire::detail::MemoryOutputArchive)
CEREAL_REGISTER_ARCHIVE(synod::wire::detail::BoundedInputArchive)
CEREAL_SETUP_ARCHIVE_TRAITS(synod::wire::detail::BoundedInputArchive,
                            synod::wire::detail::MemoryOutputArchive)
