// A restricted unpickler and a small pickler for PyTorch state dicts (internal to src/io).
//
// A pickle is a program: the standard unpickler imports and calls whatever globals it names, so a
// checkpoint can run code (`os.system`). This one builds only plain values (None, bools, ints,
// floats, strings, bytes, tuples, lists, dicts) and accepts exactly the globals a state dict
// needs:
//   collections.OrderedDict                    called with no arguments (an empty dict)
//   torch._utils._rebuild_tensor_v2            (storage, offset, size, stride, requires_grad, hooks[, metadata])
//   torch._utils._rebuild_parameter            (tensor, requires_grad, hooks)
//   torch.{Float,BFloat16,Half,Int,Long}Storage  only inside a persistent storage id
// Any other global, and the opcodes that build arbitrary objects (INST, OBJ, NEWOBJ, NEWOBJ_EX,
// the extension registry), are refused with an Error naming them. Nothing is ever executed: a
// "call" of an accepted global is interpreted here, by name.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "trm/io/safetensors.h"  // DType

namespace trm::io {

struct PyValue;
using PyRef = std::shared_ptr<PyValue>;

// A storage named by a persistent id ('storage', torch.<T>Storage, key, location, numel).
struct TorchStorage {
  DType dtype = DType::kF32;
  std::string key;       // the zip entry data/<key>, or the legacy format's storage key
  std::string location;  // "cpu", "cuda:0", ...: informational
  std::int64_t numel = 0;
};

// A tensor as _rebuild_tensor_v2 describes it: a strided view of a storage (offset in elements).
struct TorchTensorView {
  std::shared_ptr<const TorchStorage> storage;
  std::int64_t offset = 0;
  std::vector<std::int64_t> shape, stride;
};

struct PyValue {
  enum class Kind { kNone, kBool, kInt, kBigInt, kFloat, kStr, kBytes, kTuple, kList, kDict, kGlobal, kStorage, kTensor };
  Kind kind = Kind::kNone;
  bool b = false;
  std::int64_t i = 0;
  double f = 0;
  std::string s;                               // str, bytes, a big int's little-endian bytes, a global's "module.name"
  std::vector<PyRef> items;                    // tuple, list
  std::vector<std::pair<PyRef, PyRef>> dict;   // insertion order
  std::shared_ptr<const TorchStorage> storage;
  TorchTensorView tensor;
};

const char* kind_name(PyValue::Kind k);

// Unpickles one pickle from data[0, n). `what` names the source in errors (e.g. "file: data.pkl").
// *consumed (if given) receives the bytes up to and including STOP, so consecutive pickles (the
// legacy torch format) can be read one after the other.
PyRef unpickle(const unsigned char* data, std::size_t n, const std::string& what, std::size_t* consumed = nullptr);

// Emits protocol-2 pickles (what torch.save writes by default). Only what a state dict needs.
class PickleWriter {
 public:
  PickleWriter();  // writes PROTO 2
  void mark() { op(0x28); }
  void none() { op(0x4E); }
  void boolean(bool v) { op(v ? 0x88 : 0x89); }
  void integer(std::int64_t v);
  void str(const std::string& s);
  void global(const std::string& module, const std::string& name);
  void empty_tuple() { op(0x29); }
  void tuple() { op(0x74); }         // from the last mark
  void empty_dict() { op(0x7D); }
  void setitems() { op(0x75); }      // from the last mark
  void reduce() { op(0x52); }
  void build() { op(0x62); }
  void binpersid() { op(0x51); }
  void stop() { op(0x2E); }
  void raw(std::uint8_t opcode) { op(opcode); }  // tests: hand-made (malformed or hostile) pickles
  void raw_bytes(const std::string& bytes) { out_.insert(out_.end(), bytes.begin(), bytes.end()); }
  const std::vector<unsigned char>& bytes() const { return out_; }

  // One tensor exactly as torch.save pickles it: _rebuild_tensor_v2 over a persistent storage
  // id, contiguous strides. storage_numel may exceed the tensor's numel (tests: views).
  void torch_tensor(DType dtype, const std::string& key, std::int64_t storage_numel, std::int64_t offset,
                    const std::vector<std::int64_t>& shape, const std::vector<std::int64_t>& stride);

 private:
  void op(std::uint8_t c) { out_.push_back(c); }
  std::vector<unsigned char> out_;
};

// torch's storage class name for a dtype ("FloatStorage", ...); throws for dtypes torch.save
// state dicts of TRM/HRM never hold.
std::string torch_storage_name(DType t);
std::vector<std::int64_t> contiguous_strides(const std::vector<std::int64_t>& shape);

}  // namespace trm::io
