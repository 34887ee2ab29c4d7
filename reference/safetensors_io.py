"""Minimal safetensors writer/reader (the `safetensors` package is not available here).

Layout: u64 little-endian header length N, then N bytes of JSON header, then the raw
little-endian tensor bytes.  Each header entry is {"dtype", "shape", "data_offsets": [begin, end]}
with offsets relative to the start of the data section.  The header is padded with spaces so that
the data section starts on an 8-byte boundary (the format allows trailing whitespace).
"""

from __future__ import annotations

import json
import struct
from typing import Dict, Tuple

import numpy as np

_NP_DTYPE = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8"), "I32": np.dtype("<i4")}


def write_safetensors(path: str, tensors: Dict[str, Tuple[str, np.ndarray]], metadata: Dict[str, str]) -> None:
    """tensors: name -> (dtype tag, array).  Arrays are converted to the tag's little-endian type."""
    header = {"__metadata__": dict(metadata)}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        tag, arr = tensors[name]
        data = np.ascontiguousarray(np.asarray(arr), dtype=_NP_DTYPE[tag]).tobytes()
        header[name] = {"dtype": tag, "shape": list(np.shape(arr)), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * ((-len(raw)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)


def read_safetensors(path: str) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(buf[base + b:base + e], dtype=_NP_DTYPE[info["dtype"]]).reshape(info["shape"]).copy()
    return out, meta
