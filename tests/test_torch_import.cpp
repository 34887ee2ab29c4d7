// PyTorch checkpoints in and out: the zip container, the restricted unpickler, the torch file
// reader and writer, `trm import` of the official TRM/HRM layouts (fixtures written by real
// torch.save, reference/make_torch_fixtures.py) against the PyTorch reference's logits and q
// values, the round trip through `trm export`, every refusal, and bounded memory on a 1 GiB file.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "expect_error.h"
#include "fixture_util.h"
#include "io/pickle.h"
#include "io/zip_reader.h"
#include "io/zip_writer.h"
#include "temp_dir.h"
#include "trm/convert/pytorch.h"
#include "trm/io/torch_checkpoint.h"
#include "trm/train/act.h"
#include "trm/train/checkpoint.h"

namespace trm {
namespace {

namespace fs = std::filesystem;
using test_util::expect_error;
using test_util::TempDir;

std::string torch_fixture(const std::string& name) { return std::string(TRM_FIXTURE_DIR) + "/torch/" + name; }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// A zip archive made by ZipWriter from (name, bytes) pairs.
void write_zip(const std::string& path, const std::vector<std::pair<std::string, std::string>>& entries, bool zip64 = false) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  io::ZipWriter z(f, path, zip64);
  for (const auto& [n, b] : entries) z.add_entry(n, b.data(), b.size());
  z.finish();
  std::fclose(f);
}

std::string bytes_of(const std::vector<unsigned char>& v) { return std::string(v.begin(), v.end()); }

std::string f32_bytes(const std::vector<float>& v) { return std::string(reinterpret_cast<const char*>(v.data()), 4 * v.size()); }

// ---------------------------------------------------------------------------------------------
// The zip container

TEST(Zip, Crc32OfTheCheckString) {
  const char* s = "123456789";
  EXPECT_EQ(io::crc32_update(0, s, 9), 0xCBF43926u);
  // Continued in pieces: the same value.
  EXPECT_EQ(io::crc32_update(io::crc32_update(0, s, 4), s + 4, 5), 0xCBF43926u);
}

TEST(Zip, WriterAndReaderRoundTripWithAndWithoutZip64) {
  for (bool zip64 : {false, true}) {
    TempDir d("zip");
    const std::string big(100000, 'x');
    write_zip(d / "a.zip", {{"archive/data.pkl", "hello"}, {"archive/data/0", big}, {"archive/version", "3\n"}}, zip64);
    io::ZipReader z(d / "a.zip");
    ASSERT_EQ(z.entries().size(), 3u);
    EXPECT_EQ(z.entries()[1].name, "archive/data/0");
    for (const auto& e : z.entries()) EXPECT_EQ(e.data_offset % 64, 0u) << e.name << " is not 64-byte aligned";
    EXPECT_EQ(bytes_of(z.read_entry(*z.find("archive/data.pkl"))), "hello");
    EXPECT_EQ(bytes_of(z.read_entry(*z.find("archive/data/0"))), big);
    EXPECT_EQ(z.find("archive/data/1"), nullptr);
  }
}

TEST(Zip, TruncatedArchivesAreRefused) {
  TempDir d("zip");
  write_zip(d / "a.zip", {{"archive/data.pkl", "hello"}, {"archive/data/0", std::string(5000, 'y')}});
  const std::string whole = read_file(d / "a.zip");
  for (std::size_t cut : {whole.size() / 2, whole.size() - 30, std::size_t{10}, std::size_t{0}}) {
    write_file(d / "cut.zip", whole.substr(0, cut));
    expect_error([&] { io::ZipReader z(d / "cut.zip"); }, {d / "cut.zip", "not a valid zip archive"});
  }
  // A torch checkpoint cut short: the same, through TorchCheckpoint.
  const std::string ck = read_file(torch_fixture("trm_att_fp32/step_100"));
  write_file(d / "step_1", ck.substr(0, ck.size() / 2));
  expect_error([&] { TorchCheckpoint::read(d / "step_1"); }, {d / "step_1", "truncated"});
}

TEST(Zip, CorruptedEntryFailsItsCrc) {
  TempDir d("zip");
  write_zip(d / "a.zip", {{"archive/data.pkl", "hello world"}});
  std::string b = read_file(d / "a.zip");
  b[b.find("hello")] = 'j';
  write_file(d / "a.zip", b);
  io::ZipReader z(d / "a.zip");
  expect_error([&] { z.read_entry(z.entries()[0]); }, {"CRC-32"});
}

TEST(Zip, CompressedEntriesAreRefused) {
  TempDir d("zip");
  write_zip(d / "a.zip", {{"archive/data.pkl", "hello"}});
  std::string b = read_file(d / "a.zip");
  // The central directory's method field (offset 10 after its signature) := 8 (deflate).
  const auto cd = b.find(std::string("PK\x01\x02", 4));
  ASSERT_NE(cd, std::string::npos);
  b[cd + 10] = 8;
  write_file(d / "a.zip", b);
  io::ZipReader z(d / "a.zip");
  expect_error([&] { z.read_entry(z.entries()[0]); }, {"archive/data.pkl", "compressed"});
}

// ---------------------------------------------------------------------------------------------
// The restricted unpickler

io::PyRef unpickle(const io::PickleWriter& p) { return io::unpickle(p.bytes().data(), p.bytes().size(), "test.pkl"); }

TEST(Pickle, ForeignGlobalsAreRefusedBeforeAnythingRuns) {
  for (auto [module, name] : {std::pair<const char*, const char*>{"os", "system"}, {"posix", "system"},
                              {"builtins", "eval"}, {"torch", "load"}, {"torch._utils", "_rebuild_device_tensor_from_numpy"}}) {
    io::PickleWriter p;
    p.global(module, name);
    p.str("echo pwned");
    p.raw(0x85);  // TUPLE1
    p.reduce();
    p.stop();
    expect_error([&] { unpickle(p); }, {"test.pkl", std::string("refuses the global \"") + module + "." + name + "\""});
  }
  // STACK_GLOBAL (protocol 4) spells the same call differently.
  io::PickleWriter p;
  p.str("os");
  p.str("system");
  p.raw(0x93);
  p.stop();
  expect_error([&] { unpickle(p); }, {"os.system"});
}

TEST(Pickle, ObjectBuildingOpcodesAreRefused) {
  for (std::uint8_t op : {0x81, 0x92, 0x69, 0x6F, 0x82}) {
    io::PickleWriter p;
    p.empty_tuple();
    p.empty_tuple();
    p.raw(op);
    p.stop();
    expect_error([&] { unpickle(p); }, {"test.pkl", "is not allowed"});
  }
  // BUILD on anything but a dict would set an object's state.
  io::PickleWriter p;
  p.raw(0x5D);  // EMPTY_LIST
  p.empty_dict();
  p.build();
  p.stop();
  expect_error([&] { unpickle(p); }, {"BUILD"});
}

TEST(Pickle, MalformedPicklesAreErrors) {
  io::PickleWriter p;
  p.mark();
  p.str("abc");
  const auto& b = p.bytes();
  expect_error([&] { io::unpickle(b.data(), b.size() - 1, "cut.pkl"); }, {"cut.pkl", "truncated"});
  io::PickleWriter q;
  q.raw(0x68);  // BINGET 7: never stored
  q.raw(7);
  q.stop();
  expect_error([&] { unpickle(q); }, {"memo index 7"});
  io::PickleWriter r;
  r.raw(0x30);  // POP on an empty stack
  expect_error([&] { unpickle(r); }, {"empty stack"});
}

TEST(Pickle, PlainValuesAndIntegers) {
  io::PickleWriter p;
  p.mark();
  for (std::int64_t v : {0LL, 255LL, 256LL, 65535LL, 65536LL, -1LL, -129LL, 2147483647LL, 2147483648LL, -2147483649LL,
                         (1LL << 40) + 3, -(1LL << 62)})
    p.integer(v);
  p.none();
  p.boolean(true);
  p.str("x");
  p.tuple();
  p.stop();
  const auto v = unpickle(p);
  ASSERT_EQ(v->kind, io::PyValue::Kind::kTuple);
  ASSERT_EQ(v->items.size(), 15u);
  const std::int64_t expect[] = {0, 255, 256, 65535, 65536, -1, -129, 2147483647LL, 2147483648LL, -2147483649LL,
                                 (1LL << 40) + 3, -(1LL << 62)};
  for (int i = 0; i < 12; ++i) EXPECT_EQ(v->items[static_cast<std::size_t>(i)]->i, expect[i]) << i;
  EXPECT_EQ(v->items[12]->kind, io::PyValue::Kind::kNone);
  EXPECT_TRUE(v->items[13]->b);
  EXPECT_EQ(v->items[14]->s, "x");
}

// ---------------------------------------------------------------------------------------------
// The torch file reader and writer

// A hand-made torch.save zip: data.pkl of one state dict plus raw storages.
void write_torch_zip(const std::string& path, const io::PickleWriter& p, const std::vector<std::pair<std::string, std::string>>& storages) {
  std::vector<std::pair<std::string, std::string>> e{{"archive/data.pkl", bytes_of(p.bytes())}};
  for (const auto& [k, b] : storages) e.push_back({"archive/data/" + k, b});
  e.push_back({"archive/version", "3\n"});
  write_zip(path, e);
}

// {name: tensor} with one storage per tensor unless a test says otherwise.
io::PickleWriter state_dict_pickle(const std::vector<std::tuple<std::string, std::string, std::int64_t, std::int64_t,
                                                                std::vector<std::int64_t>, std::vector<std::int64_t>>>& ts) {
  io::PickleWriter p;
  p.global("collections", "OrderedDict");
  p.empty_tuple();
  p.reduce();
  p.mark();
  for (const auto& [name, key, storage_numel, offset, shape, stride] : ts) {
    p.str(name);
    p.torch_tensor(DType::kF32, key, storage_numel, offset, shape, stride);
  }
  p.setitems();
  p.stop();
  return p;
}

TEST(TorchCheckpoint, WriterOutputReadsBackInEveryDtype) {
  TempDir d("torch");
  TorchCheckpointWriter w;
  const std::vector<float> a = {1.5f, -2.25f, 3.0f, 0.0f, 0.125f, -7.0f};
  std::vector<std::uint16_t> h(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) h[i] = float_to_bf16(a[i]);
  const std::vector<std::int64_t> ints = {1, -2, 3};
  // float16 1.5, -2.25, 3, 0, 0.125, -7
  const std::vector<std::uint16_t> f16 = {0x3E00, 0xC080, 0x4200, 0x0000, 0x3000, 0xC700};
  w.add_copy("a", DType::kF32, {2, 3}, a.data());
  w.add_copy("b", DType::kBF16, {6}, h.data());
  w.add_copy("h", DType::kF16, {3, 2}, f16.data());
  w.add_copy("i", DType::kI64, {3}, ints.data());
  w.write(d / "x.pt");
  const TorchCheckpoint ck = TorchCheckpoint::read(d / "x.pt");
  EXPECT_EQ(ck.format(), "zip");
  ASSERT_EQ(ck.tensors().size(), 4u);
  EXPECT_EQ(ck.tensors()[0].shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(ck.floats(ck.tensors()[0]), a);
  EXPECT_EQ(ck.floats(*ck.find("b")), a);  // these values are exact in bfloat16
  EXPECT_EQ(ck.floats(*ck.find("h")), a);  // and in float16
  EXPECT_EQ(ck.find("h")->dtype, DType::kF16);
  EXPECT_EQ(ck.find("i")->dtype, DType::kI64);
  expect_error([&] { ck.floats(*ck.find("i")); }, {"\"i\"", "I64"});
  // Chunked reads hand over the same values.
  std::vector<float> chunks;
  ck.read_floats(ck.tensors()[0], [&](const float* p, std::size_t n) {
    EXPECT_LE(n, 4u);
    chunks.insert(chunks.end(), p, p + n);
  }, 4);
  EXPECT_EQ(chunks, a);
}

TEST(TorchCheckpoint, Bf16AndF16Conversions) {
  EXPECT_EQ(float_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(float_to_bf16(1.00390625f), 0x3F80);   // halfway: ties to even (down)
  EXPECT_EQ(float_to_bf16(1.01171875f), 0x3F82);   // halfway: ties to even (up)
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(std::nanf("")))));
  EXPECT_EQ(f16_to_float(0x3C00), 1.0f);
  EXPECT_EQ(f16_to_float(0xC000), -2.0f);
  EXPECT_EQ(f16_to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_TRUE(std::isinf(f16_to_float(0x7C00)));
}

TEST(TorchCheckpoint, StridedViewsAndSharedStoragesAreGathered) {
  TempDir d("torch");
  // One storage of 6 floats; "t" is its transpose (stride [1, 3]), "tail" a view at offset 4.
  const std::vector<float> s = {0, 1, 2, 3, 4, 5};
  write_torch_zip(d / "v.pt",
                  state_dict_pickle({{"t", "0", 6, 0, {3, 2}, {1, 3}}, {"tail", "0", 6, 4, {2}, {1}}}),
                  {{"0", f32_bytes(s)}});
  const TorchCheckpoint ck = TorchCheckpoint::read(d / "v.pt");
  EXPECT_FALSE(ck.find("t")->contiguous());
  EXPECT_EQ(ck.floats(*ck.find("t")), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(ck.floats(*ck.find("tail")), (std::vector<float>{4, 5}));
}

TEST(TorchCheckpoint, StorageOffsetsOutOfRangeAreRefused) {
  TempDir d("torch");
  const std::vector<float> s(6, 1.0f);
  // A view reaching past its storage.
  write_torch_zip(d / "a.pt", state_dict_pickle({{"w", "0", 6, 4, {3}, {1}}}), {{"0", f32_bytes(s)}});
  expect_error([&] { TorchCheckpoint::read(d / "a.pt"); }, {d / "a.pt", "storage offsets out of range"});
  // A storage entry shorter than its persistent id declares.
  write_torch_zip(d / "b.pt", state_dict_pickle({{"w", "0", 100, 0, {100}, {1}}}), {{"0", f32_bytes(s)}});
  expect_error([&] { TorchCheckpoint::read(d / "b.pt"); }, {d / "b.pt", "storage offsets out of range", "archive/data/0"});
  // A storage that is not in the archive at all.
  write_torch_zip(d / "c.pt", state_dict_pickle({{"w", "7", 6, 0, {6}, {1}}}), {{"0", f32_bytes(s)}});
  expect_error([&] { TorchCheckpoint::read(d / "c.pt"); }, {"archive/data/7"});
}

TEST(TorchCheckpoint, CorruptedStorageFailsItsCrcWhenRead) {
  TempDir d("torch");
  const std::vector<float> v(1000, 0.5f);
  TorchCheckpointWriter w;
  w.add_copy("w", DType::kF32, {1000}, v.data());
  w.write(d / "x.pt");
  std::string b = read_file(d / "x.pt");
  const TorchCheckpoint good = TorchCheckpoint::read(d / "x.pt");
  b[good.tensors()[0].storage_file_offset + 100] ^= 1;
  write_file(d / "x.pt", b);
  const TorchCheckpoint ck = TorchCheckpoint::read(d / "x.pt");
  expect_error([&] { ck.floats(ck.tensors()[0]); }, {"\"w\"", "CRC-32"});
}

TEST(TorchCheckpoint, ForeignGlobalInARealTorchSaveIsRefused) {
  // reference/make_torch_fixtures.py: torch.save({"x": ..., "payload": <object reducing to os.system>}).
  expect_error([&] { TorchCheckpoint::read(torch_fixture("evil/step_1")); },
               {"evil/step_1", "refuses the global \"posix.system\""});
}

TEST(TorchCheckpoint, NotATorchFile) {
  TempDir d("torch");
  write_file(d / "x", "hello, world");
  expect_error([&] { TorchCheckpoint::read(d / "x"); }, {d / "x", "not a PyTorch checkpoint"});
  write_zip(d / "y.zip", {{"a/b.txt", "hi"}});
  expect_error([&] { TorchCheckpoint::read(d / "y.zip"); }, {"data.pkl"});
}

// ---------------------------------------------------------------------------------------------
// trm import: the fixtures against the PyTorch reference

// The reference's outputs for the imported model: two supervision steps from the reset carry.
void expect_matches_reference(const std::string& ckpt, const std::string& fixture) {
  const SafeTensorsFile ref = SafeTensorsFile::read(torch_fixture(fixture + "/reference.safetensors"));
  auto be = make_cpu_backend();
  auto model = load_model_from_checkpoint(ckpt, *be, true);
  const ModelConfig& c = model->config();
  const int B = static_cast<int>(ref.entry("batch.inputs").shape[0]);
  const auto inputs = ref.ints("batch.inputs", {B, c.seq_len});
  const auto ids = ref.ints("batch.puzzle_identifiers", {B});
  model->reserve(B, false);
  InferenceCarry carry(*model, B);
  carry.reset(B);
  const Batch batch{B, inputs.data(), nullptr, ids.data()};
  for (int step = 1; step <= 2; ++step) {
    carry.forward(batch);
    const std::string s = "step" + std::to_string(step);
    test_util::expect_close_to_fixture(ref, fixture, s + " logits",
                                       test_util::to_host(*be, model->logits(), static_cast<std::int64_t>(B) * c.seq_len * c.vocab_size),
                                       s + ".logits", test_util::kTol);
    const auto q = test_util::to_host(*be, model->q(), 2 * B);
    std::vector<float> halt(static_cast<std::size_t>(B)), cont(static_cast<std::size_t>(B));
    for (int b = 0; b < B; ++b) halt[static_cast<std::size_t>(b)] = q[2 * static_cast<std::size_t>(b)], cont[static_cast<std::size_t>(b)] = q[2 * static_cast<std::size_t>(b) + 1];
    test_util::expect_close_to_fixture(ref, fixture, s + " q_halt", halt, s + ".q_halt", test_util::kTol);
    test_util::expect_close_to_fixture(ref, fixture, s + " q_continue", cont, s + ".q_continue", test_util::kTol);
  }
}

ImportOptions fixture_import(const std::string& fixture, const std::string& file, const std::string& out) {
  ImportOptions o;
  o.checkpoint = torch_fixture(fixture + "/" + file);
  o.out = out;
  if (fixture.rfind("trm_att", 0) == 0) o.data_dir = torch_fixture("trm_att_data");  // RoPE: seq_len from the data
  return o;
}

struct FixtureSpec {
  const char* name;
  const char* file;
  Arch arch;
  const char* format;
};
const FixtureSpec kFixtures[] = {
    {"trm_att_fp32", "step_100", Arch::kTrm, "zip"},  {"trm_att_bf16", "step_100", Arch::kTrm, "zip"},
    {"trm_att_legacy", "step_100", Arch::kTrm, "legacy"}, {"trm_mlp_fp32", "step_200", Arch::kTrm, "zip"},
    {"trm_mlp_bf16", "step_200", Arch::kTrm, "zip"},  {"hrm_fp32", "checkpoint", Arch::kHrm, "zip"},
    {"hrm_bf16", "checkpoint", Arch::kHrm, "zip"},
};

TEST(TorchImport, EveryFixtureMatchesTheReference) {
  for (const auto& f : kFixtures) {
    SCOPED_TRACE(f.name);
    TempDir d("import");
    const ImportSummary s = import_pytorch(fixture_import(f.name, f.file, d / "model.safetensors"));
    EXPECT_EQ(s.model.arch, f.arch);
    EXPECT_EQ(s.source_format, f.format);
    EXPECT_EQ(s.model.seq_len, 8);
    EXPECT_EQ(s.model.vocab_size, 11);
    EXPECT_EQ(s.model.num_puzzle_identifiers, 5);
    EXPECT_EQ(s.tensors, make_param_table(s.model).size() + 3);
    expect_matches_reference(d / "model.safetensors", f.name);
  }
}

TEST(TorchImport, ConfigAndShapesComeFromTheYamlAndTheTensors) {
  TempDir d("import");
  const ImportSummary s = import_pytorch(fixture_import("trm_mlp_fp32", "step_200", d / "m.safetensors"));
  EXPECT_TRUE(s.model.mlp_t);
  EXPECT_EQ(s.model.pos_encodings, PosEncoding::kNone);
  EXPECT_EQ(s.model.puzzle_emb_ndim, 20);
  EXPECT_EQ(s.model.prefix_len(), 2);  // puzzle_emb_len 0: ceil(20 / 16)
  EXPECT_EQ(s.model.H_cycles, 2);
  EXPECT_EQ(s.model.L_cycles, 3);
  EXPECT_EQ(s.model.rms_norm_eps, 1e-5);  // absent from the yaml: the official default
  const Checkpoint ck = Checkpoint::read(d / "m.safetensors");
  EXPECT_FALSE(ck.has_ema());
  EXPECT_EQ(ck.contents().config.at("import").at("arch"), "recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1");
  EXPECT_EQ(ck.contents().config.at("optim").at("lr"), 1e-4);
  // EMA is reported from the yaml.
  const ImportSummary a = import_pytorch(fixture_import("trm_att_fp32", "step_100", d / "a.safetensors"));
  EXPECT_TRUE(a.ema);
  const ImportSummary h = import_pytorch(fixture_import("hrm_bf16", "checkpoint", d / "h.safetensors"));
  EXPECT_EQ(h.model.H_layers, 1);
  EXPECT_EQ(h.model.pos_encodings, PosEncoding::kLearned);
}

TEST(TorchImport, OfficialKeyPrefixesAreStripped) {
  EXPECT_EQ(trm_name_from_official("_orig_mod.model.inner.lm_head.weight"), "lm_head.weight");
  EXPECT_EQ(trm_name_from_official("model.inner.L_level.layers.1.mlp.down_proj.weight"), "L_level.layers.1.mlp.down_proj.weight");
  EXPECT_EQ(trm_name_from_official("inner.H_init"), "H_init");
  EXPECT_EQ(trm_name_from_official("puzzle_emb.weights"), "puzzle_emb.weights");
}

TEST(TorchImport, SeqLenMustBeDetermined) {
  TempDir d("import");
  ImportOptions o = fixture_import("trm_att_fp32", "step_100", d / "m.safetensors");
  o.data_dir.clear();
  expect_error([&] { import_pytorch(o); }, {"seq_len cannot be determined", "--data", "--seq-len"});
  EXPECT_FALSE(fs::exists(d / "m.safetensors"));
  o.seq_len = 8;
  EXPECT_EQ(import_pytorch(o).model.seq_len, 8);
  // Two sources that disagree.
  ImportOptions m = fixture_import("trm_mlp_fp32", "step_200", d / "x.safetensors");
  m.seq_len = 9;
  expect_error([&] { import_pytorch(m); }, {"seq_len 9 from --seq-len disagrees with 8"});
  // A dataset of another vocabulary or puzzle count.
  TempDir data("data");
  fs::create_directories(data / "test");
  std::string meta = read_file(torch_fixture("trm_att_data/test/dataset.json"));
  const auto at = meta.find("\"num_puzzle_identifiers\": 5");
  ASSERT_NE(at, std::string::npos);
  write_file(data / "test/dataset.json", meta.replace(at, 27, "\"num_puzzle_identifiers\": 7"));
  ImportOptions wrong = fixture_import("trm_att_fp32", "step_100", d / "w.safetensors");
  wrong.data_dir = data.str();
  expect_error([&] { import_pytorch(wrong); }, {"puzzle table has 5 rows", "num_puzzle_identifiers 7"});
}

// A copy of a fixture's directory with all_config.yaml edited by `edit`.
std::string fixture_with_config(const TempDir& d, const std::string& fixture, const std::string& file,
                                const std::function<std::string(std::string)>& edit) {
  fs::copy_file(torch_fixture(fixture + "/" + file), d / file);
  write_file(d / "all_config.yaml", edit(read_file(torch_fixture(fixture + "/all_config.yaml"))));
  return d / file;
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

TEST(TorchImport, ConfigRefusals) {
  struct Case {
    std::string from, to;
    std::vector<std::string> needles;
  };
  const Case cases[] = {
      {"name: recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1",
       "name: recursive_reasoning.transformers_baseline@Model_ACTV2", {"unknown architecture", "Model_ACTV2"}},
      {"  H_cycles: 2\n", "", {"missing required key \"arch.H_cycles\""}},
      {"hidden_size: 16", "hidden_size: ${.puzzle_emb_ndim}", {"arch.hidden_size", "unresolved interpolation"}},
      {"num_heads: 2", "num_heads: two", {"arch.num_heads", "must be an integer"}},
      {"no_ACT_continue: true", "no_ACT_continue: false", {"no_ACT_continue", "not supported"}},
      {"hidden_size: 16", "hidden_size: 32", {"hidden_size 32"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.to);
    TempDir d("cfg");
    ImportOptions o;
    o.checkpoint = fixture_with_config(d, "trm_mlp_fp32", "step_200", [&](std::string s) { return replace(s, c.from, c.to); });
    o.out = d / "m.safetensors";
    auto needles = c.needles;
    needles.push_back("all_config.yaml");
    if (c.to == "hidden_size: 32") needles.back() = "step_200";  // found by the tensor shapes
    expect_error([&] { import_pytorch(o); }, needles);
    EXPECT_FALSE(fs::exists(d / "m.safetensors"));
  }
  TempDir d("cfg");
  fs::copy_file(torch_fixture("trm_mlp_fp32/step_200"), d / "step_200");
  ImportOptions o;
  o.checkpoint = d / "step_200";
  o.out = d / "m.safetensors";
  expect_error([&] { import_pytorch(o); }, {"no all_config.yaml beside it", "--config"});
}

// The fixture's tensors rewritten by `edit` (name -> shape and values), saved with our writer.
std::string rewritten_fixture(const TempDir& d, const std::string& fixture, const std::string& file,
                              const std::function<void(std::vector<std::tuple<std::string, std::vector<std::int64_t>, std::vector<float>>>&)>& edit) {
  const TorchCheckpoint src = TorchCheckpoint::read(torch_fixture(fixture + "/" + file));
  std::vector<std::tuple<std::string, std::vector<std::int64_t>, std::vector<float>>> ts;
  for (const auto& t : src.tensors()) ts.emplace_back(t.name, t.shape, src.floats(t));
  edit(ts);
  TorchCheckpointWriter w;
  for (const auto& [n, s, v] : ts) w.add_copy(n, DType::kF32, s, v.data());
  w.write(d / file);
  fs::copy_file(torch_fixture(fixture + "/all_config.yaml"), d / "all_config.yaml");
  return d / file;
}

TEST(TorchImport, WrongShapeMissingAndUnexpectedTensorsAreNamed) {
  using Tensors = std::vector<std::tuple<std::string, std::vector<std::int64_t>, std::vector<float>>>;
  auto find = [](Tensors& ts, const std::string& n) -> auto& {
    for (auto& t : ts)
      if (std::get<0>(t) == n) return t;
    throw std::runtime_error("no " + n);
  };
  {
    TempDir d("shape");
    ImportOptions o;
    o.checkpoint = rewritten_fixture(d, "trm_mlp_fp32", "step_200", [&](Tensors& ts) {
      auto& t = find(ts, "_orig_mod.model.inner.L_level.layers.0.mlp.down_proj.weight");
      std::get<1>(t) = {256, 16};  // transposed: [D, I] is expected
    });
    o.out = d / "m.safetensors";
    expect_error([&] { import_pytorch(o); }, {"\"_orig_mod.model.inner.L_level.layers.0.mlp.down_proj.weight\" has shape [256, 16]",
                                              "expects [16, 256]"});
    EXPECT_FALSE(fs::exists(d / "m.safetensors"));
  }
  {
    TempDir d("missing");
    ImportOptions o;
    o.checkpoint = rewritten_fixture(d, "trm_mlp_fp32", "step_200", [&](Tensors& ts) {
      ts.erase(std::remove_if(ts.begin(), ts.end(), [](const auto& t) { return std::get<0>(t).ends_with("q_head.bias"); }), ts.end());
    });
    o.out = d / "m.safetensors";
    expect_error([&] { import_pytorch(o); }, {"missing 1 tensor", "\"q_head.bias\""});
  }
  {
    TempDir d("unexpected");
    ImportOptions o;
    o.checkpoint = rewritten_fixture(d, "trm_mlp_fp32", "step_200", [&](Tensors& ts) {
      ts.emplace_back("_orig_mod.model.inner.L_level.layers.1.mlp.down_proj.weight", std::vector<std::int64_t>{2}, std::vector<float>{1, 2});
    });
    o.out = d / "m.safetensors";
    expect_error([&] { import_pytorch(o); }, {"1 unexpected tensor", "\"_orig_mod.model.inner.L_level.layers.1.mlp.down_proj.weight\""});
  }
  {
    // An integer tensor where a weight belongs.
    TempDir d("dtype");
    const TorchCheckpoint src = TorchCheckpoint::read(torch_fixture("trm_mlp_fp32/step_200"));
    TorchCheckpointWriter w;
    for (const auto& t : src.tensors()) {
      const auto v = src.floats(t);
      if (t.name.ends_with("q_head.bias")) {
        const std::vector<std::int64_t> ints(v.size(), 1);
        w.add_copy(t.name, DType::kI64, t.shape, ints.data());
      } else {
        w.add_copy(t.name, DType::kF32, t.shape, v.data());
      }
    }
    w.write(d / "step_200");
    fs::copy_file(torch_fixture("trm_mlp_fp32/all_config.yaml"), d / "all_config.yaml");
    ImportOptions o;
    o.checkpoint = d / "step_200";
    o.out = d / "m.safetensors";
    expect_error([&] { import_pytorch(o); }, {"q_head.bias", "I64"});
  }
}

TEST(TorchImport, DerivedBuffersDroppedDuplicatesRefusedUnknownKeysNoted) {
  using Tensors = std::vector<std::tuple<std::string, std::vector<std::int64_t>, std::vector<float>>>;
  {
    // An older torch saved the RoPE tables: derivable, dropped with a note.
    TempDir d("derived");
    ImportOptions o;
    o.checkpoint = rewritten_fixture(d, "trm_att_fp32", "step_100", [](Tensors& ts) {
      ts.emplace_back("_orig_mod.model.inner.rotary_emb.cos_cached", std::vector<std::int64_t>{10, 8}, std::vector<float>(80, 1.0f));
    });
    o.seq_len = 8;
    o.out = d / "m.safetensors";
    const ImportSummary s = import_pytorch(o);
    bool noted = false;
    for (const auto& n : s.notes) noted |= n.find("rotary_emb.cos_cached") != std::string::npos;
    EXPECT_TRUE(noted);
  }
  {
    // Two spellings of one parameter.
    TempDir d("dup");
    ImportOptions o;
    o.checkpoint = rewritten_fixture(d, "trm_mlp_fp32", "step_200", [](Tensors& ts) {
      ts.emplace_back("model.inner.q_head.bias", std::vector<std::int64_t>{2}, std::vector<float>{1, 2});
    });
    o.out = d / "m.safetensors";
    expect_error([&] { import_pytorch(o); }, {"\"_orig_mod.model.inner.q_head.bias\"", "\"model.inner.q_head.bias\"", "both map to"});
  }
  {
    // A key the official model configs do not have: ignored (as pydantic ignores it), and noted.
    TempDir d("extra");
    ImportOptions o;
    o.checkpoint = fixture_with_config(d, "trm_mlp_fp32", "step_200",
                                       [](std::string s) { return replace(s, "arch:\n", "arch:\n  adaptive_depth: true\n"); });
    o.out = d / "m.safetensors";
    const ImportSummary s = import_pytorch(o);
    bool noted = false;
    for (const auto& n : s.notes) noted |= n.find("arch.adaptive_depth") != std::string::npos;
    EXPECT_TRUE(noted);
  }
}

// ---------------------------------------------------------------------------------------------
// trm export, and back

void expect_same_trm_tensors(const std::string& a_path, const std::string& b_path, const std::string& a_prefix = "model.") {
  const Checkpoint a = Checkpoint::read(a_path), b = Checkpoint::read(b_path);
  const ModelConfig m = a.model_config();
  EXPECT_EQ(nlohmann::json(m), nlohmann::json(b.model_config()));
  for (const auto& p : make_param_table(m))
    EXPECT_EQ(a.file().floats(a_prefix + p.name), b.file().floats("model." + p.name)) << p.name << " differs";
  for (const char* n : {"puzzle_emb.weights", "H_init", "L_init"}) EXPECT_EQ(a.file().floats(n), b.file().floats(n)) << n << " differs";
}

TEST(TorchExport, RoundTripIsBitIdentical) {
  for (const auto& f : kFixtures) {
    SCOPED_TRACE(f.name);
    TempDir d("export");
    const ImportOptions first = fixture_import(f.name, f.file, d / "a.safetensors");
    const ImportSummary s = import_pytorch(first);
    fs::create_directories(d / "run");
    ExportOptions e;
    e.checkpoint = d / "a.safetensors";
    e.out = d / "run/step_7";
    e.forward_dtype = "float32";  // every tensor exact
    const ExportSummary x = export_pytorch(e);
    EXPECT_EQ(x.checkpoint, d / "run/step_7");
    EXPECT_EQ(x.config, d / "run/all_config.yaml");
    EXPECT_EQ(x.tensors, s.tensors);
    // The official names, all of them.
    const TorchCheckpoint t = TorchCheckpoint::read(x.checkpoint);
    for (const auto& ti : t.tensors()) EXPECT_EQ(ti.name.rfind("_orig_mod.model.inner.", 0), 0u) << ti.name;
    ImportOptions back;
    back.checkpoint = x.checkpoint;
    back.data_dir = first.data_dir;
    back.out = d / "b.safetensors";
    const ImportSummary s2 = import_pytorch(back);
    EXPECT_EQ(nlohmann::json(s2.model), nlohmann::json(s.model));
    expect_same_trm_tensors(d / "a.safetensors", d / "b.safetensors");
  }
}

TEST(TorchExport, Bf16InitialStatesZip64AndAKeyPrefix) {
  TempDir d("export");
  import_pytorch(fixture_import("hrm_fp32", "checkpoint", d / "a.safetensors"));
  fs::create_directories(d / "run");
  ExportOptions e;
  e.checkpoint = d / "a.safetensors";
  e.out = d / "run";  // a directory: step_<step> inside (an import has no step: 0)
  e.key_prefix = "model.inner.";
  e.force_zip64 = true;
  const ExportSummary x = export_pytorch(e);
  EXPECT_EQ(x.checkpoint, d / "run/step_0");
  const TorchCheckpoint t = TorchCheckpoint::read(x.checkpoint);
  EXPECT_EQ(t.find("model.inner.H_init")->dtype, DType::kBF16);
  EXPECT_EQ(t.find("model.inner.lm_head.weight")->dtype, DType::kF32);
  // The fixture's H_init was bfloat16 already: exact; the weights are exact in any case.
  ImportOptions back;
  back.checkpoint = x.checkpoint;
  back.out = d / "b.safetensors";
  import_pytorch(back);
  expect_same_trm_tensors(d / "a.safetensors", d / "b.safetensors");
  const std::string yaml = read_file(x.config);
  for (const char* k : {"name: hrm.hrm_act_v1@HierarchicalReasoningModel_ACTV1", "forward_dtype: bfloat16",
                        "rms_norm_eps: 1.0e-05", "H_layers: 1", "pos_encodings: learned", "ema: false"})
    EXPECT_NE(yaml.find(k), std::string::npos) << k << " not in\n" << yaml;
}

TEST(TorchExport, TrmTrainedModelExportsItsEmaWeights) {
  // A checkpoint as trm's trainer writes it (raw weights, EMA, optimizer state).
  TempDir d("export");
  ModelConfig c = test_util::tiny_model_config(7, 6, 16, 2, 1);
  c.num_puzzle_identifiers = 3;
  auto be = make_cpu_backend();
  TrmModel model(c, *be);
  model.init(5);
  OptimConfig oc;
  TrmOptimizer opt(model, oc);
  // Make the EMA differ from the raw weights.
  std::vector<float> ema(static_cast<std::size_t>(model.flat_size()));
  be->to_host(opt.ema(), ema.data(), model.flat_size());
  for (auto& v : ema) v = v * 0.5f + 0.25f;
  be->from_host(ema.data(), opt.ema(), model.flat_size());
  save_checkpoint(d / "ck.safetensors", model, &opt, nullptr,
                  CheckpointContents{{{"model", c}, {"optim", oc}, {"train", {{"data_dir", "data/x"}, {"global_batch", 64}, {"epochs", 20.0}, {"seed", 3}}}},
                                     {{"step", 42}}});
  fs::create_directories(d / "out");
  ExportOptions e;
  e.checkpoint = d / "ck.safetensors";
  e.out = d / "out";
  e.forward_dtype = "float32";
  const ExportSummary x = export_pytorch(e);
  EXPECT_EQ(x.checkpoint, d / "out/step_42");
  EXPECT_TRUE(x.ema);
  ImportOptions back;
  back.checkpoint = x.checkpoint;
  back.seq_len = c.seq_len;
  back.out = d / "b.safetensors";
  const ImportSummary s = import_pytorch(back);
  EXPECT_TRUE(s.ema);
  expect_same_trm_tensors(d / "ck.safetensors", d / "b.safetensors", "ema.");
  const std::string yaml = read_file(x.config);
  for (const char* k : {"- data/x", "global_batch_size: 64", "epochs: 20", "seed: 3", "ema: true"})
    EXPECT_NE(yaml.find(k), std::string::npos) << k << " not in\n" << yaml;
  // --raw-weights: the raw ones.
  e.raw_weights = true;
  e.out = d / "raw";
  fs::create_directories(d / "raw");
  const ExportSummary r = export_pytorch(e);
  back.checkpoint = r.checkpoint;
  back.out = d / "c.safetensors";
  import_pytorch(back);
  expect_same_trm_tensors(d / "ck.safetensors", d / "c.safetensors", "model.");
}

TEST(TorchExport, Refusals) {
  TempDir d("export");
  import_pytorch(fixture_import("hrm_fp32", "checkpoint", d / "a.safetensors"));
  ExportOptions e;
  e.checkpoint = d / "a.safetensors";
  e.out = d / "x";
  e.forward_dtype = "float16";
  expect_error([&] { export_pytorch(e); }, {"--forward-dtype", "float16"});
  EXPECT_FALSE(fs::exists(d / "x"));
  // An HRM whose prefix is not ceil(ndim / hidden): the official HRM config cannot say so.
  ModelConfig c = test_util::tiny_model_config(7, 6, 16, 2, 2);
  c.arch = Arch::kHrm;
  c.H_layers = 1;
  auto be = make_cpu_backend();
  TrmModel model(c, *be);
  model.init(1);
  save_checkpoint(d / "h.safetensors", model, nullptr, nullptr, CheckpointContents{{{"model", c}}, {}});
  e.checkpoint = d / "h.safetensors";
  e.forward_dtype = "bfloat16";
  expect_error([&] { export_pytorch(e); }, {"h.safetensors", "puzzle_emb_len 2", "official HRM"});
}

// ---------------------------------------------------------------------------------------------
// Bounded memory: a 1 GiB checkpoint (a puzzle table of 16M rows of 16 floats)

long status_kb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::strlen(field)));
  return -1;
}

float synthetic_value(std::uint64_t i) { return static_cast<float>(i % 1000003) * 1e-6f - 0.5f; }

TEST(TorchImport, OneGibCheckpointImportsWithBoundedMemory) {
  TempDir d("big");
  const std::int64_t rows = std::int64_t{1} << 24;  // 16M rows of 16 floats: 1 GiB
  {
    const TorchCheckpoint src = TorchCheckpoint::read(torch_fixture("trm_att_fp32/step_100"));
    TorchCheckpointWriter w;
    for (const auto& t : src.tensors()) {
      if (t.name.ends_with("puzzle_emb.weights")) {
        w.add(t.name, DType::kF32, {rows, 16}, [](const auto& out) {
          std::vector<float> buf(1 << 16);
          for (std::uint64_t i = 0, n = static_cast<std::uint64_t>(rows) * 16; i < n;) {
            const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), n - i));
            for (std::size_t j = 0; j < k; ++j) buf[j] = synthetic_value(i + j);
            out(buf.data(), 4 * k);
            i += k;
          }
        });
      } else {
        const auto v = src.floats(t);
        w.add_copy(t.name, DType::kF32, t.shape, v.data());
      }
    }
    w.write(d / "step_1");
    fs::copy_file(torch_fixture("trm_att_fp32/all_config.yaml"), d / "all_config.yaml");
  }
  const std::uint64_t size = fs::file_size(d / "step_1");
  ASSERT_GT(size, std::uint64_t{1} << 30);  // the table alone is 1 GiB

  // The import runs in a child process, whose peak resident set is measured from its start.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    { std::ofstream("/proc/self/clear_refs") << "5"; }  // reset the peak to the current RSS (Linux >= 4.0)
    const long before = status_kb("VmRSS:");
    long result[3] = {before, -1, 0};
    try {
      const auto t0 = std::chrono::steady_clock::now();
      ImportOptions o;
      o.checkpoint = d / "step_1";
      o.seq_len = 8;
      o.out = d / "big.safetensors";
      import_pytorch(o);
      result[2] = static_cast<long>(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      result[1] = status_kb("VmHWM:");
    } catch (...) {
    }
    if (::write(fds[1], result, sizeof result) != static_cast<ssize_t>(sizeof result)) ::_exit(2);
    ::_exit(0);
  }
  ::close(fds[1]);
  long result[3] = {0, 0, 0};
  ASSERT_EQ(::read(fds[0], result, sizeof result), static_cast<ssize_t>(sizeof result));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_GT(result[1], 0) << "the import failed in the child";
  const double growth_mb = static_cast<double>(result[1] - result[0]) / 1024.0;
  std::printf("  1 GiB import (a %llu-byte file): %.1f s, peak RSS %.1f MB (%.1f MB above the start)\n",
              static_cast<unsigned long long>(size), result[2] / 1000.0, result[1] / 1024.0, growth_mb);
  EXPECT_LT(growth_mb, 64.0) << "the import should stream, not hold the 1 GiB table";

  // The table arrived intact: spot checks, read by offset.
  const SafeTensorsFile out = SafeTensorsFile::read(d / "big.safetensors");
  const TensorEntry& e = out.entry("puzzle_emb.weights");
  EXPECT_EQ(e.shape, (std::vector<std::int64_t>{rows, 16}));
  const int fd = ::open((d / "big.safetensors").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  std::uint64_t header = 0;
  ASSERT_EQ(::pread(fd, &header, 8, 0), 8);
  for (std::uint64_t i : {std::uint64_t{0}, std::uint64_t{12345677}, static_cast<std::uint64_t>(rows) * 16 - 1}) {
    float v = 0;
    ASSERT_EQ(::pread(fd, &v, 4, static_cast<off_t>(8 + header + e.begin + 4 * i)), 4);
    EXPECT_EQ(v, synthetic_value(i)) << "element " << i;
  }
  ::close(fd);
}

}  // namespace
}  // namespace trm
