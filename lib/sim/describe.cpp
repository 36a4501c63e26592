#include "sim/describe.hpp"

#include <cstdio>
#include <variant>

#include "sim/checkers.hpp"
#include "sim/workload.hpp"
#include "wire/codec.hpp"

namespace synod::sim {

namespace {

using std::to_string;

std::string vsd(View v, Seq s, const Digest& d) {
  return "v=" + to_string(v) + " s=" + to_string(s) + " d=" + short_hex(d);
}

std::string batch_text(const wire::Batch& batch) {
  constexpr std::size_t kShown = 4;
  std::string text = "[";
  for (std::size_t i = 0; i < batch.size() && i < kShown; ++i) {
    if (i > 0) text += " ";
    text += "c" + to_string(batch[i].request.client) + "t" + to_string(batch[i].request.t);
  }
  if (batch.size() > kShown) text += " +" + to_string(batch.size() - kShown);
  return text + "]";
}

struct Describer {
  std::string operator()(const wire::Request& m) const {
    return std::string("REQUEST c=") + to_string(m.client) + " t=" + to_string(m.t) + (m.read_only ? " ro " : " ") +
           describe_kv_op(m.op);
  }
  std::string operator()(const wire::Reply& m) const {
    return "REPLY v=" + to_string(m.view) + " c=" + to_string(m.client) + " t=" + to_string(m.t) +
           (m.status == wire::ReplyStatus::not_leader ? " not-leader=" + to_string(m.leader) : "") +
           (m.read_only ? " ro " : " ") + describe_kv_result(m.result);
  }
  std::string operator()(const wire::PrePrepare& m) const {
    return "PRE-PREPARE " + vsd(m.header.view, m.header.seq, m.header.digest) + " batch=" + batch_text(m.batch);
  }
  std::string operator()(const wire::Prepare& m) const { return "PREPARE " + vsd(m.view, m.seq, m.digest); }
  std::string operator()(const wire::Commit& m) const { return "COMMIT " + vsd(m.view, m.seq, m.digest); }
  std::string operator()(const wire::Checkpoint& m) const {
    return "CHECKPOINT s=" + to_string(m.seq) + " d=" + short_hex(m.state_digest);
  }
  std::string operator()(const wire::ViewChange& m) const {
    std::string text = "VIEW-CHANGE nv=" + to_string(m.new_view) + " stable=" + to_string(m.stable_seq) +
                       " C=" + to_string(m.checkpoint_proof.size()) + " P=[";
    for (std::size_t i = 0; i < m.prepared.size() && i < 6; ++i) {
      if (i > 0) text += " ";
      text += to_string(m.prepared[i].pre_prepare.message.seq) + "@v" +
              to_string(m.prepared[i].pre_prepare.message.view);
    }
    if (m.prepared.size() > 6) text += " +" + to_string(m.prepared.size() - 6);
    return text + "]";
  }
  std::string operator()(const wire::NewView& m) const {
    std::string text = "NEW-VIEW v=" + to_string(m.view) + " V=" + to_string(m.view_changes.size()) + " O=[";
    for (std::size_t i = 0; i < m.pre_prepares.size() && i < 6; ++i) {
      if (i > 0) text += " ";
      text += to_string(m.pre_prepares[i].message.seq) + ":" + short_hex(m.pre_prepares[i].message.digest);
    }
    if (m.pre_prepares.size() > 6) text += " +" + to_string(m.pre_prepares.size() - 6);
    return text + "]";
  }
  std::string operator()(const wire::FetchState& m) const {
    return "FETCH-STATE have=" + to_string(m.have_seq) + " s=" + to_string(m.seq) + " from=" + to_string(m.offset);
  }
  std::string operator()(const wire::StateSnapshot& m) const {
    return "STATE-SNAPSHOT s=" + to_string(m.seq) + " proof=" + to_string(m.proof.size()) + " bytes=[" +
           to_string(m.offset) + "," + to_string(m.offset + m.chunk.size()) + ") of " + to_string(m.total_bytes);
  }
  std::string operator()(const wire::FetchBatches& m) const {
    return "FETCH-BATCHES [" + to_string(m.from) + "," + to_string(m.to) + "]";
  }
  std::string operator()(const wire::CommittedBatches& m) const {
    std::string text = "COMMITTED-BATCHES [";
    for (std::size_t i = 0; i < m.batches.size() && i < 6; ++i) {
      if (i > 0) text += " ";
      text += to_string(m.batches[i].seq);
    }
    return text + "]";
  }
  std::string operator()(const wire::FetchTree& m) const {
    return "FETCH-TREE s=" + to_string(m.seq) + " nodes=" + to_string(m.nodes.size());
  }
  std::string operator()(const wire::TreeNodes& m) const {
    return "TREE-NODES s=" + to_string(m.seq) + " nodes=" + to_string(m.nodes.size());
  }
  std::string operator()(const wire::FetchLeaves& m) const {
    return "FETCH-LEAVES s=" + to_string(m.seq) + " leaves=" + to_string(m.leaves.size());
  }
  std::string operator()(const wire::LeafEntries& m) const {
    std::size_t entries = 0;
    for (const wire::LeafPart& part : m.parts) entries += part.entries.size();
    return "LEAF-ENTRIES s=" + to_string(m.seq) + " parts=" + to_string(m.parts.size()) +
           " entries=" + to_string(entries);
  }
  std::string operator()(const wire::FetchValues& m) const {
    return "FETCH-VALUES s=" + to_string(m.seq) + " keys=" + to_string(m.keys.size());
  }
  std::string operator()(const wire::Values& m) const {
    std::size_t bytes = 0;
    for (const wire::KeyValue& kv : m.values) bytes += kv.value.size();
    return "VALUES s=" + to_string(m.seq) + " values=" + to_string(m.values.size()) + " bytes=" + to_string(bytes);
  }
  template <class M>
  std::string operator()(const M&) const {
    return "PAXOS-MESSAGE";
  }
};

}  // namespace

std::string describe_principal(Principal p) { return (p.is_replica() ? "r" : "c") + to_string(p.id); }

std::string describe_frame(ByteView frame) {
  const auto envelope = wire::decode_envelope(frame);
  if (!envelope) return std::string("garbage (") + wire::to_string(envelope.error()) + ")";
  const auto message = wire::decode_message(*envelope);
  if (!message) {
    return std::string(wire::to_string(envelope->type)) + " undecodable (" + wire::to_string(message.error()) + ")";
  }
  return std::visit(Describer{}, *message);
}

std::string describe_time(TimeUs us) {
  char text[32];
  std::snprintf(text, sizeof text, "%llu.%06llus", static_cast<unsigned long long>(us / 1'000'000),
                static_cast<unsigned long long>(us % 1'000'000));
  return text;
}

}  // namespace synod::sim
