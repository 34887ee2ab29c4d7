#!/usr/bin/env python3
"""Writes the bad-input corpus of tests/bad_inputs/ (one small file per case, named for it).

The files are checked in; this script documents how each was made and remakes them:
    python3 tests/bad_inputs/make.py
Folders and the command tests/bad_inputs.sh feeds each file to:
    safetensors/<case>.safetensors     trm info --checkpoint FILE
    npy/<array>--<case>.npy            replaces <data>/train/all__<array>.npy; trm data show, trm train
    dataset_json/<split>--<case>.json  replaces <data>/<split>/dataset.json;    trm data show, trm train
    csv/<sudoku|maze>--<case>.csv      trm data build sudoku|maze --train-csv FILE
    arc_task/<case>.json               trm data build arc (a subset holding only FILE)
    solve/<case>.txt                   trm solve --checkpoint <4x4 Sudoku model> --file FILE
    config_json/<case>.json            the model config reader (tests/test_bad_inputs.cpp only)
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def put(rel, data):
    path = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# ---- safetensors: 8-byte little-endian header length, JSON header, data
def st(header, data=b"", length=None):
    h = header.encode() if isinstance(header, str) else header
    return struct.pack("<Q", len(h) if length is None else length) + h + data


def t(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


S = "safetensors/"
put(S + "overflow_numel.safetensors", st(json.dumps({"w": t("F32", [2**62, 4], 0, 0)})))
put(S + "overflow_bytes.safetensors", st(json.dumps({"w": t("F32", [2**32, 2**30], 0, 0)})))
put(S + "overlapping_tensors.safetensors",
    st(json.dumps({"a": t("F32", [2], 0, 8), "b": t("F32", [2], 4, 12)}), bytes(12)))
put(S + "offsets_outside_data.safetensors", st(json.dumps({"w": t("F32", [4], 0, 16)}), bytes(8)))
put(S + "offsets_reversed.safetensors", st(json.dumps({"w": t("F32", [0], 8, 4)}), bytes(8)))
put(S + "dtype_size_mismatch.safetensors", st(json.dumps({"w": t("F64", [2], 0, 8)}), bytes(8)))
put(S + "unknown_dtype.safetensors", st(json.dumps({"w": t("Q4", [2], 0, 8)}), bytes(8)))
put(S + "float_dimension.safetensors", st('{"w":{"dtype":"F32","shape":[1e30],"data_offsets":[0,4]}}', bytes(4)))
put(S + "negative_dimension.safetensors", st(json.dumps({"w": t("F32", [-1], 0, 4)}), bytes(4)))
put(S + "offset_above_int64.safetensors", st(json.dumps({"w": t("F32", [1], 2**64 - 1, 4)}), bytes(4)))
put(S + "duplicate_tensor.safetensors",
    st('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
       bytes(8)))
put(S + "deep_header.safetensors", st('{"__metadata__":' + "[" * 1000 + "]" * 1000 + "}"))
put(S + "header_not_json.safetensors", st("{not json"))
put(S + "header_not_object.safetensors", st("[1, 2]"))
put(S + "header_length_huge.safetensors", st("{}", length=2**63))
put(S + "truncated.safetensors", b"\x10\x00\x00")
put(S + "metadata_not_string.safetensors", st('{"__metadata__":{"format":7}}'))

# ---- npy: magic, version, header length, Python-literal dict, data
def npy(d, data=b"", major=1):
    h = d
    fixed = 10 if major == 1 else 12
    while (fixed + len(h) + 1) % 64:
        h += " "
    h += "\n"
    return b"\x93NUMPY" + bytes([major, 0]) + (struct.pack("<H", len(h)) if major == 1 else struct.pack("<I", len(h))) + h.encode() + data


N = "npy/"
put(N + "inputs--overflow_numel.npy", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (4611686018427387904, 4), }"))
put(N + "inputs--overflow_bytes.npy", npy("{'descr': '<i8', 'fortran_order': False, 'shape': (4294967296, 1073741824), }"))
put(N + "inputs--dimension_above_int64.npy", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (99999999999999999999, 16), }"))
put(N + "inputs--bad_magic.npy", b"NOTNUMPY" + bytes(56))
put(N + "inputs--truncated_header.npy", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (1, 16), }")[:30])
put(N + "inputs--size_mismatch.npy", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (4, 16), }", bytes(10)))
put(N + "inputs--wrong_dtype.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 16), }", bytes(128)))
put(N + "inputs--malformed_header.npy", npy("{'descr': '|u1', 'fortran_order': Maybe, 'shape': (1, 16), }", bytes(16)))
put(N + "inputs--version_9.npy", b"\x93NUMPY\x09\x00\x10\x00" + b" " * 16)
put(N + "puzzle_indices--int64_out_of_range.npy",
    npy("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", struct.pack("<qq", 0, 2**40)))
put(N + "group_indices--two_dimensional.npy",
    npy("{'descr': '<i4', 'fortran_order': False, 'shape': (1, 2), }", struct.pack("<ii", 0, 1)))

# ---- dataset.json (the 4x4 Sudoku the test generates: vocab 6, seq_len 16, one puzzle identifier)
GOOD = {"pad_id": 0, "ignore_label_id": 0, "blank_identifier_id": 0, "vocab_size": 6, "seq_len": 16,
        "num_puzzle_identifiers": 1, "total_groups": 4, "mean_puzzle_examples": 1.0, "total_puzzles": 4, "sets": ["all"]}


def meta(**kw):
    m = dict(GOOD)
    m.update(kw)
    return json.dumps(m)


D = "dataset_json/"
put(D + "train--duplicate_sets.json", meta(sets=["all", "all"]))
put(D + "train--puzzle_identifiers_2e9.json", meta(num_puzzle_identifiers=2000000000))
put(D + "train--seq_len_2e9.json", meta(seq_len=2000000000))
put(D + "train--total_groups_above_int32.json", meta(total_groups=5000000000))
put(D + "train--vocab_size_string.json", meta(vocab_size="6"))
put(D + "train--vocab_size_float.json", meta(vocab_size=6.5))
put(D + "train--ignore_label_outside_vocab.json", meta(ignore_label_id=6))
put(D + "train--pad_id_negative.json", meta(pad_id=-1))
put(D + "train--missing_seq_len.json", json.dumps({k: v for k, v in GOOD.items() if k != "seq_len"}))
put(D + "train--set_name_with_slash.json", meta(sets=["../x"]))
put(D + "train--duplicate_key.json", meta()[:-1] + ', "vocab_size": 256}')
put(D + "train--deep_nesting.json", meta()[:-1] + ', "x": ' + "[" * 1000 + "]" * 1000 + "}")
put(D + "train--not_an_object.json", "[1, 2, 3]")
put(D + "train--not_json.json", '{"pad_id": 0,')
put(D + "test--ignore_label_differs.json", meta(ignore_label_id=None))
put(D + "test--vocab_size_differs.json", meta(vocab_size=7))
put(D + "test--pad_id_differs.json", meta(pad_id=1))
put(D + "test--puzzle_identifiers_differ.json", meta(num_puzzle_identifiers=2))

# ---- puzzle CSVs (source,question,answer,rating)
HDR = "source,question,answer,rating\n"
Q4, A4 = "1..4..1.2..3.3.1", "1234341221434321"
C = "csv/"
put(C + "sudoku--stray_character.csv", HDR + ",1..4..1.2..3.3.x," + A4 + ",0\n")
put(C + "sudoku--minus_sign.csv", HDR + ",-..4..1.2..3.3.1," + A4 + ",0\n")
put(C + "sudoku--answer_breaks_rules.csv", HDR + "," + Q4 + ",1134341221434321,0\n")
put(C + "sudoku--answer_changes_given.csv", HDR + "," + Q4 + ",4231" + A4[4:] + ",0\n")
put(C + "sudoku--bad_header.csv", "src,q,a,r\n," + Q4 + "," + A4 + ",0\n")
put(C + "sudoku--unterminated_quote.csv", HDR + ',"' + Q4 + "," + A4 + ",0\n")
put(C + "sudoku--field_count.csv", HDR + "," + Q4 + "," + A4 + "\n")
put(C + "sudoku--not_a_square.csv", HDR + ",1..4..1.2..3.3.,123434122143432,0\n")
put(C + "sudoku--length_differs.csv", HDR + "," + Q4 + "," + A4 + ",0\n," + Q4 + ".," + A4 + "1,0\n")
put(C + "sudoku--empty.csv", "")
put(C + "sudoku--header_only.csv", HDR)
put(C + "sudoku--nul_byte.csv", HDR + ",1..4..1.2..3.3\x001," + A4 + ",0\n")
put(C + "maze--two_starts.csv", HDR + ",SS G,SS G,3\n")
put(C + "maze--not_square.csv", HDR + ",S G,S G,3\n")
put(C + "maze--path_through_wall.csv", HDR + ",S#G ,SoG ,3\n")
put(C + "maze--bad_character.csv", HDR + ",S  G,S  X,3\n")

# ---- ARC task JSON
def task(train, test):
    return json.dumps({"train": train, "test": test})


OK_PAIR = {"input": [[1]], "output": [[2]]}
A = "arc_task/"
put(A + "deep_nesting.json", '{"train":' + "[" * 1000 + "]" * 1000 + "}")
put(A + "duplicate_key.json", '{"train":[{"input":[[1]],"output":[[2]]}],"test":[{"input":[[1]]}],"train":[]}')
put(A + "too_many_pairs.json", task([OK_PAIR] * 1001, [{"input": [[1]]}]))
put(A + "colour_10.json", task([{"input": [[1, 10]], "output": [[1]]}], [{"input": [[1]]}]))
put(A + "colour_negative.json", task([{"input": [[-1]], "output": [[1]]}], [{"input": [[1]]}]))
put(A + "colour_float.json", task([{"input": [[1.5]], "output": [[1]]}], [{"input": [[1]]}]))
put(A + "colour_above_int64.json", '{"train":[{"input":[[18446744073709551615]],"output":[[1]]}],"test":[{"input":[[1]]}]}')
put(A + "colour_string.json", task([{"input": [["1"]], "output": [[1]]}], [{"input": [[1]]}]))
put(A + "ragged_grid.json", task([{"input": [[1, 2], [3]], "output": [[1]]}], [{"input": [[1]]}]))
put(A + "grid_31_rows.json", task([{"input": [[1]] * 31, "output": [[1]]}], [{"input": [[1]]}]))
put(A + "grid_31_columns.json", task([{"input": [[1] * 31], "output": [[1]]}], [{"input": [[1]]}]))
put(A + "empty_grid.json", task([{"input": [], "output": [[1]]}], [{"input": [[1]]}]))
put(A + "missing_output.json", task([{"input": [[1]]}], [{"input": [[1]]}]))
put(A + "no_test.json", task([OK_PAIR], []))
put(A + "no_train.json", json.dumps({"test": [{"input": [[1]]}]}))
put(A + "train_not_list.json", json.dumps({"train": {}, "test": [{"input": [[1]]}]}))
put(A + "not_an_object.json", "[1]")
put(A + "not_json.json", '{"train": [')

# ---- trm solve text, for a 4x4 Sudoku model (vocab 6, seq_len 16)
P = "solve/"
put(P + "minus_sign.txt", "-1..4..1.2..3.3.1\n")
put(P + "stray_letter.txt", "1..4\n..1.\n2..3\n.3.x\n")
put(P + "maze_for_sudoku_model.txt", "  S#\n # #\n #G \n    \n")
put(P + "nine_by_nine.txt", "." * 81 + "\n")
put(P + "digit_too_large.txt", "1..4..1.2..3.3.5\n")
put(P + "empty.txt", "")
put(P + "whitespace_only.txt", " \n\t\n")
put(P + "binary.txt", bytes(range(256)))
put(P + "utf8_digits.txt", "1..4..1.2..3.3.\u0661\n")

# ---- model config JSON (a checkpoint's "config" metadata): found by fuzz_config_json
put("config_json/float_hidden_size.json", '{"model": {"hidden_size": 3.3e59}}')
put("config_json/float_total_steps.json", '{"optim": {"total_steps": 3.3e107}}')
