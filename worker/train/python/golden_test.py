"""Golden test: ladder-train's loss, gradients and AdamW updates equal those
of the same architecture written in PyTorch Python (reference_model.py),
given the same weights and batch, in float64.

The C++ side (ladder_train_golden_dump, built from the trainer's own
ForwardBackward / ClipGradNorm / AdamW code) dumps weights, batch, loss,
gradients and the weights after two optimizer steps; this side loads the
weights into reference_model.LanguageModel and recomputes everything with
torch.nn.functional, torch.nn.utils.clip_grad_norm_ and torch.optim.AdamW.

Run through ctest (LADDER_GOLDEN_DUMP_BIN is set there), or by hand:
  LADDER_GOLDEN_DUMP_BIN=build/worker/train/ladder_train_golden_dump \
    /usr/bin/python3 -m unittest -v golden_test
"""

import json
import os
import subprocess
import tempfile
import unittest

import torch

import reference_model

DUMP_BIN = os.environ.get("LADDER_GOLDEN_DUMP_BIN", "")

# float64 on both sides: differences are rounding only.
LOSS_RTOL = 1e-10
GRAD_RTOL, GRAD_ATOL = 1e-7, 1e-12
PARAM_RTOL, PARAM_ATOL = 1e-9, 1e-12


def run_config(family, model, seed=3):
    return {
        "run_id": 1,
        "family": family,
        "model": model,
        "train": {"tokens": 4096, "batch_tokens": 5 * model["context"], "lr": 3e-3, "weight_decay": 0.1,
                  "grad_clip": 0.5, "beta1": 0.9, "beta2": 0.95, "seed": seed},
        "data": {"dataset": "kjv"},
    }


class GoldenCase(unittest.TestCase):
    def check(self, config):
        self.assertTrue(DUMP_BIN and os.path.exists(DUMP_BIN), "set LADDER_GOLDEN_DUMP_BIN to ladder_train_golden_dump")
        with tempfile.TemporaryDirectory() as tmp:
            cfg_path, dump_path = os.path.join(tmp, "run.json"), os.path.join(tmp, "dump.pt")
            with open(cfg_path, "w") as f:
                json.dump(config, f)
            subprocess.run([DUMP_BIN, "--config", cfg_path, "--out", dump_path], check=True)
            dump = torch.load(dump_path)

        t = config["train"]
        model = reference_model.LanguageModel(config["family"], config["model"]).double()
        names = [n for n, _ in model.named_parameters()]
        cpp_names = sorted(k[len("param/"):] for k in dump if k.startswith("param/"))
        self.assertEqual(sorted(names), cpp_names, "parameter names differ")
        with torch.no_grad():
            for n, p in model.named_parameters():
                self.assertEqual(tuple(p.shape), tuple(dump["param/" + n].shape), n)
                p.copy_(dump["param/" + n])
        opt = torch.optim.AdamW(model.param_groups(t["weight_decay"]), lr=t["lr"],
                                betas=(t["beta1"], t["beta2"]), eps=1e-8)
        x, y = dump["x"], dump["y"]

        for step in (1, 2):
            opt.zero_grad()
            loss = model.loss(x, y)
            loss.backward()
            torch.testing.assert_close(loss, dump[f"loss{step}"], rtol=LOSS_RTOL, atol=0,
                                       msg=lambda m: f"loss of step {step}: {m}")
            if step == 1:
                for n, p in model.named_parameters():
                    torch.testing.assert_close(p.grad, dump["grad/" + n], rtol=GRAD_RTOL, atol=GRAD_ATOL,
                                               msg=lambda m, n=n: f"gradient of {n}: {m}")
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), t["grad_clip"])
            torch.testing.assert_close(norm, dump[f"grad_norm{step}"], rtol=1e-9, atol=0)
            opt.step()
            for n, p in model.named_parameters():
                torch.testing.assert_close(p.detach(), dump[f"after{step}/" + n], rtol=PARAM_RTOL, atol=PARAM_ATOL,
                                           msg=lambda m, n=n: f"{n} after step {step}: {m}")
        # The check must be able to fail: the loss moved and clipping acted.
        self.assertLess(dump["loss2"].item(), dump["loss1"].item())
        self.assertGreater(dump["grad_norm1"].item(), t["grad_clip"])


class TransformerGoldenTest(GoldenCase):
    base = {"n_layer": 2, "d_model": 32, "n_head": 4, "d_ff": 96, "context": 16, "vocab": 256}

    def test_gelu_learned_positions_tied_matches_pytorch(self):
        self.check(run_config("transformer", dict(self.base, mlp="gelu", positions="learned", tie_embeddings=True)))

    def test_swiglu_rotary_untied_matches_pytorch(self):
        self.check(run_config("transformer", dict(self.base, mlp="swiglu", positions="rotary", tie_embeddings=False)))

    def test_gelu_rotary_tied_matches_pytorch(self):
        self.check(run_config("transformer", dict(self.base, mlp="gelu", positions="rotary", tie_embeddings=True)))

    def test_swiglu_learned_untied_three_layers_matches_pytorch(self):
        m = dict(self.base, n_layer=3, n_head=2, mlp="swiglu", positions="learned", tie_embeddings=False)
        self.check(run_config("transformer", m, seed=11))


class LstmGoldenTest(GoldenCase):
    def test_two_layers_tied_matches_pytorch(self):
        self.check(run_config("lstm", {"n_layer": 2, "d_model": 24, "context": 16, "vocab": 256,
                                       "n_head": 0, "d_ff": 0, "tie_embeddings": True}))

    def test_three_layers_untied_matches_pytorch(self):
        self.check(run_config("lstm", {"n_layer": 3, "d_model": 16, "context": 12, "vocab": 256,
                                       "n_head": 0, "d_ff": 0, "tie_embeddings": False}, seed=5))


if __name__ == "__main__":
    unittest.main()
