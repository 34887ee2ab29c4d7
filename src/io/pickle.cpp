#include "io/pickle.h"

#include <cstring>
#include <unordered_map>

#include "trm/error.h"

namespace trm::io {

namespace {

using Kind = PyValue::Kind;

PyRef make(Kind k) {
  auto v = std::make_shared<PyValue>();
  v->kind = k;
  return v;
}

// The globals a state dict needs. Storage types carry the element type of a persistent id.
struct StorageType {
  const char* name;
  DType dtype;
};
constexpr StorageType kStorageTypes[] = {
    {"torch.FloatStorage", DType::kF32}, {"torch.BFloat16Storage", DType::kBF16}, {"torch.HalfStorage", DType::kF16},
    {"torch.IntStorage", DType::kI32},   {"torch.LongStorage", DType::kI64},
};
constexpr const char* kOrderedDict = "collections.OrderedDict";
constexpr const char* kRebuildTensor = "torch._utils._rebuild_tensor_v2";
constexpr const char* kRebuildParameter = "torch._utils._rebuild_parameter";

const StorageType* storage_type(const std::string& global) {
  for (const auto& t : kStorageTypes)
    if (global == t.name) return &t;
  return nullptr;
}

bool allowed_global(const std::string& g) {
  return g == kOrderedDict || g == kRebuildTensor || g == kRebuildParameter || storage_type(g) != nullptr;
}

std::string allowed_list() {
  std::string s = std::string(kOrderedDict) + ", " + kRebuildTensor + ", " + kRebuildParameter;
  for (const auto& t : kStorageTypes) s += std::string(", ") + t.name;
  return s;
}

const char* opcode_name(std::uint8_t c) {
  switch (c) {
    case 0x69: return "INST";
    case 0x6F: return "OBJ";
    case 0x81: return "NEWOBJ";
    case 0x92: return "NEWOBJ_EX";
    case 0x82: case 0x83: case 0x84: return "EXT (the copyreg extension registry)";
    case 0x50: return "PERSID (text protocol)";
    case 0x49: return "INT (text protocol)";
    case 0x4C: return "LONG (text protocol)";
    case 0x46: return "FLOAT (text protocol)";
    case 0x53: return "STRING (text protocol)";
    case 0x56: return "UNICODE (text protocol)";
    case 0x8F: return "EMPTY_SET";
    case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    default: return "unknown";
  }
}

class Unpickler {
 public:
  Unpickler(const unsigned char* d, std::size_t n, const std::string& what) : d_(d), n_(n), what_(what) {}

  PyRef run(std::size_t* consumed) {
    for (;;) {
      op_at_ = pos_;
      const std::uint8_t c = byte();
      switch (c) {
        case 0x80: byte(); break;                     // PROTO n
        case 0x95: take(8); break;                    // FRAME: the framed bytes follow inline
        case 0x2E: {                                  // STOP
          if (stack_.size() != 1 || !marks_.empty()) fail("STOP with " + std::to_string(stack_.size()) + " values on the stack");
          if (consumed) *consumed = pos_;
          return stack_.back();
        }
        case 0x28: marks_.push_back(stack_.size()); break;  // MARK
        case 0x30: pop(); break;                            // POP
        case 0x31: pop_mark(); break;                       // POP_MARK
        case 0x32: push(top()); break;                      // DUP
        case 0x4E: push(make(Kind::kNone)); break;
        case 0x88: case 0x89: {
          auto v = make(Kind::kBool);
          v->b = c == 0x88;
          push(v);
          break;
        }
        case 0x4A: push_int(static_cast<std::int32_t>(le(4))); break;  // BININT
        case 0x4B: push_int(static_cast<std::int64_t>(le(1))); break;  // BININT1
        case 0x4D: push_int(static_cast<std::int64_t>(le(2))); break;  // BININT2
        case 0x8A: push_long(le(1)); break;                            // LONG1
        case 0x8B: push_long(le(4)); break;                            // LONG4
        case 0x47: {                                                   // BINFLOAT (big-endian)
          const unsigned char* p = take(8);
          std::uint64_t u = 0;
          for (int k = 0; k < 8; ++k) u = (u << 8) | p[k];
          auto v = make(Kind::kFloat);
          std::memcpy(&v->f, &u, 8);
          push(v);
          break;
        }
        case 0x58: push_str(Kind::kStr, le(4)); break;  // BINUNICODE
        case 0x8C: push_str(Kind::kStr, le(1)); break;  // SHORT_BINUNICODE
        case 0x8D: push_str(Kind::kStr, le(8)); break;  // BINUNICODE8
        case 0x54: push_str(Kind::kStr, le(4)); break;  // BINSTRING
        case 0x55: push_str(Kind::kStr, le(1)); break;  // SHORT_BINSTRING
        case 0x42: push_str(Kind::kBytes, le(4)); break;  // BINBYTES
        case 0x43: push_str(Kind::kBytes, le(1)); break;  // SHORT_BINBYTES
        case 0x8E: push_str(Kind::kBytes, le(8)); break;  // BINBYTES8
        case 0x29: push(make(Kind::kTuple)); break;       // EMPTY_TUPLE
        case 0x74: {                                      // TUPLE
          auto v = make(Kind::kTuple);
          v->items = pop_mark();
          push(v);
          break;
        }
        case 0x85: case 0x86: case 0x87: {  // TUPLE1..3
          const std::size_t k = c - 0x84u;
          if (stack_.size() < k + floor()) fail("TUPLE" + std::to_string(k) + " on a short stack");
          auto v = make(Kind::kTuple);
          v->items.assign(stack_.end() - static_cast<std::ptrdiff_t>(k), stack_.end());
          stack_.resize(stack_.size() - k);
          push(v);
          break;
        }
        case 0x5D: push(make(Kind::kList)); break;  // EMPTY_LIST
        case 0x6C: {                                // LIST
          auto v = make(Kind::kList);
          v->items = pop_mark();
          push(v);
          break;
        }
        case 0x61: {  // APPEND
          PyRef x = pop();
          expect(top(), Kind::kList, "APPEND")->items.push_back(x);
          break;
        }
        case 0x65: {  // APPENDS
          auto xs = pop_mark();
          auto& l = expect(top(), Kind::kList, "APPENDS")->items;
          l.insert(l.end(), xs.begin(), xs.end());
          break;
        }
        case 0x7D: push(make(Kind::kDict)); break;  // EMPTY_DICT
        case 0x64: {                                // DICT
          auto xs = pop_mark();
          auto v = make(Kind::kDict);
          set_items(*v, xs);
          push(v);
          break;
        }
        case 0x73: {  // SETITEM
          PyRef val = pop(), key = pop();
          expect(top(), Kind::kDict, "SETITEM")->dict.emplace_back(key, val);
          break;
        }
        case 0x75: {  // SETITEMS
          auto xs = pop_mark();
          set_items(*expect(top(), Kind::kDict, "SETITEMS"), xs);
          break;
        }
        case 0x63: {  // GLOBAL "module\nname\n"
          std::string module = line(), name = line();
          push_global(module + "." + name);
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          PyRef name = pop(), module = pop();
          if (module->kind != Kind::kStr || name->kind != Kind::kStr) fail("STACK_GLOBAL needs two strings");
          push_global(module->s + "." + name->s);
          break;
        }
        case 0x52: {  // REDUCE
          PyRef args = pop(), fn = pop();
          push(reduce(fn, args));
          break;
        }
        case 0x62: {  // BUILD: only a dict's attributes (a state dict's _metadata), which are dropped
          PyRef state = pop();
          const PyRef& obj = top();
          if (obj->kind != Kind::kDict || (state->kind != Kind::kDict && state->kind != Kind::kNone))
            fail(std::string("BUILD (setting object state) on a ") + kind_name(obj->kind) + " is not allowed");
          break;
        }
        case 0x51: push(persistent_load(pop())); break;  // BINPERSID
        case 0x71: memo_[static_cast<std::uint32_t>(le(1))] = top(); break;  // BINPUT
        case 0x72: memo_[static_cast<std::uint32_t>(le(4))] = top(); break;  // LONG_BINPUT
        case 0x94: memo_[static_cast<std::uint32_t>(memo_.size())] = top(); break;  // MEMOIZE
        case 0x70: memo_[decimal(line())] = top(); break;                   // PUT (text index)
        case 0x68: push(memo_get(static_cast<std::uint32_t>(le(1)))); break;  // BINGET
        case 0x6A: push(memo_get(static_cast<std::uint32_t>(le(4)))); break;  // LONG_BINGET
        case 0x67: push(memo_get(decimal(line()))); break;                  // GET (text index)
        default:
          fail("opcode 0x" + hex(c) + " (" + opcode_name(c) +
               ") is not allowed: a state dict needs only plain values, tensors and storages");
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& msg) const {
    throw Error(what_ + ": " + msg + " (at byte " + std::to_string(op_at_) + ")");
  }
  static std::string hex(std::uint8_t c) {
    const char* digits = "0123456789abcdef";
    return std::string{digits[c >> 4], digits[c & 15]};
  }
  std::uint8_t byte() { return *take(1); }
  const unsigned char* take(std::size_t k) {
    if (k > n_ - pos_) fail("the pickle ends in the middle of an opcode (truncated?)");
    const unsigned char* p = d_ + pos_;
    pos_ += k;
    return p;
  }
  std::uint64_t le(int k) {
    const unsigned char* p = take(static_cast<std::size_t>(k));
    std::uint64_t v = 0;
    for (int i = k - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
  }
  std::string line() {
    const std::size_t start = pos_;
    while (pos_ < n_ && d_[pos_] != '\n') ++pos_;
    if (pos_ >= n_) fail("the pickle ends inside a text argument (truncated?)");
    return std::string(reinterpret_cast<const char*>(d_ + start), pos_++ - start);
  }
  std::uint32_t decimal(const std::string& s) {
    std::uint64_t v = 0;
    if (s.empty() || s.size() > 9) fail("bad memo index \"" + s + "\"");
    for (char ch : s) {
      if (ch < '0' || ch > '9') fail("bad memo index \"" + s + "\"");
      v = v * 10 + static_cast<std::uint64_t>(ch - '0');
    }
    return static_cast<std::uint32_t>(v);
  }
  std::size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(PyRef v) { stack_.push_back(std::move(v)); }
  const PyRef& top() const {
    if (stack_.size() <= floor()) fail("an opcode needs a value on an empty stack");
    return stack_.back();
  }
  PyRef pop() {
    if (stack_.size() <= floor()) fail("an opcode needs a value on an empty stack");
    PyRef v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  std::vector<PyRef> pop_mark() {
    if (marks_.empty()) fail("an opcode needs a MARK and there is none");
    const std::size_t m = marks_.back();
    marks_.pop_back();
    std::vector<PyRef> xs(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return xs;
  }
  PyRef expect(const PyRef& v, Kind k, const char* op) const {
    if (v->kind != k) fail(std::string(op) + " on a " + kind_name(v->kind) + " (expected a " + kind_name(k) + ")");
    return v;
  }
  void set_items(PyValue& d, const std::vector<PyRef>& xs) {
    if (xs.size() % 2 != 0) fail("a dict needs key/value pairs, got an odd count");
    for (std::size_t k = 0; k < xs.size(); k += 2) d.dict.emplace_back(xs[k], xs[k + 1]);
  }
  PyRef memo_get(std::uint32_t idx) const {
    auto it = memo_.find(idx);
    if (it == memo_.end()) fail("memo index " + std::to_string(idx) + " was never stored");
    return it->second;
  }
  void push_int(std::int64_t x) {
    auto v = make(Kind::kInt);
    v->i = x;
    push(v);
  }
  void push_long(std::uint64_t nbytes) {
    const unsigned char* p = take(nbytes);
    if (nbytes <= 8) {
      std::uint64_t u = 0;
      for (std::size_t k = nbytes; k-- > 0;) u = (u << 8) | p[k];
      if (nbytes > 0 && nbytes < 8 && (p[nbytes - 1] & 0x80)) u |= ~std::uint64_t{0} << (8 * nbytes);  // sign
      push_int(static_cast<std::int64_t>(u));
    } else {
      auto v = make(Kind::kBigInt);
      v->s.assign(reinterpret_cast<const char*>(p), nbytes);
      push(v);
    }
  }
  void push_str(Kind k, std::uint64_t len) {
    auto v = make(k);
    const unsigned char* p = take(len);
    v->s.assign(reinterpret_cast<const char*>(p), len);
    push(v);
  }
  void push_global(const std::string& g) {
    if (!allowed_global(g))
      fail("refuses the global \"" + g + "\": a checkpoint may reference only the types a state dict needs (" +
           allowed_list() + "), so loading it can never run code");
    auto v = make(Kind::kGlobal);
    v->s = g;
    push(v);
  }

  std::int64_t as_int(const PyRef& v, const char* what) const {
    if (v->kind != Kind::kInt) fail(std::string(what) + " must be an int, got a " + kind_name(v->kind));
    return v->i;
  }
  std::vector<std::int64_t> int_tuple(const PyRef& v, const char* what) const {
    if (v->kind != Kind::kTuple) fail(std::string(what) + " must be a tuple, got a " + kind_name(v->kind));
    std::vector<std::int64_t> out;
    for (const auto& x : v->items) out.push_back(as_int(x, what));
    return out;
  }

  PyRef persistent_load(const PyRef& pid) {
    // ('storage', torch.<T>Storage, key, location, numel[, view_metadata]) — torch.save's id.
    if (pid->kind != Kind::kTuple || pid->items.size() < 5 || pid->items.size() > 6 || pid->items[0]->kind != Kind::kStr ||
        pid->items[0]->s != "storage")
      fail("a persistent id must be a ('storage', type, key, location, numel) tuple");
    const auto& it = pid->items;
    const StorageType* st = it[1]->kind == Kind::kGlobal ? storage_type(it[1]->s) : nullptr;
    if (st == nullptr) fail("a persistent id names no supported storage type");
    if (it[2]->kind != Kind::kStr || it[3]->kind != Kind::kStr) fail("a persistent id's key and location must be strings");
    if (it.size() == 6 && it[5]->kind != Kind::kNone) fail("storage views (legacy view_metadata) are not supported");
    auto s = std::make_shared<TorchStorage>();
    s->dtype = st->dtype;
    s->key = it[2]->s;
    s->location = it[3]->s;
    s->numel = as_int(it[4], "a storage's element count");
    if (s->numel < 0) fail("storage \"" + s->key + "\" has a negative element count");
    auto v = make(Kind::kStorage);
    v->storage = std::move(s);
    return v;
  }

  PyRef reduce(const PyRef& fn, const PyRef& args) {
    if (fn->kind != Kind::kGlobal) fail(std::string("REDUCE calls a ") + kind_name(fn->kind) + ", not an accepted global");
    if (args->kind != Kind::kTuple) fail("REDUCE arguments must be a tuple");
    const auto& a = args->items;
    if (fn->s == kOrderedDict) {
      if (!a.empty()) fail("collections.OrderedDict is accepted only without arguments");
      return make(Kind::kDict);
    }
    if (fn->s == kRebuildParameter) {
      if (a.size() != 3 || a[0]->kind != Kind::kTensor) fail("torch._utils._rebuild_parameter needs (tensor, requires_grad, hooks)");
      return a[0];
    }
    if (fn->s == kRebuildTensor) {
      if (a.size() != 6 && a.size() != 7) fail("torch._utils._rebuild_tensor_v2 needs 6 or 7 arguments, got " + std::to_string(a.size()));
      if (a[0]->kind != Kind::kStorage) fail("torch._utils._rebuild_tensor_v2's first argument must be a storage");
      if (a[5]->kind != Kind::kDict || !a[5]->dict.empty()) fail("tensors with backward hooks are not supported");
      auto v = make(Kind::kTensor);
      auto& t = v->tensor;
      t.storage = a[0]->storage;
      t.offset = as_int(a[1], "a tensor's storage offset");
      t.shape = int_tuple(a[2], "a tensor's size");
      t.stride = int_tuple(a[3], "a tensor's stride");
      check_view(t);
      return v;
    }
    fail("REDUCE may not call \"" + fn->s + "\" (a storage type is accepted only inside a persistent id)");
  }

  // The view must stay inside its storage: offset + sum((size_i - 1) * stride_i) < numel.
  void check_view(const TorchTensorView& t) const {
    const TorchStorage& s = *t.storage;
    if (t.shape.size() != t.stride.size()) fail("a tensor's size and stride have different lengths");
    if (t.offset < 0) fail("a tensor has a negative storage offset");
    std::int64_t last = t.offset, numel = 1;
    for (std::size_t k = 0; k < t.shape.size(); ++k) {
      if (t.shape[k] < 0 || t.stride[k] < 0) fail("a tensor has a negative size or stride");
      if (__builtin_mul_overflow(numel, t.shape[k], &numel)) fail("a tensor's element count overflows");
      std::int64_t reach = 0;
      if (t.shape[k] > 0 && (__builtin_mul_overflow(t.shape[k] - 1, t.stride[k], &reach) ||
                             __builtin_add_overflow(last, reach, &last)))
        fail("a tensor's extent overflows");
    }
    if (numel > 0 && last >= s.numel)
      fail("storage offsets out of range: a tensor (offset " + std::to_string(t.offset) + ", " + std::to_string(numel) +
           " elements) reaches element " + std::to_string(last) + " of storage \"" + s.key + "\", which holds " +
           std::to_string(s.numel));
  }

  const unsigned char* d_;
  std::size_t n_, pos_ = 0, op_at_ = 0;
  const std::string& what_;
  std::vector<PyRef> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint32_t, PyRef> memo_;
};

}  // namespace

const char* kind_name(PyValue::Kind k) {
  switch (k) {
    case Kind::kNone: return "None";
    case Kind::kBool: return "bool";
    case Kind::kInt: case Kind::kBigInt: return "int";
    case Kind::kFloat: return "float";
    case Kind::kStr: return "str";
    case Kind::kBytes: return "bytes";
    case Kind::kTuple: return "tuple";
    case Kind::kList: return "list";
    case Kind::kDict: return "dict";
    case Kind::kGlobal: return "global";
    case Kind::kStorage: return "storage";
    case Kind::kTensor: return "tensor";
  }
  return "?";
}

PyRef unpickle(const unsigned char* data, std::size_t n, const std::string& what, std::size_t* consumed) {
  return Unpickler(data, n, what).run(consumed);
}

std::string torch_storage_name(DType t) {
  for (const auto& s : kStorageTypes)
    if (s.dtype == t) return std::string(s.name).substr(6);  // drop "torch."
  throw Error("no torch storage type for dtype " + dtype_name(t));
}

std::vector<std::int64_t> contiguous_strides(const std::vector<std::int64_t>& shape) {
  std::vector<std::int64_t> st(shape.size(), 1);
  for (std::size_t k = shape.size(); k-- > 1;) st[k - 1] = st[k] * shape[k];
  return st;
}

PickleWriter::PickleWriter() {
  op(0x80);
  op(2);
}

void PickleWriter::integer(std::int64_t v) {
  if (v >= 0 && v < 256) {
    op(0x4B);
    op(static_cast<std::uint8_t>(v));
  } else if (v >= 0 && v < 65536) {
    op(0x4D);
    op(static_cast<std::uint8_t>(v));
    op(static_cast<std::uint8_t>(v >> 8));
  } else if (v >= INT32_MIN && v <= INT32_MAX) {
    op(0x4A);
    for (int k = 0; k < 4; ++k) op(static_cast<std::uint8_t>(static_cast<std::uint64_t>(v) >> (8 * k)));
  } else {
    // LONG1: minimal little-endian two's complement.
    std::vector<std::uint8_t> b;
    std::int64_t x = v;
    for (;;) {
      b.push_back(static_cast<std::uint8_t>(x & 0xFF));
      const std::int64_t rest = x >> 8;
      const bool sign = (b.back() & 0x80) != 0;
      if ((rest == 0 && !sign) || (rest == -1 && sign)) break;
      x = rest;
    }
    op(0x8A);
    op(static_cast<std::uint8_t>(b.size()));
    out_.insert(out_.end(), b.begin(), b.end());
  }
}

void PickleWriter::str(const std::string& s) {
  op(0x58);
  for (int k = 0; k < 4; ++k) op(static_cast<std::uint8_t>(s.size() >> (8 * k)));
  out_.insert(out_.end(), s.begin(), s.end());
}

void PickleWriter::global(const std::string& module, const std::string& name) {
  op(0x63);
  out_.insert(out_.end(), module.begin(), module.end());
  op('\n');
  out_.insert(out_.end(), name.begin(), name.end());
  op('\n');
}

void PickleWriter::torch_tensor(DType dtype, const std::string& key, std::int64_t storage_numel, std::int64_t offset,
                                const std::vector<std::int64_t>& shape, const std::vector<std::int64_t>& stride) {
  global("torch._utils", "_rebuild_tensor_v2");
  mark();
  mark();
  str("storage");
  global("torch", torch_storage_name(dtype));
  str(key);
  str("cpu");
  integer(storage_numel);
  tuple();
  binpersid();
  integer(offset);
  mark();
  for (auto d : shape) integer(d);
  tuple();
  mark();
  for (auto d : stride) integer(d);
  tuple();
  boolean(false);
  global("collections", "OrderedDict");
  empty_tuple();
  reduce();
  tuple();
  reduce();
}

}  // namespace trm::io
