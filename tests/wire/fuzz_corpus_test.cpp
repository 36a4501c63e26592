// The seed corpus of synod-fuzz-wire (tests/fuzz/corpus/wire/): one valid
// frame per message type. This test keeps it valid as the format evolves;
// run it with SYNOD_REGENERATE_FUZZ_CORPUS=1 to rewrite the files from the
// current samples.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include "samples.hpp"
#include "test_util.hpp"
#include "wire/codec.hpp"

using namespace synod;
using namespace synod::wire;

namespace {

const std::filesystem::path kCorpus = SYNOD_WIRE_FUZZ_CORPUS_DIR;

Bytes read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("the wire fuzzer's seed corpus holds a valid frame of every message type") {
  if (std::getenv("SYNOD_REGENERATE_FUZZ_CORPUS") != nullptr) {
    std::filesystem::create_directories(kCorpus);
    for (const Message& m : samples::messages()) {
      const Bytes frame = testing::frame_of(m);
      std::ofstream out(kCorpus / (std::string(to_string(message_type(m))) + ".bin"), std::ios::binary);
      out.write(reinterpret_cast<const char*>(frame.data()), static_cast<std::streamsize>(frame.size()));
      REQUIRE(out.good());
    }
  }

  std::set<MsgType> covered;
  REQUIRE(std::filesystem::is_directory(kCorpus));
  for (const auto& entry : std::filesystem::directory_iterator(kCorpus)) {
    CAPTURE(entry.path().string());
    const Bytes frame = read_file(entry.path());
    auto envelope = decode_envelope(as_view(frame));
    REQUIRE(envelope.has_value());
    auto message = decode_message(*envelope);
    REQUIRE(message.has_value());
    covered.insert(envelope->type);
  }
  CHECK(covered.size() == std::variant_size_v<Message>);
}
