// _core.milspec_decode: a Core ML Model (or MILSpec Program) protobuf -> the compact tuples that
// anekit.mil.importers.coreml assembles into a Program. The Python protobuf front end of that module produces the
// very same tuples from coremltools' message classes; this decoder reads the wire format directly, which is what
// makes mil.load of an .mlpackage faster than coremltools' own MLModel(...).get_spec() and independent of
// coremltools. The tuple layout is documented once, in python/anekit/mil/importers/coreml.py ("Compact form").
//
// Field numbers are those of coremltools' Model.proto, FeatureTypes.proto and MIL.proto (coremltools 9.0,
// docs/internals/mil-format.md §12). Unknown fields are skipped, as protobuf does. Two valid but non-canonical
// encodings that no serializer writes (a singular message field repeated, which protobuf merges) make the
// decoder return None, and the caller decodes with protobuf instead, so the result never differs from it.
#include <pybind11/pybind11.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../core/protowire.h"
#include "bindings.h"

namespace anekit::bindings {

namespace {

namespace pw = anekit::core::protowire;
using pw::kFixed32;
using pw::kFixed64;
using pw::kLen;
using pw::kVarint;
using pw::MalformedError;
using pw::Reader;

/** Thrown for a valid encoding this decoder leaves to protobuf (see the file comment). */
struct NeedsProtobuf {};

// Model.Type oneof members (Model.proto): the kind of model a spec holds. 502 is mlProgram.
constexpr std::array<uint32_t, 37> kModelTypeFields = {
    200, 201, 202, 300, 301, 302, 303, 304, 400, 401, 402, 403, 404, 500, 501, 502, 555, 556, 560,
    600, 601, 602, 603, 604, 606, 607, 609, 610, 900, 2000, 2001, 2002, 2003, 2004, 2005, 2006, 3000};
constexpr uint32_t kMlProgram = 502;

bool is_model_type_field(uint32_t f) {
  for (uint32_t t : kModelTypeFields) {
    if (t == f) return true;
  }
  return false;
}

/** Marks singular message fields as seen; a second occurrence (merged by protobuf) is left to protobuf. */
class Once {
 public:
  void operator()(uint32_t field) {
    const uint64_t bit = field < 64 ? (uint64_t{1} << field) : 0;
    if (bit == 0) return;  // callers only track fields below 64
    if (seen_ & bit) throw NeedsProtobuf{};
    seen_ |= bit;
  }

 private:
  uint64_t seen_ = 0;
};

/** The member set in a oneof whose members are the length-delimited fields 1..`last` of the message `raw`: its
 *  field number (0 when none is set; the last one when several are, as protobuf parses) and its bytes in `body`.
 *  A member repeated throws NeedsProtobuf (Once), like every field this reader takes once. */
uint32_t oneof_message(std::string_view raw, uint32_t last, std::string_view& body) {
  Reader r(raw);
  uint32_t f = 0, w = 0, kind = 0;
  Once once;
  while (r.next(f, w)) {
    if (f >= 1 && f <= last && w == kLen) {
      once(f);
      kind = f;
      body = r.bytes();
    } else {
      r.skip(f, w);
    }
  }
  return kind;
}

/** A (key, object) list where a repeated key replaces the earlier entry (protobuf map semantics). */
class MapEntries {
 public:
  void set(py::object key, py::object value) {
    for (auto& e : entries_) {
      if (e.first.equal(key)) {
        e.second = std::move(value);
        return;
      }
    }
    entries_.emplace_back(std::move(key), std::move(value));
  }

  py::tuple to_tuple() const {
    py::tuple out(entries_.size());
    for (size_t i = 0; i < entries_.size(); ++i) out[i] = py::make_tuple(entries_[i].first, entries_[i].second);
    return out;
  }

 private:
  std::vector<std::pair<py::object, py::object>> entries_;
};

py::tuple to_tuple(const std::vector<py::object>& items) {
  py::tuple out(items.size());
  for (size_t i = 0; i < items.size(); ++i) out[i] = items[i];
  return out;
}

class Decoder {
 public:
  /** (kind, program or None, description, types, values) of a Model message. */
  py::tuple model(std::string_view data) {
    Reader r(data);
    uint32_t f = 0, w = 0, kind = 0;
    std::string_view program, description;
    bool has_program = false, has_description = false;
    while (r.next(f, w)) {
      if (f == 2 && w == kLen) {  // description
        if (has_description) throw NeedsProtobuf{};
        has_description = true;
        description = r.bytes();
      } else if (is_model_type_field(f) && w == kLen) {
        kind = f;
        if (f == kMlProgram) {
          if (has_program) throw NeedsProtobuf{};
          has_program = true;
          program = r.bytes();
        } else {
          r.skip(f, w);
        }
      } else {
        r.skip(f, w);
      }
    }
    py::object prog = kind == kMlProgram ? py::object(this->program(program)) : py::object(py::none());
    return py::make_tuple(kind, prog, this->description(description), types_, values_);
  }

  /** The same tuple for a bare MILSpec Program message (kind mlProgram, no description). */
  py::tuple bare_program(std::string_view data) {
    py::object prog = program(data);
    return py::make_tuple(kMlProgram, prog, py::make_tuple(py::tuple(), str("")), types_, values_);
  }

 private:
  // Strings --------------------------------------------------------------------------------------------------
  // Every string is decoded once per call: names repeat (each variable is defined once and read again) and
  // sharing the str objects lets Python reuse their cached hashes.
  py::object str(std::string_view s) {
    auto it = strs_.find(s);
    if (it != strs_.end()) return it->second;
    PyObject* o = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "strict");
    if (o == nullptr) {
      PyErr_Clear();
      throw MalformedError("a string field is not valid UTF-8");
    }
    auto obj = py::reinterpret_steal<py::object>(o);
    strs_.emplace(s, obj);
    return obj;
  }

  // Nesting guard for the recursive messages (types and values nest) ------------------------------------------
  class Depth {
   public:
    explicit Depth(int& d) : d_(d) {
      if (++d_ > Reader::kMaxDepth) throw MalformedError("messages nested too deeply");
    }
    ~Depth() { --d_; }
    Depth(const Depth&) = delete;
    Depth& operator=(const Depth&) = delete;

   private:
    int& d_;
  };

  // Types (MILSpec.ValueType), interned by their bytes ---------------------------------------------------------
  int type_id(std::string_view raw) {
    return intern(raw, type_ids_, types_, [this](std::string_view bytes) { return value_type(bytes); });
  }

  // The index of the message `raw` in `table`, decoding it with `decode` the first time its bytes are seen: a
  // program repeats the same types and values many times, and their descriptions are shared by index.
  template <class Decode>
  int intern(std::string_view raw, std::unordered_map<std::string_view, int>& ids, py::list& table, Decode decode) {
    auto it = ids.find(raw);
    if (it != ids.end()) return it->second;
    Depth guard(depth_);
    py::object desc = decode(raw);
    const int id = static_cast<int>(py::len(table));
    table.append(desc);
    ids.emplace(raw, id);
    return id;
  }

  py::object value_type(std::string_view raw) {
    std::string_view body;
    const uint32_t kind = oneof_message(raw, 5, body);  // tensorType, listType, tupleType, dictionaryType, stateType
    uint32_t f = 0, w = 0;
    switch (kind) {
      case 1: return tensor_type(body);
      case 2: {  // ListType: type = 1, length = 2 (a Dimension)
        Reader lr(body);
        std::string_view elem, length;
        Once lonce;
        while (lr.next(f, w)) {
          if (f == 1 && w == kLen) {
            lonce(1);
            elem = lr.bytes();
          } else if (f == 2 && w == kLen) {
            lonce(2);
            length = lr.bytes();
          } else {
            lr.skip(f, w);
          }
        }
        py::object len_obj = py::none();
        if (dimension(length, len_obj) != 1) len_obj = py::none();
        return py::make_tuple(str("listType"), type_id(elem), len_obj);
      }
      case 3: {  // TupleType: types = 1
        std::vector<py::object> ids;
        Reader tr(body);
        while (tr.next(f, w)) {
          if (f == 1 && w == kLen) {
            ids.push_back(py::int_(type_id(tr.bytes())));
          } else {
            tr.skip(f, w);
          }
        }
        return py::make_tuple(str("tupleType"), to_tuple(ids));
      }
      case 4: {  // DictionaryType: keyType = 1, valueType = 2
        std::string_view k, v;
        Reader dr(body);
        Once donce;
        while (dr.next(f, w)) {
          if ((f == 1 || f == 2) && w == kLen) {
            donce(f);
            (f == 1 ? k : v) = dr.bytes();
          } else {
            dr.skip(f, w);
          }
        }
        return py::make_tuple(str("dictionaryType"), type_id(k), type_id(v));
      }
      case 5: {  // StateType: wrappedType = 1
        std::string_view inner;
        Reader sr(body);
        Once sonce;
        while (sr.next(f, w)) {
          if (f == 1 && w == kLen) {
            sonce(1);
            inner = sr.bytes();
          } else {
            sr.skip(f, w);
          }
        }
        return py::make_tuple(str("stateType"), type_id(inner));
      }
      default: return py::make_tuple(py::none());
    }
  }

  // TensorType: dataType = 1 (enum), rank = 2 (int64), dimensions = 3; attributes = 4 are not read.
  py::object tensor_type(std::string_view body) {
    Reader r(body);
    uint32_t f = 0, w = 0;
    int64_t data_type = 0, rank = 0;
    std::vector<py::object> dims;
    while (r.next(f, w)) {
      if (f == 1 && w == kVarint) {
        data_type = static_cast<int32_t>(r.varint());  // enums are int32 on the wire
      } else if (f == 2 && w == kVarint) {
        rank = static_cast<int64_t>(r.varint());
      } else if (f == 3 && w == kLen) {
        py::object d = py::none();
        switch (dimension(r.bytes(), d)) {
          case 1: dims.push_back(d); break;                // constant size
          case 2: dims.push_back(py::none()); break;       // unknown, not variadic
          default: dims.push_back(str("*")); break;        // variadic, or no dimension kind at all
        }
      } else {
        r.skip(f, w);
      }
    }
    return py::make_tuple(str("tensorType"), data_type, rank, to_tuple(dims));
  }

  // Dimension: constant = 1 {size = 1}, unknown = 2 {variadic = 1}. Returns 1 (constant, size in `size`),
  // 2 (unknown, fixed rank), 3 (unknown variadic) or 0 (neither set).
  int dimension(std::string_view body, py::object& size) {
    Reader r(body);
    uint32_t f = 0, w = 0, kind = 0;
    std::string_view inner;
    Once once;
    while (r.next(f, w)) {
      if ((f == 1 || f == 2) && w == kLen) {
        once(f);
        kind = f;
        inner = r.bytes();
      } else {
        r.skip(f, w);
      }
    }
    if (kind == 0) return 0;
    uint64_t v = 0;
    Reader ir(inner);
    while (ir.next(f, w)) {
      if (f == 1 && w == kVarint) {
        v = ir.varint();
      } else {
        ir.skip(f, w);
      }
    }
    if (kind == 1) {
      size = py::int_(v);
      return 1;
    }
    return v != 0 ? 3 : 2;
  }

  // Values (MILSpec.Value), interned by their bytes: (type id, kind, a, b) ----------------------------------------
  int value_id(std::string_view raw) {
    return intern(raw, value_ids_, values_, [this](std::string_view bytes) { return value(bytes); });
  }

  // Value: docString = 1, type = 2, immediateValue = 3, blobFileValue = 5 (oneof value).
  py::object value(std::string_view raw) {
    Reader r(raw);
    uint32_t f = 0, w = 0, kind = 0;
    std::string_view type, body;
    Once once;
    while (r.next(f, w)) {
      if (f == 2 && w == kLen) {
        once(2);
        type = r.bytes();
      } else if ((f == 3 || f == 5) && w == kLen) {
        once(f);
        kind = f;
        body = r.bytes();
      } else {
        r.skip(f, w);
      }
    }
    const int tid = type_id(type);
    if (kind == 5) {  // BlobFileValue: fileName = 1, offset = 2
      Reader br(body);
      py::object name = str("");
      uint64_t offset = 0;
      while (br.next(f, w)) {
        if (f == 1 && w == kLen) {
          name = str(br.bytes());
        } else if (f == 2 && w == kVarint) {
          offset = br.varint();
        } else {
          br.skip(f, w);
        }
      }
      return py::make_tuple(tid, str("blobFileValue"), name, py::int_(offset));
    }
    if (kind == 3) {
      py::object ikind = py::none(), data = py::none();
      immediate(body, ikind, data);
      return py::make_tuple(tid, str("immediateValue"), ikind, data);
    }
    return py::make_tuple(tid, py::none(), py::none(), py::none());
  }

  // ImmediateValue: tensor = 1, tuple = 2, list = 3, dictionary = 4 (oneof value).
  void immediate(std::string_view raw, py::object& kind_out, py::object& data) {
    std::string_view body;
    const uint32_t kind = oneof_message(raw, 4, body);
    uint32_t f = 0, w = 0;
    if (kind == 1) {
      kind_out = str("tensor");
      data = tensor_value(body);
    } else if (kind == 2 || kind == 3) {  // TupleValue / ListValue: values = 1 (repeated Value)
      kind_out = str(kind == 2 ? "tuple" : "list");
      std::vector<py::object> ids;
      Reader vr(body);
      while (vr.next(f, w)) {
        if (f == 1 && w == kLen) {
          ids.push_back(py::int_(value_id(vr.bytes())));
        } else {
          vr.skip(f, w);
        }
      }
      data = to_tuple(ids);
    } else if (kind == 4) {  // DictionaryValue: values = 1 (repeated KeyValuePair {key = 1, value = 2})
      kind_out = str("dictionary");
      std::vector<py::object> pairs;
      Reader dr(body);
      while (dr.next(f, w)) {
        if (f == 1 && w == kLen) {
          std::string_view k, v;
          Reader kr(dr.bytes());
          Once konce;
          while (kr.next(f, w)) {
            if ((f == 1 || f == 2) && w == kLen) {
              konce(f);
              (f == 1 ? k : v) = kr.bytes();
            } else {
              kr.skip(f, w);
            }
          }
          const int kid = value_id(k);
          pairs.push_back(py::make_tuple(kid, value_id(v)));
        } else {
          dr.skip(f, w);
        }
      }
      data = to_tuple(pairs);
    }
  }

  // TensorValue: oneof floats = 1, ints = 2, bools = 3, strings = 4, longInts = 5, doubles = 6, bytes = 7, each
  // a message whose field 1 holds the values. Numbers come back as little-endian bytes of the wire width (f4,
  // i4, u1 0/1, i8, f8), strings as a tuple of str, bytes as bytes: (field name or None, data or None).
  py::object tensor_value(std::string_view raw) {
    static constexpr std::array<const char*, 8> kFields = {nullptr,    "floats",  "ints",    "bools",
                                                            "strings", "longInts", "doubles", "bytes"};
    std::string_view body;
    const uint32_t kind = oneof_message(raw, 7, body);
    uint32_t f = 0, w = 0;
    if (kind == 0) return py::make_tuple(py::none(), py::none());
    py::object name = str(kFields[kind]);
    Reader vr(body);
    if (kind == 4) {  // repeated string
      std::vector<py::object> items;
      while (vr.next(f, w)) {
        if (f == 1 && w == kLen) {
          items.push_back(str(vr.bytes()));
        } else {
          vr.skip(f, w);
        }
      }
      return py::make_tuple(name, to_tuple(items));
    }
    if (kind == 7) {  // bytes values = 1 (singular: the last occurrence wins)
      std::string_view last;
      while (vr.next(f, w)) {
        if (f == 1 && w == kLen) {
          last = vr.bytes();
        } else {
          vr.skip(f, w);
        }
      }
      return py::make_tuple(name, py::bytes(last.data(), last.size()));
    }
    std::string out;
    if (kind == 1 || kind == 6) {  // float / double: fixed-width little-endian, packed or one per tag
      const uint32_t fixed = kind == 1 ? kFixed32 : kFixed64;
      const size_t width = kind == 1 ? 4 : 8;
      while (vr.next(f, w)) {
        if (f == 1 && w == kLen) {
          std::string_view packed = vr.bytes();
          if (packed.size() % width) throw MalformedError("packed fixed-width field has a partial element");
          out.append(packed.data(), packed.size());
        } else if (f == 1 && w == fixed) {
          std::string_view one = vr.raw(width);
          out.append(one.data(), one.size());
        } else {
          vr.skip(f, w);
        }
      }
    } else {  // int32, bool, int64: varints, packed or one per tag
      const size_t width = kind == 2 ? 4 : kind == 3 ? 1 : 8;
      auto put = [&](uint64_t v) {
        if (kind == 3) v = v != 0;
        for (size_t i = 0; i < width; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
      };
      while (vr.next(f, w)) {
        if (f == 1 && w == kLen) {
          Reader packed(vr.bytes());
          while (!packed.at_end()) put(packed.varint());
        } else if (f == 1 && w == kVarint) {
          put(vr.varint());
        } else {
          vr.skip(f, w);
        }
      }
    }
    return py::make_tuple(name, py::bytes(out));
  }

  // Program structure ----------------------------------------------------------------------------------------
  // Program: version = 1, functions = 2 (map<string, Function>), docString = 3, attributes = 4.
  py::object program(std::string_view raw) {
    Reader r(raw);
    uint32_t f = 0, w = 0;
    MapEntries functions, attrs;
    while (r.next(f, w)) {
      if (f == 2 && w == kLen) {
        std::string_view key, body;
        map_entry(r.bytes(), key, body);
        functions.set(str(key), function(body));
      } else if (f == 4 && w == kLen) {
        std::string_view key, body;
        map_entry(r.bytes(), key, body);
        attrs.set(str(key), py::int_(value_id(body)));
      } else {
        r.skip(f, w);
      }
    }
    return py::make_tuple(functions.to_tuple(), attrs.to_tuple());
  }

  // A map entry: key = 1 (string), value = 2 (message).
  static void map_entry(std::string_view raw, std::string_view& key, std::string_view& value) {
    Reader r(raw);
    uint32_t f = 0, w = 0;
    Once once;
    while (r.next(f, w)) {
      if (f == 1 && w == kLen) {
        key = r.bytes();
      } else if (f == 2 && w == kLen) {
        once(2);
        value = r.bytes();
      } else {
        r.skip(f, w);
      }
    }
  }

  // Function: inputs = 1 (NamedValueType), opset = 2, block_specializations = 3 (map<string, Block>),
  // attributes = 4. Only the block of the function's own opset is decoded: (opset, inputs, attrs, block|None).
  py::object function(std::string_view raw) {
    Reader r(raw);
    uint32_t f = 0, w = 0;
    std::vector<py::object> inputs;
    std::string_view opset;
    std::vector<std::pair<std::string_view, std::string_view>> blocks;
    MapEntries attrs;
    while (r.next(f, w)) {
      if (f == 1 && w == kLen) {
        inputs.push_back(named_value_type(r.bytes()));
      } else if (f == 2 && w == kLen) {
        opset = r.bytes();
      } else if (f == 3 && w == kLen) {
        std::string_view key, body;
        map_entry(r.bytes(), key, body);
        blocks.emplace_back(key, body);
      } else if (f == 4 && w == kLen) {
        std::string_view key, body;
        map_entry(r.bytes(), key, body);
        attrs.set(str(key), py::int_(value_id(body)));
      } else {
        r.skip(f, w);
      }
    }
    py::object block = py::none();
    for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) {  // a repeated map key: the last entry wins
      if (it->first == opset) {
        block = this->block(it->second);
        break;
      }
    }
    return py::make_tuple(str(opset), to_tuple(inputs), attrs.to_tuple(), block);
  }

  // NamedValueType: name = 1, type = 2 -> (name, type id).
  py::object named_value_type(std::string_view raw) {
    Reader r(raw);
    uint32_t f = 0, w = 0;
    std::string_view name, type;
    Once once;
    while (r.next(f, w)) {
      if (f == 1 && w == kLen) {
        name = r.bytes();
      } else if (f == 2 && w == kLen) {
        once(2);
        type = r.bytes();
      } else {
        r.skip(f, w);
      }
    }
    return py::make_tuple(str(name), type_id(type));
  }

  // Block: inputs = 1, outputs = 2 (repeated string), operations = 3, attributes = 4 -> (ops, outputs).
  py::object block(std::string_view raw) {
    Reader r(raw);
    uint32_t f = 0, w = 0;
    std::vector<py::object> ops, outputs;
    while (r.next(f, w)) {
      if (f == 2 && w == kLen) {
        outputs.push_back(str(r.bytes()));
      } else if (f == 3 && w == kLen) {
        ops.push_back(operation(r.bytes()));
      } else {
        r.skip(f, w);
      }
    }
    return py::make_tuple(to_tuple(ops), to_tuple(outputs));
  }

  // Operation: type = 1, inputs = 2 (map<string, Argument>), outputs = 3, blocks = 4, attributes = 5 ->
  // (type, name or None, ((input, args), ...), ((attribute, value id), ...), ((output, type id), ...), #blocks).
  py::object operation(std::string_view raw) {
    Reader r(raw);
    uint32_t f = 0, w = 0;
    std::string_view type;
    MapEntries inputs, attrs;
    std::vector<py::object> outputs;
    py::object name = py::none();
    int nblocks = 0;
    while (r.next(f, w)) {
      if (f == 1 && w == kLen) {
        type = r.bytes();
      } else if (f == 2 && w == kLen) {
        std::string_view key, body;
        map_entry(r.bytes(), key, body);
        inputs.set(str(key), argument(body));
      } else if (f == 3 && w == kLen) {
        outputs.push_back(named_value_type(r.bytes()));
      } else if (f == 4 && w == kLen) {
        r.bytes();
        ++nblocks;
      } else if (f == 5 && w == kLen) {
        std::string_view key, body;
        map_entry(r.bytes(), key, body);
        std::string_view op_name;
        if (key == "name" && single_string(body, op_name)) {
          // Every op has one: return the string itself instead of interning a Value per op.
          name = str(op_name);
        } else {
          attrs.set(str(key), py::int_(value_id(body)));
        }
      } else {
        r.skip(f, w);
      }
    }
    return py::make_tuple(str(type), name, inputs.to_tuple(), attrs.to_tuple(), to_tuple(outputs), nblocks);
  }

  // Argument: arguments = 1 (repeated Binding: name = 1 | value = 2) -> tuple of str (a variable), int (a value
  // id) or None (an empty binding).
  py::object argument(std::string_view raw) {
    Reader r(raw);
    uint32_t f = 0, w = 0;
    std::vector<py::object> items;
    while (r.next(f, w)) {
      if (f == 1 && w == kLen) {
        Reader br(r.bytes());
        py::object item = py::none();
        Once once;
        while (br.next(f, w)) {
          if (f == 1 && w == kLen) {
            item = str(br.bytes());
          } else if (f == 2 && w == kLen) {
            once(2);
            item = py::int_(value_id(br.bytes()));
          } else {
            br.skip(f, w);
          }
        }
        items.push_back(item);
      } else {
        r.skip(f, w);
      }
    }
    return to_tuple(items);
  }

  // Whether a Value is exactly an immediate tensor of one string (an op's name), and that string.
  static bool single_string(std::string_view raw, std::string_view& out) {
    std::string_view body;
    if (!only_oneof(raw, 3, 1, 5, body, /*also=*/2)) return false;   // Value.immediateValue (type allowed)
    if (!only_oneof(body, 1, 1, 4, body)) return false;              // ImmediateValue.tensor
    if (!only_oneof(body, 4, 1, 7, body)) return false;              // TensorValue.strings
    Reader r(body);
    uint32_t f = 0, w = 0;
    int n = 0;
    while (r.next(f, w)) {
      if (f == 1 && w == kLen) {
        out = r.bytes();
        ++n;
      } else {
        return false;
      }
    }
    return n == 1;
  }

  // Whether `raw` sets oneof member `want` (of members lo..hi) exactly once and nothing else but field `also`;
  // its payload goes to `body`.
  static bool only_oneof(std::string_view raw, uint32_t want, uint32_t lo, uint32_t hi, std::string_view& body,
                         uint32_t also = 0) {
    Reader r(raw);
    uint32_t f = 0, w = 0;
    int n = 0;
    std::string_view found;
    while (r.next(f, w)) {
      if (f == want && w == kLen) {
        found = r.bytes();
        ++n;
      } else if (also != 0 && f == also) {
        r.skip(f, w);
      } else if (f >= lo && f <= hi) {
        return false;
      } else {
        r.skip(f, w);
      }
    }
    body = found;
    return n == 1;
  }

  // ModelDescription: input = 1 (FeatureDescription: name = 1, type = 3), defaultFunctionName = 21 ->
  // (((name, shape, flexibility kind, flexibility), ...) for the multi-array inputs (FeatureType.multiArrayType
  // = 5), default function name).
  py::tuple description(std::string_view raw) {
    Reader r(raw);
    uint32_t f = 0, w = 0;
    std::vector<py::object> out;
    std::string_view default_function;
    while (r.next(f, w)) {
      if (f == 21 && w == kLen) {
        default_function = r.bytes();
        continue;
      }
      if (f != 1 || w != kLen) {
        r.skip(f, w);
        continue;
      }
      Reader fr(r.bytes());
      std::string_view name, type;
      Once once;
      while (fr.next(f, w)) {
        if (f == 1 && w == kLen) {
          name = fr.bytes();
        } else if (f == 3 && w == kLen) {
          once(3);
          type = fr.bytes();
        } else {
          fr.skip(f, w);
        }
      }
      // FeatureType: the Type oneof is fields 1-8; the last one set decides.
      Reader tr(type);
      uint32_t kind = 0;
      std::string_view array;
      Once tonce;
      while (tr.next(f, w)) {
        if (f >= 1 && f <= 8 && w == kLen) {
          tonce(f);
          kind = f;
          if (f == 5) {
            array = tr.bytes();
          } else {
            tr.skip(f, w);
          }
        } else {
          tr.skip(f, w);
        }
      }
      if (kind == 5) out.push_back(array_feature(str(name), array));
    }
    return py::make_tuple(to_tuple(out), str(default_function));
  }

  // ArrayFeatureType: shape = 1 (repeated int64), enumeratedShapes = 21 {shapes = 1 {shape = 1}},
  // shapeRange = 31 {sizeRanges = 1 {lowerBound = 1 (uint64), upperBound = 2 (int64)}}.
  py::object array_feature(py::object name, std::string_view raw) {
    Reader r(raw);
    uint32_t f = 0, w = 0, flex = 0;
    std::vector<int64_t> shape;
    std::string_view flex_body;
    bool seen21 = false, seen31 = false;
    while (r.next(f, w)) {
      if (f == 1) {
        int64s(r, f, w, shape);
      } else if ((f == 21 || f == 31) && w == kLen) {
        bool& seen = f == 21 ? seen21 : seen31;
        if (seen) throw NeedsProtobuf{};
        seen = true;
        flex = f;
        flex_body = r.bytes();
      } else {
        r.skip(f, w);
      }
    }
    py::object kind = py::none();
    std::vector<py::object> items;
    Reader fr(flex_body);
    while (flex != 0 && fr.next(f, w)) {
      if (f != 1 || w != kLen) {
        fr.skip(f, w);
        continue;
      }
      Reader ir(fr.bytes());
      if (flex == 21) {
        std::vector<int64_t> s;
        while (ir.next(f, w)) {
          if (f == 1) {
            int64s(ir, f, w, s);
          } else {
            ir.skip(f, w);
          }
        }
        items.push_back(ints_tuple(s));
      } else {
        uint64_t lo = 0;
        int64_t hi = 0;
        while (ir.next(f, w)) {
          if (f == 1 && w == kVarint) {
            lo = ir.varint();
          } else if (f == 2 && w == kVarint) {
            hi = static_cast<int64_t>(ir.varint());
          } else {
            ir.skip(f, w);
          }
        }
        items.push_back(py::make_tuple(py::int_(lo), py::int_(hi)));
      }
    }
    if (flex != 0) kind = str(flex == 21 ? "enumeratedShapes" : "shapeRange");
    return py::make_tuple(name, ints_tuple(shape), kind, to_tuple(items));
  }

  // One occurrence of a repeated int64 field (packed or not) appended to `out`.
  static void int64s(Reader& r, uint32_t f, uint32_t w, std::vector<int64_t>& out) {
    if (w == kLen) {
      Reader packed(r.bytes());
      while (!packed.at_end()) out.push_back(static_cast<int64_t>(packed.varint()));
    } else if (w == kVarint) {
      out.push_back(static_cast<int64_t>(r.varint()));
    } else {
      r.skip(f, w);
    }
  }

  static py::tuple ints_tuple(const std::vector<int64_t>& v) {
    py::tuple out(v.size());
    for (size_t i = 0; i < v.size(); ++i) out[i] = py::int_(v[i]);
    return out;
  }

  py::list types_, values_;
  std::unordered_map<std::string_view, int> type_ids_, value_ids_;
  std::unordered_map<std::string_view, py::object> strs_;
  int depth_ = 0;
};

py::object decode(const py::bytes& data, bool model) {
  char* buf = nullptr;
  Py_ssize_t len = 0;
  if (PyBytes_AsStringAndSize(data.ptr(), &buf, &len) != 0) throw py::error_already_set();
  const std::string_view view(buf, static_cast<size_t>(len));
  try {
    Decoder d;
    return model ? d.model(view) : d.bare_program(view);
  } catch (const NeedsProtobuf&) {
    return py::none();
  } catch (const MalformedError& e) {
    throw py::value_error(e.what());
  }
}

}  // namespace

void init_milspec(py::module_& m) {
  m.def("milspec_decode", &decode, py::arg("data"), py::kw_only(), py::arg("model") = true,
        R"pbdoc(Decode a Core ML Model protobuf (``model=True``) or a bare MILSpec Program into the compact tuples
anekit.mil.importers.coreml assembles into a Program; None when the bytes use an encoding left to protobuf.
Raises ValueError for bytes that are not a well-formed protobuf message.)pbdoc");
}

}  // namespace anekit::bindings
