"""The Python module `trm` (python/trm_module.cpp), run by ctest through pytest with the module
built in this tree (PYTHONPATH) and the trm binary of the same build (TRM_BIN): training with a
callback, solving arrays and text, evaluation, errors, and agreement with the CLI."""
import json
import os
import subprocess
import threading

import numpy as np
import pytest

import trm

TRM_BIN = os.environ["TRM_BIN"]
PUZZLES = ["1..43..2.1..4..1", ".2..3..2..4..3..", "12....1..1....2.", "...4..1..1...3.."]


def encode(text):
    return [1 if c == "." else int(c) + 1 for c in text]


@pytest.fixture(scope="session")
def run(tmp_path_factory):
    """A 4x4 Sudoku dataset and a model trained on it for 30 steps through trm.train."""
    work = tmp_path_factory.mktemp("trm")
    data = work / "data"
    subprocess.run([TRM_BIN, "data", "generate", "sudoku", "--n", "4", "--train", "300", "--test", "40",
                    "--seed", "9", "--out", str(data)], check=True, capture_output=True)
    seen = []
    result = trm.train(preset="tiny-sudoku-mlp", data=str(data), out=str(work / "run"), batch=32, max_steps=30,
                       log_every=10, eval_examples=20, overrides={"hidden_size": 32}, callback=seen.append)
    assert result["steps"] == 30 and not result["cancelled"]
    assert [p["step"] for p in seen] == [1, 10, 20, 30]  # the first step is reported at once
    assert all(np.isfinite(p["lm_loss"]) and 0 <= p["accuracy"] <= 1 for p in seen)
    return {"data": str(data), "work": work, "checkpoint": str(work / "run" / "final.safetensors")}


def test_version():
    assert trm.__version__.count(".") == 2


def test_train_cancel_and_resume(run):
    out = str(run["work"] / "cancelled")
    r = trm.train(preset="tiny-sudoku-mlp", data=run["data"], out=out, batch=32, max_steps=20, log_every=5,
                  overrides={"hidden_size": 32}, callback=lambda p: p["step"] < 10)
    assert r["cancelled"] and r["steps"] == 10
    assert os.path.exists(os.path.join(out, "checkpoint.safetensors"))
    r = trm.train(preset="tiny-sudoku-mlp", data=run["data"], out=out, batch=32, max_steps=20, log_every=5,
                  overrides={"hidden_size": 32})
    assert r["steps"] == 20 and not r["cancelled"]


def test_train_callback_exception_propagates(run):
    def boom(p):
        raise ValueError("stop here")
    with pytest.raises(ValueError, match="stop here"):
        trm.train(preset="tiny-sudoku-mlp", data=run["data"], out=str(run["work"] / "boom"), batch=32,
                  max_steps=20, log_every=5, overrides={"hidden_size": 32}, callback=boom)


def test_train_bad_config(run):
    with pytest.raises(trm.Error, match="max_stepz"):
        trm.train(preset="tiny-sudoku-mlp", data=run["data"], out=str(run["work"] / "x"), max_stepz=3)
    with pytest.raises(trm.Error, match="no-such-preset"):
        trm.train(preset="no-such-preset", data=run["data"], out=str(run["work"] / "x"))


def test_info(run):
    m = trm.load(run["checkpoint"])
    info = m.info
    assert info["seq_len"] == 16 and info["vocab_size"] == 6 and info["hidden_size"] == 32
    assert info["arch"] == "trm" and info["num_params"] > 0 and "4x4 Sudoku" in info["puzzles"]


def test_solve_array_batch_and_single(run):
    m = trm.load(run["checkpoint"])
    x = np.array([encode(p) for p in PUZZLES], dtype=np.int32)
    r = m.solve(x, halting="reference")
    T = m.info["halt_max_steps"]
    assert r["answers"].shape == (4, 16) and r["answers"].dtype == np.int32
    assert (r["steps"] == T).all()
    assert r["confidence"].shape == (4, T) and ((r["confidence"] >= 0) & (r["confidence"] <= 1)).all()
    one = m.solve(x[1], halting="reference")
    assert one["answer"].shape == (16,) and one["steps"] == T
    # The same puzzle alone, as a 1-D array or a batch of one: the same computation, the same answer.
    # (Across batch sizes the GEMMs may round differently, which a barely trained model can amplify.)
    assert (one["answer"] == m.solve(x[1:2], halting="reference")["answers"][0]).all()
    # Any integer dtype is accepted; the answers do not depend on it.
    assert (m.solve(x.astype(np.int64), halting="reference")["answers"] == r["answers"]).all()
    adaptive = m.solve(x)
    assert ((adaptive["steps"] >= 1) & (adaptive["steps"] <= T)).all()


def test_solve_bad_arrays(run):
    m = trm.load(run["checkpoint"])
    with pytest.raises(trm.Error, match="integer"):
        m.solve(np.zeros((2, 16), dtype=np.float32))
    with pytest.raises(trm.Error, match="16"):
        m.solve(np.ones((2, 15), dtype=np.int32))
    with pytest.raises(trm.Error, match="dimensions"):
        m.solve(np.ones((2, 2, 16), dtype=np.int32))
    bad = np.ones((2, 16), dtype=np.int32)
    bad[1, 3] = 42
    with pytest.raises(trm.Error, match="puzzle 1"):
        m.solve(bad)
    with pytest.raises(trm.Error, match="halting"):
        m.solve(np.ones((1, 16), dtype=np.int32), halting="sometimes")
    with pytest.raises(trm.Error, match="does not fit"):
        m.solve(np.full((1, 16), 2**40, dtype=np.int64))


def test_solve_text_matches_cli(run):
    m = trm.load(run["checkpoint"])
    for p in PUZZLES:
        mine = m.solve(p, halting="reference")
        cli = subprocess.run([TRM_BIN, "solve", "--checkpoint", run["checkpoint"], "--halting", "reference", "--json", p],
                             capture_output=True, text=True)
        assert cli.returncode in (0, 1), cli.stderr  # 1: the answer is not a valid solution
        assert json.loads(cli.stdout.strip().splitlines()[-1])["solution"] == mine["text"]
    with pytest.raises(trm.Error, match="puzzle"):
        m.solve("1..43..2.1..4..1x")


def test_evaluate_matches_cli(run):
    m = trm.load(run["checkpoint"])
    mine = m.evaluate(run["data"], max_examples=20)
    cli = subprocess.run([TRM_BIN, "eval", "--checkpoint", run["checkpoint"], "--data", run["data"], "--examples", "20"],
                         capture_output=True, text=True, check=True)
    theirs = json.loads(cli.stdout.strip().splitlines()[-1])
    assert mine["n"] == theirs["n"] == 20
    assert mine["exact_accuracy"] == theirs["exact_accuracy"]
    assert mine["cell_accuracy"] == pytest.approx(theirs["cell_accuracy"])
    with pytest.raises(trm.Error, match="no-such-dir"):
        m.evaluate(str(run["work"] / "no-such-dir"))


def test_threads_share_a_model(run):
    m = trm.load(run["checkpoint"])
    x = np.array([encode(p) for p in PUZZLES], dtype=np.int32)
    expected = m.solve(x, halting="reference")["answers"]
    results = []

    def work():
        for _ in range(3):
            results.append(m.solve(x, halting="reference")["answers"])

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 9 and all((r == expected).all() for r in results)


def test_bad_path():
    with pytest.raises(trm.Error, match="nowhere.safetensors"):
        trm.load("/nonexistent/nowhere.safetensors")
    with pytest.raises(trm.Error, match="backend"):
        trm.load("/nonexistent/nowhere.safetensors", backend="tpu")
