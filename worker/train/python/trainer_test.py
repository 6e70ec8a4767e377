"""Process-level tests of ladder-train: the corpus script, the line protocol,
bad configs, learning, resume after SIGKILL, SIGTERM, divergence.

Standard library only. ctest sets LADDER_TRAIN_BIN and LADDER_SOURCE_DIR;
each test class prepares the kjv corpus into a temporary LADDER_DATA_DIR with
deploy/data/prepare-kjv.sh (needs the Debian package bible-kjv).

  LADDER_TRAIN_BIN=build/worker/train/ladder-train LADDER_SOURCE_DIR=. \
    /usr/bin/python3 -m unittest -v trainer_test.ProtocolTest
"""

import json
import math
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

TRAIN_BIN = os.environ.get("LADDER_TRAIN_BIN", "")
SOURCE_DIR = os.environ.get("LADDER_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..", ".."))
PREPARE = os.path.join(SOURCE_DIR, "deploy", "data", "prepare-kjv.sh")
KNOWN_EVENTS = {"started", "progress", "checkpoint", "result", "error"}
THREADS = 1  # the tests share 2 cores with other builds; one thread keeps them quick and stable

# The kjv corpus as deploy/data/prepare-kjv.sh makes it from bible-kjv 4.38.
KJV_TRAIN_TOKENS = 3932087
KJV_VAL_TOKENS = 206951

_data_dir = None


def setUpModule():
    global _data_dir
    assert TRAIN_BIN and os.path.exists(TRAIN_BIN), "set LADDER_TRAIN_BIN to the ladder-train binary"
    _data_dir = tempfile.mkdtemp(prefix="ladder-data-")
    subprocess.run([PREPARE, _data_dir], check=True, stderr=subprocess.DEVNULL)


def tearDownModule():
    shutil.rmtree(_data_dir, ignore_errors=True)


def config(family="transformer", tokens=40960, batch_tokens=2048, context=64, lr=3e-3, seed=1, **over):
    model = {"n_layer": 2, "d_model": 32, "n_head": 2, "d_ff": 128, "context": context, "vocab": 256}
    if family == "lstm":
        model.update(n_head=0, d_ff=0)
    model.update(over.pop("model", {}))
    train = {"tokens": tokens, "batch_tokens": batch_tokens, "lr": lr, "min_lr_ratio": 0.1, "warmup_fraction": 0.05,
             "weight_decay": 0.1, "grad_clip": 1.0, "beta1": 0.9, "beta2": 0.95, "seed": seed,
             "eval_tokens": 8192, "eval_interval_tokens": 0, "log_interval_steps": 5}
    train.update(over.pop("train", {}))
    data = {"dataset": "kjv", "unique_tokens": None}
    data.update(over.pop("data", {}))
    assert not over, over
    return {"run_id": 7, "sweep_id": 1, "attempt": 1, "family": family, "model": model, "train": train, "data": data,
            "simulation": None}


class Trainer:
    """One ladder-train process; checks the protocol of every stdout line."""

    def __init__(self, test, cfg, work_dir=None, extra=(), data_dir=None, raw_config=None):
        self.test = test
        self.tmp = tempfile.mkdtemp(prefix="ladder-run-")
        test.addCleanup(shutil.rmtree, self.tmp, True)
        self.work_dir = work_dir or os.path.join(self.tmp, "work")
        cfg_path = os.path.join(self.tmp, "run.json")
        with open(cfg_path, "w") as f:
            f.write(raw_config if raw_config is not None else json.dumps(cfg))
        env = dict(os.environ, LADDER_DATA_DIR=data_dir or _data_dir)
        self.args = [TRAIN_BIN, "--config", cfg_path, "--work-dir", self.work_dir, "--device", "cpu",
                     "--threads", str(THREADS), *extra]
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        self.events = []

    def read_event(self):
        """Next event, or None at end of stdout."""
        line = self.proc.stdout.readline()
        if not line:
            return None
        event = parse_event(self.test, line)
        self.events.append(event)
        return event

    def wait(self, timeout=600):
        while self.read_event() is not None:
            pass
        self.stderr = self.proc.stderr.read()
        self.returncode = self.proc.wait(timeout=timeout)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self

    def kill(self, sig):
        self.proc.send_signal(sig)
        return self.wait()

    def of(self, kind):
        return [e for e in self.events if e["event"] == kind]


def parse_event(test, line):
    """A stdout line must be exactly one JSON object with a known event."""
    test.assertTrue(line.endswith("\n"), f"unterminated stdout line {line!r}")
    try:
        event = json.loads(line)
    except ValueError:
        test.fail(f"stdout line is not JSON: {line!r}")
    test.assertIsInstance(event, dict, line)
    test.assertIn(event.get("event"), KNOWN_EVENTS, line)
    return event


def run(test, cfg, **kw):
    return Trainer(test, cfg, **kw).wait()


def progress_by_step(events):
    return {e["step"]: e for e in events if e["event"] == "progress"}


class PrepareKjvTest(unittest.TestCase):
    def test_prepared_corpus_has_the_documented_token_counts(self):
        kjv = os.path.join(_data_dir, "kjv")
        with open(os.path.join(kjv, "meta.json")) as f:
            meta = json.load(f)
        self.assertEqual(meta["tokens_train"], KJV_TRAIN_TOKENS)
        self.assertEqual(meta["tokens_val"], KJV_VAL_TOKENS)
        self.assertEqual(os.path.getsize(os.path.join(kjv, "train.u8")), KJV_TRAIN_TOKENS)
        self.assertEqual(os.path.getsize(os.path.join(kjv, "val.u8")), KJV_VAL_TOKENS)
        # The validation split is the last 5%.
        self.assertAlmostEqual(KJV_VAL_TOKENS / (KJV_TRAIN_TOKENS + KJV_VAL_TOKENS), 0.05, places=4)

    def test_verse_references_are_stripped(self):
        with open(os.path.join(_data_dir, "kjv", "train.u8"), "rb") as f:
            text = f.read().decode("ascii")
        self.assertTrue(text.startswith("In the beginning God created the heaven and the earth.\n"))
        self.assertIsNone(re.search(r"^\s*\d+ ", text, re.M), "a line starts with a verse number")
        self.assertNotIn("Genesis 1", text)
        self.assertEqual(text.count("\n\n"), 1107)  # chapter breaks inside the training split (81 more in validation)

    def test_preparing_again_gives_identical_bytes(self):
        other = tempfile.mkdtemp(prefix="ladder-data-")
        self.addCleanup(shutil.rmtree, other, True)
        subprocess.run([PREPARE, other], check=True, stderr=subprocess.DEVNULL)
        for name in ("train.u8", "val.u8"):
            with open(os.path.join(_data_dir, "kjv", name), "rb") as a, open(os.path.join(other, "kjv", name), "rb") as b:
                self.assertEqual(a.read(), b.read(), name)


class BadConfigTest(unittest.TestCase):
    def refused(self, cfg=None, kind="bad_config", fragment="", **kw):
        t = run(self, cfg, **kw)
        self.assertEqual(t.returncode, 2, t.stderr)
        self.assertEqual(len(t.events), 1, t.events)
        error = t.events[0]
        self.assertEqual(error["event"], "error")
        self.assertEqual(error["kind"], kind)
        self.assertNotIn("\n", error["message"])
        self.assertIn(fragment, error["message"])
        return error["message"]

    def test_zero_width_is_refused(self):
        self.refused(config(model={"d_model": 0}), fragment="model.d_model must be positive (got 0)")

    def test_heads_not_dividing_the_width_are_refused(self):
        self.refused(config(model={"n_head": 3}), fragment="d_model (32) is not divisible by n_head (3)")

    def test_missing_data_file_is_a_data_error(self):
        self.refused(config(data={"dataset": "/nonexistent/corpus.txt"}), kind="data",
                     fragment="cannot open /nonexistent/corpus.txt")

    def test_unprepared_corpus_names_the_preparation_script(self):
        empty = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, empty, True)
        self.refused(config(), kind="data", fragment="prepare-kjv.sh", data_dir=empty)

    def test_more_unique_tokens_than_the_corpus_holds_is_a_data_error(self):
        self.refused(config(data={"unique_tokens": 10**9}), kind="data", fragment="exceeds the training split")

    def test_invalid_json_is_refused(self):
        self.refused(raw_config="{\"family\": \"transformer\",", fragment="not valid JSON")

    def test_unknown_family_is_refused(self):
        cfg = config()
        cfg["family"] = "mamba"
        self.refused(cfg, fragment='family must be "transformer" or "lstm"')

    def test_bad_arguments_are_refused(self):
        self.refused(config(), extra=("--device", "tpu"), fragment="--device must be cpu, cuda or cuda:K")
        self.refused(config(), extra=("--frobnicate",), fragment="unknown argument --frobnicate")
        # No --config at all.
        p = subprocess.run([TRAIN_BIN, "--work-dir", "/tmp", "--threads", "1"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertEqual(json.loads(p.stdout)["kind"], "bad_config")


class ProtocolTest(unittest.TestCase):
    def test_a_run_speaks_the_protocol_and_counts_exactly(self):
        cfg = config(tokens=40960, batch_tokens=2048, train={"eval_interval_tokens": 16384})
        t = run(self, cfg)
        self.assertEqual(t.returncode, 0, t.stderr)
        self.assertEqual(t.events[0]["event"], "started")
        self.assertEqual(t.events[-1]["event"], "result")
        started, result = t.events[0], t.events[-1]

        # Hand count for L2 d32 h2 ff128 T64 V256, tied, learned positions:
        # embedding 256*32 + 64*32; layer 2*32 + (3*32*32+96) + (32*32+32) + 2*32 + (2*32*128+128+32).
        d, f, L, T, V = 32, 128, 2, 64, 256
        layer = 2 * d + (3 * d * d + 3 * d) + (d * d + d) + 2 * d + (2 * d * f + f + d)
        non_embedding = L * layer + 2 * d
        self.assertEqual(started["params_non_embedding"], non_embedding)
        self.assertEqual(started["params_total"], non_embedding + V * d + T * d)
        forward = 2 * d * V + L * (6 * d * d + 2 * T * d + 3 * 2 * T + 2 * T * d + 2 * d * d + 4 * d * f) + 2 * d * V
        self.assertEqual(started["flops_per_token"], 3 * forward)
        self.assertEqual(started["flops_per_token_6n"], 6 * non_embedding)
        self.assertEqual(started["total_steps"], 20)
        self.assertEqual(started["resumed_from_step"], 0)
        self.assertFalse(started["simulated"])

        progress = t.of("progress")
        self.assertEqual([p["step"] for p in progress], [5, 8, 10, 15, 16, 20])  # every 5 steps and at each eval
        for p in progress:
            self.assertEqual(p["tokens"], p["step"] * 2048)
            self.assertEqual(p["flops"], started["flops_per_token"] * p["tokens"])
            self.assertIsNone(p["mfu"], "a CPU has no known peak")
            for key in ("train_loss", "lr", "grad_norm", "tokens_per_second", "flops_per_second"):
                self.assertIsInstance(p[key], float, key)
                self.assertTrue(math.isfinite(p[key]) and p[key] > 0, key)
        evals = [p["step"] for p in progress if p["eval_loss"] is not None]
        self.assertEqual(evals, [8, 16, 20])  # each 16384 tokens, and at the end

        self.assertEqual(result["tokens"], 40960)
        self.assertEqual(result["final_eval_loss"], progress[-1]["eval_loss"])
        self.assertEqual(result["flops"], started["flops_per_token"] * 40960)
        self.assertEqual(result["flops_6n"], 6 * non_embedding * 40960)
        self.assertEqual(result["unique_tokens"], 40960)
        self.assertLess(result["epochs"], 0.02)
        details = result["details"]
        self.assertTrue(details["tie_embeddings"])
        self.assertIn("GPT-2", details["initialisation"])
        self.assertEqual(details["eval"]["tokens"], 8192)
        self.assertEqual(details["data"]["train_split_tokens"], KJV_TRAIN_TOKENS)
        self.assertEqual(result["corpus_tokens"], KJV_TRAIN_TOKENS)  # the whole split, uncapped
        self.assertEqual(details["schedule"]["warmup_steps"], 1)

    def test_data_constrained_run_repeats_and_records_epochs(self):
        cfg = config(tokens=40960, batch_tokens=2048, data={"unique_tokens": 10000})
        t = run(self, cfg)
        self.assertEqual(t.returncode, 0, t.stderr)
        result = t.events[-1]
        # floor(10000 / 64) - 1 = 155 windows of 64 tokens per epoch.
        self.assertEqual(result["details"]["data"]["tokens_per_epoch"], 155 * 64)
        self.assertEqual(result["unique_tokens"], 155 * 64)
        self.assertAlmostEqual(result["epochs"], 40960 / (155 * 64))
        self.assertEqual(result["corpus_tokens"], 10000)  # the split as capped

    def test_same_seed_gives_the_same_curve_and_another_seed_does_not(self):
        a = run(self, config(tokens=20480))
        b = run(self, config(tokens=20480))
        c = run(self, config(tokens=20480, seed=2))
        for t in (a, b, c):
            self.assertEqual(t.returncode, 0, t.stderr)
        curve = lambda t: [(p["step"], p["train_loss"], p["eval_loss"]) for p in t.of("progress")]
        self.assertEqual(curve(a), curve(b))
        self.assertNotEqual(curve(a), curve(c))

    def test_lstm_runs_and_reports_its_counts(self):
        t = run(self, config("lstm", tokens=20480, model={"d_model": 48}))
        self.assertEqual(t.returncode, 0, t.stderr)
        d = 48
        self.assertEqual(t.events[0]["params_non_embedding"], 2 * (4 * d * 2 * d + 8 * d) + 2 * d)
        self.assertEqual(t.events[-1]["details"]["family"], "lstm")


class LearningTest(unittest.TestCase):
    """A small model's eval loss falls well below ln(256) = 5.545 nats within a
    CI-sized budget (about 10 s for the LSTM, 30 s for the transformer, one thread)."""

    def check_learns(self, cfg, below):
        t = run(self, cfg)
        self.assertEqual(t.returncode, 0, t.stderr)
        result = t.events[-1]
        loss = result["final_eval_loss"]
        print(f"\n{cfg['family']}: final eval loss {loss:.4f} after {result['tokens']} tokens "
              f"in {result['wall_seconds']:.1f} s (stderr {result['details']['eval']['loss_stderr']:.4f})")
        self.assertLess(loss, below)
        # The eval's sampling noise is well under 0.5% of the loss.
        self.assertLess(result["details"]["eval"]["loss_stderr"] / loss, 0.005)
        return loss

    def test_transformer_learns_kjv(self):
        cfg = config(tokens=401408, batch_tokens=4096, context=128, lr=3e-3,
                     model={"n_layer": 2, "d_model": 64, "n_head": 2, "d_ff": 256},
                     train={"eval_tokens": 131072})
        self.check_learns(cfg, below=2.8)

    def test_lstm_learns_kjv(self):
        cfg = config("lstm", tokens=200704, batch_tokens=4096, context=128, lr=1e-2, model={"n_layer": 1, "d_model": 96},
                     train={"eval_tokens": 131072})
        self.check_learns(cfg, below=2.8)


class ResumeTest(unittest.TestCase):
    """SIGKILL mid-run, restart with the same work dir: the curve continues
    with no gap and the final loss matches an uninterrupted run."""

    def test_killed_run_resumes_and_matches_an_uninterrupted_one(self):
        cfg = config(tokens=163840, batch_tokens=2048, train={"log_interval_steps": 4, "eval_interval_tokens": 40960})
        ckpt = ("--checkpoint-interval-steps", "6")
        whole = run(self, cfg, extra=ckpt)
        self.assertEqual(whole.returncode, 0, whole.stderr)

        first = Trainer(self, cfg, extra=ckpt)
        work_dir = first.work_dir
        # Kill once a checkpoint exists and training has gone on past it.
        last_ckpt = None
        while True:
            e = first.read_event()
            self.assertIsNotNone(e, "run ended before it could be killed")
            if e["event"] == "checkpoint" and e["step"] >= 30:
                last_ckpt = e["step"]
            if last_ckpt and e["event"] == "progress" and e["step"] > last_ckpt:
                break
        first.kill(signal.SIGKILL)
        self.assertEqual(first.returncode, -signal.SIGKILL)
        self.assertNotIn("result", [e["event"] for e in first.events])

        second = run(self, cfg, work_dir=work_dir, extra=ckpt)
        self.assertEqual(second.returncode, 0, second.stderr)
        started = second.events[0]
        self.assertEqual(started["resumed_from_step"], last_ckpt)
        self.assertEqual(started["resumed_from_tokens"], last_ckpt * 2048)

        # No gap: the first attempt's curve up to the checkpoint plus the
        # second's from there covers every logged step of the whole run.
        before = {s: p for s, p in progress_by_step(first.events).items() if s <= last_ckpt}
        after = progress_by_step(second.events)
        self.assertTrue(min(after) > last_ckpt)
        self.assertEqual(sorted(set(before) | set(after)), sorted(progress_by_step(whole.events)))
        # Steps logged twice (after the checkpoint, before the kill) agree.
        for s, p in progress_by_step(first.events).items():
            if s in after:
                self.assertAlmostEqual(p["train_loss"], after[s]["train_loss"], places=9)
        # And the final loss matches the uninterrupted run (same data order,
        # same weights and moments: equal up to float noise).
        a, b = whole.events[-1]["final_eval_loss"], second.events[-1]["final_eval_loss"]
        print(f"\nuninterrupted {a:.6f}, killed at step {last_ckpt + 1}+ and resumed {b:.6f}")
        self.assertLess(abs(a - b) / a, 1e-3)
        self.assertEqual(whole.events[-1]["tokens"], second.events[-1]["tokens"])


class StopAndFailureTest(unittest.TestCase):
    def test_sigterm_checkpoints_and_exits_non_zero_and_the_run_resumes(self):
        cfg = config(tokens=2048 * 2000, batch_tokens=2048, train={"log_interval_steps": 2})
        t = Trainer(self, cfg)
        while True:
            e = t.read_event()
            self.assertIsNotNone(e)
            if e["event"] == "progress" and e["step"] >= 4:
                break
        t.kill(signal.SIGTERM)
        self.assertEqual(t.returncode, 143, t.stderr)
        last = t.events[-1]
        self.assertEqual(last["event"], "checkpoint")
        self.assertNotIn("result", [e["event"] for e in t.events])
        self.assertTrue(any(n.startswith("ckpt-") and n.endswith(".pt") for n in os.listdir(t.work_dir)))
        # The next attempt picks up at that step (stop it again right away).
        again = Trainer(self, cfg, work_dir=t.work_dir)
        started = again.read_event()
        again.kill(signal.SIGTERM)
        self.assertEqual(started["resumed_from_step"], last["step"])

    def failed(self, lr):
        t = run(self, config(lr=lr, tokens=2048 * 100, train={"warmup_fraction": 0.0, "grad_clip": 0.0}))
        self.assertEqual(t.returncode, 1, t.stderr)
        self.assertNotIn("result", [e["event"] for e in t.events])
        error = t.events[-1]
        self.assertEqual(error["event"], "error")
        self.assertNotIn("\n", error["message"])
        return error

    def test_exploding_loss_is_reported_as_divergence(self):
        error = self.failed(lr=50.0)
        self.assertEqual(error["kind"], "diverged")
        self.assertIn("train loss diverged at step 2", error["message"])

    def test_nan_loss_is_reported_as_non_finite(self):
        error = self.failed(lr=1e30)  # the first update overflows the weights
        self.assertEqual(error["kind"], "non_finite")
        self.assertIn("train loss nan", error["message"])


if __name__ == "__main__":
    unittest.main()
