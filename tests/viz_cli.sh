#!/usr/bin/env bash
# trm plot and trm solve --render from the command line (docs/VISUALS.md): the files are what a
# reader accepts (SVG parsed as XML with one frame group per step, PNG signature and IHDR size, a
# GIF whose frames, counted by walking its blocks, are the supervision steps), and bad input is
# exit status 2 naming the file and line, with nothing written.
#   tests/viz_cli.sh path/to/trm
set -euo pipefail
trm=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
name=viz_cli
source "$(dirname "$0")/sh_util.sh"
py() { /usr/bin/python3 - "$@"; }

"$trm" data generate sudoku --n 4 --train 64 --test 8 --seed 1 --out "$work/s4" > /dev/null
"$trm" train tiny-sudoku-mlp hidden_size=32 puzzle_emb_ndim=32 H_cycles=1 L_cycles=1 halt_max_steps=3 \
  --data "$work/s4" --out "$work/run" --no-resume --quiet --batch 16 --max-steps 2 --eval-examples 4 > /dev/null
ckpt=$work/run/final.safetensors

# ---- trm plot ----
"$trm" plot "$work/run" "$work/run/metrics.jsonl" --out "$work/curves.svg" --title "two runs" 2> /dev/null
py "$work/curves.svg" <<'PY' || fail "curves.svg"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
panels = [g for g in root.iter(ns + "g") if g.get("class") == "panel"]
train = [g for g in root.iter(ns + "g") if g.get("class") == "series train"]
assert len(panels) == 4, len(panels)
assert len(train) == 8, len(train)  # 4 panels x 2 runs
texts = [t.text for t in root.iter(ns + "text")]
assert "two runs" in texts, texts
PY
"$trm" plot "$work/run" --out "$work/curves.png" 2> /dev/null
py "$work/curves.png" <<'PY' || fail "curves.png is not a 1500x1140 PNG"
import sys, struct
b = open(sys.argv[1], "rb").read()
assert b[:8] == b"\x89PNG\r\n\x1a\n" and b[12:16] == b"IHDR"
assert struct.unpack(">II", b[16:24]) == (1500, 1140), struct.unpack(">II", b[16:24])
PY
printf '{"type":"train","step":1,"lm_loss":1,"accuracy":0,"exact_accuracy":0,"steps":1}\n{"type":"train","step":2,"lm_\n' > "$work/bad.jsonl"
expect_status 2 "bad.jsonl:2: not a JSON line" "$trm" plot "$work/bad.jsonl" --out "$work/bad.svg"
: > "$work/empty.jsonl"
expect_status 2 "empty.jsonl: no \"train\" or \"eval\" lines" "$trm" plot "$work/empty.jsonl" --out "$work/bad.svg"
expect_status 2 "no such run directory" "$trm" plot "$work/nothere" --out "$work/bad.svg"
expect_status 2 "s4/metrics.jsonl: no such file" "$trm" plot "$work/run" "$work/s4" --out "$work/bad.svg"
expect_status 2 "must end in .svg, .png" "$trm" plot "$work/run" --out "$work/bad.gif"
[[ ! -e $work/bad.svg && ! -e $work/bad.gif ]] || fail "a refused plot wrote its output"
mkdir -p "$work/s4/adir.gif"

# ---- trm solve --render ----
puzzle='1..4..1..1..4..1'
steps=3  # reference halting: every one of halt_max_steps
for fmt in svg png gif; do
  out=$("$trm" solve --checkpoint "$ckpt" "$puzzle" --halting reference --json --render "$work/steps.$fmt" 2> /dev/null) || [[ $? == 1 ]]
  [[ $out == *"\"steps_used\":$steps"* ]] || fail "solve --json: $out"
done
py "$work/steps.svg" "$steps" <<'PY' || fail "steps.svg"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
frames = [g for g in root.iter(ns + "g") if g.get("class") == "frame"]
assert len(frames) == int(sys.argv[2]), len(frames)
assert all(any(t.text and t.text.startswith("halt confidence") for t in f.iter(ns + "text")) for f in frames)
PY
py "$work/steps.png" <<'PY' || fail "steps.png"
import sys, struct
b = open(sys.argv[1], "rb").read()
assert b[:8] == b"\x89PNG\r\n\x1a\n" and b[12:16] == b"IHDR"
w, h = struct.unpack(">II", b[16:24])
assert w > 300 and h > 200, (w, h)
PY
py "$work/steps.gif" "$steps" <<'PY' || fail "steps.gif"
# Walk the GIF's blocks (GIF89a spec): count image descriptors (0x2C), skipping extensions.
import sys
b = open(sys.argv[1], "rb").read()
assert b[:6] == b"GIF89a", b[:6]
flags = b[10]
pos = 13 + (3 * (2 << (flags & 7)) if flags & 0x80 else 0)
def skip_sub_blocks(p):
    while b[p]:
        p += b[p] + 1
    return p + 1
frames = 0
while b[pos] != 0x3B:
    if b[pos] == 0x21:
        pos = skip_sub_blocks(pos + 2)
    elif b[pos] == 0x2C:
        frames += 1
        f = b[pos + 9]
        pos += 10 + (3 * (2 << (f & 7)) if f & 0x80 else 0)
        pos = skip_sub_blocks(pos + 1)  # LZW minimum code size, then the data
    else:
        raise SystemExit(f"bad block 0x{b[pos]:02x} at {pos}")
assert frames == int(sys.argv[2]), frames
PY
expect_status 2 "unknown image format '.jpg'" "$trm" solve --checkpoint "$ckpt" "$puzzle" --render "$work/steps.jpg"
expect_status 2 "adir.gif" "$trm" solve --checkpoint "$ckpt" "$puzzle" --render "$work/s4/adir.gif"
[[ ! -e $work/steps.jpg ]] || fail "a refused render wrote its output"
echo "viz_cli: ok"
