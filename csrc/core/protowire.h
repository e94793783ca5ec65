// Protocol Buffers wire-format reader: tags, varints, fixed32/64 and length-delimited fields, over a caller's
// buffer (no allocation, no copies; views stay valid while the buffer does). The encoding is specified in
// https://protobuf.dev/programming-guides/encoding/ ("Message Structure", "Base 128 Varints", "Groups").
// A decoder of one known schema (bindings/bind_milspec.cpp) walks messages with it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace anekit::core::protowire {

/** Wire types (the low 3 bits of a field's tag). */
enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLen = 2, kStartGroup = 3, kEndGroup = 4, kFixed32 = 5 };

/** The bytes are not a well-formed protobuf message (truncated, bad tag, bad wire type, overlong varint). */
class MalformedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/** Sequential reader over one message's bytes. */
class Reader {
 public:
  explicit Reader(std::string_view bytes)
      : p_(reinterpret_cast<const uint8_t*>(bytes.data())), end_(p_ + bytes.size()) {}

  /** Whether every byte has been read. */
  bool at_end() const { return p_ >= end_; }

  /** Read the next tag into `field` / `wire`; false at the end of the message. */
  bool next(uint32_t& field, uint32_t& wire) {
    if (p_ >= end_) return false;
    const uint64_t key = varint();
    // Field numbers are 1 .. 2^29 - 1; wire types 6 and 7 do not exist.
    if ((key >> 3) == 0 || (key >> 3) > 0x1FFFFFFFu || (key & 7) > kFixed32) {
      throw MalformedError("invalid field tag " + std::to_string(key));
    }
    field = static_cast<uint32_t>(key >> 3);
    wire = static_cast<uint32_t>(key & 7);
    return true;
  }

  /** A base-128 varint (at most 10 bytes). */
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (p_ >= end_) throw MalformedError("truncated varint");
      const uint8_t b = *p_++;
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    throw MalformedError("varint longer than 10 bytes");
  }

  /** The payload of a length-delimited field (after its tag). */
  std::string_view bytes() {
    const uint64_t n = varint();
    if (n > static_cast<uint64_t>(end_ - p_)) throw MalformedError("length-delimited field runs past its message");
    std::string_view out(reinterpret_cast<const char*>(p_), static_cast<size_t>(n));
    p_ += n;
    return out;
  }

  /** `n` raw bytes (a fixed32 / fixed64 value, little-endian on the wire). */
  std::string_view raw(size_t n) {
    if (n > static_cast<size_t>(end_ - p_)) throw MalformedError("truncated fixed-width field");
    std::string_view out(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return out;
  }

  /** Skip the payload of a field of wire type `wire` (groups are skipped up to their matching end tag). */
  void skip(uint32_t field, uint32_t wire, int depth = 0) {
    switch (wire) {
      case kVarint: varint(); return;
      case kFixed64: raw(8); return;
      case kLen: bytes(); return;
      case kFixed32: raw(4); return;
      case kStartGroup: {
        if (depth > kMaxDepth) throw MalformedError("groups nested too deeply");
        uint32_t f = 0, w = 0;
        while (next(f, w)) {
          if (w == kEndGroup) {
            if (f != field) throw MalformedError("mismatched end-group tag");
            return;
          }
          skip(f, w, depth + 1);
        }
        throw MalformedError("unterminated group");
      }
      default: throw MalformedError("unexpected end-group tag");
    }
  }

  /** How deep nested messages may go (protobuf's default recursion limit). */
  static constexpr int kMaxDepth = 100;

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace anekit::core::protowire
