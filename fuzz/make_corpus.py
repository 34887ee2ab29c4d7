#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets, fuzz/corpus/<target>/: small valid inputs of every
form each reader accepts and a few invalid ones. scripts/fuzz.sh also seeds each target with the
matching folder of tests/bad_inputs/. Remake with:
    python3 fuzz/make_corpus.py [path/to/trm]    # with trm: also the config seeds from `trm info`
"""
import json
import os
import struct
import subprocess
import sys

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# ---- safetensors
def st(tensors, meta=None):
    header, blob = {}, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(raw)]}
        blob += raw
    if meta is not None:
        header["__metadata__"] = meta
    h = json.dumps(header, separators=(",", ":"))
    h += " " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h.encode() + blob


f32 = lambda *v: struct.pack("<%df" % len(v), *v)
put("safetensors", "empty.safetensors", st({}))
put("safetensors", "small.safetensors", st({
    "model.w": ("F32", [2, 3], f32(1, 2, 3, 4, 5, 6)),
    "H_init": ("F32", [3], f32(0.5, -0.5, 0)),
    "carry.steps": ("I32", [2], struct.pack("<2i", 1, 2)),
    "carry.halted": ("U8", [2], b"\x00\x01"),
}, {"format": "trm-checkpoint-1", "config": '{"model": {"vocab_size": 6}}', "state": "{}"}))
put("safetensors", "dtypes.safetensors", st({
    "d": ("F64", [2], struct.pack("<2d", 1.5, -2)),
    "b": ("BF16", [2], b"\x80\x3f\x00\x40"),
    "i": ("I64", [1], struct.pack("<q", 7)),
    "h": ("F16", [1], b"\x00\x3c"),
    "z": ("F32", [0, 5], b""),
    "s": ("F32", [], f32(3)),
}))
put("safetensors", "nan.safetensors", st({"w": ("F32", [2], f32(1, float("nan")))}))

# ---- npy
def npy(descr, shape, raw, major=1):
    s = "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
    h = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, s)
    fixed = 10 if major == 1 else 12
    h += " " * (-(fixed + len(h) + 1) % 64) + "\n"
    n = struct.pack("<H", len(h)) if major == 1 else struct.pack("<I", len(h))
    return b"\x93NUMPY" + bytes([major, 0]) + n + h.encode() + raw


put("npy", "u8.npy", npy("|u1", [2, 3], bytes([0, 1, 2, 3, 4, 5])))
put("npy", "i4.npy", npy("<i4", [3], struct.pack("<3i", 0, 1, 5)))
put("npy", "i8.npy", npy("<i8", [2], struct.pack("<2q", 0, 2**40)))
put("npy", "f4.npy", npy("<f4", [2], f32(1, 2)))
put("npy", "v2.npy", npy("<i4", [1], struct.pack("<i", 9), major=2))
put("npy", "empty.npy", npy("|u1", [0, 16], b""))
put("npy", "scalar.npy", npy("<f4", [], f32(1)))

# ---- dataset.json
GOOD = {"pad_id": 0, "ignore_label_id": 0, "blank_identifier_id": 0, "vocab_size": 6, "seq_len": 16,
        "num_puzzle_identifiers": 1, "total_groups": 4, "mean_puzzle_examples": 1.0, "total_puzzles": 4, "sets": ["all"]}
put("dataset_json", "sudoku4.json", json.dumps(GOOD))
arc = dict(GOOD, vocab_size=12, seq_len=900, num_puzzle_identifiers=876406, ignore_label_id=None, sets=["all", "extra"])
put("dataset_json", "arc.json", json.dumps(arc))
put("dataset_json", "hrm_no_total_puzzles.json", json.dumps({k: v for k, v in GOOD.items() if k != "total_puzzles"}))
put("dataset_json", "dup_sets.json", json.dumps(dict(GOOD, sets=["all", "all"])))

# ---- puzzle CSVs
HDR = "source,question,answer,rating\n"
put("csv", "sudoku4.csv", HDR + ",1..4..1.2..3.3.1,1234341221434321,0\n,1234341221434..1,1234341221434321,2\n")
put("csv", "sudoku9.csv", HDR + "x,53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79,"
    "534678912672195348198342567859761423426853791713924856961537284287419635345286179,3\r\n")
put("csv", "sudoku6_quoted.csv", HDR + '"a,b",1.3.5.4.6.2.2.4.6.5.1.3.3.5.1.6.2.4.,"132654465123246315513246351462624531",1\n')
put("csv", "maze5.csv", HDR + ",S    ####       ####    G,Soooo####ooooooo####ooooG,19\n")
put("csv", "maze2.csv", HDR + ", S G, SoG,3\n")
put("csv", "bom_crlf.csv", "\xef\xbb\xbf" + HDR.replace("\n", "\r\n") + ",1..4..1.2..3.3.1,1234341221434321,0\r\n")

# ---- ARC tasks
task = {"train": [{"input": [[1, 0], [0, 1]], "output": [[2, 0], [0, 2]]}, {"input": [[3, 4, 5]], "output": [[5, 4, 3]]}],
        "test": [{"input": [[0, 1], [1, 1]], "output": [[0, 2], [2, 2]]}, {"input": [[7]]}]}
put("arc_task", "task.json", json.dumps(task))
put("arc_task", "combined.json", json.dumps({"abc": task, "def": {"train": task["train"][:1], "test": [{"input": [[9] * 30] * 30}]}}))
put("arc_task", "big_grid.json", json.dumps({"train": [{"input": [[c % 10 for c in range(30)]] * 30,
                                                        "output": [[1]]}], "test": [{"input": [[1]]}]}))

# ---- trm solve text
put("puzzle_text", "sudoku4.txt", "1..4..1.2..3.3.1")
put("puzzle_text", "sudoku4_pretty.txt", "1 0 | 0 4\n0 0 | 1 0\n----+----\n2 0 | 0 3\n0 3 | 0 1\n")
put("puzzle_text", "sudoku6.txt", "1.3.5.\n4.6.2.\n2.4.6.\n5.1.3.\n3.5.1.\n6.2.4.\n")
put("puzzle_text", "sudoku9.txt", "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79")
put("puzzle_text", "maze5.txt", "S    \n#### \n     \n ####\n    G\n")
put("puzzle_text", "maze_crlf.txt", "  S#\r\n # #\r\n #G \r\n    \r\n")
put("puzzle_text", "minus.txt", "-1..4..1.2..3.3.1")

# ---- model/optimizer config JSON ({"model": ..., "optim": ...} as in a checkpoint)
if len(sys.argv) > 1:
    for preset in ["tiny-sudoku-mlp", "tiny-sudoku-hrm", "arc1-att", "maze-att"]:
        info = json.loads(subprocess.check_output([sys.argv[1], "info", preset]))
        put("config_json", preset + ".json", json.dumps({"model": info["model"], "optim": info["optimizer"]}))
put("config_json", "partial.json", json.dumps({"model": {"vocab_size": 11, "seq_len": 81, "arch": "hrm"}, "optim": {"lr": 1e-4}}))
put("config_json", "bad_types.json", json.dumps({"model": {"vocab_size": "11", "hidden_size": -1}, "optim": {"lr": None}}))
