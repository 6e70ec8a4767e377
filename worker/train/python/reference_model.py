"""PyTorch (Python, eager) twin of ladder-train's models (worker/train/model.h).

Written independently of the C++ code from the same description, with the
same parameter names, so that
  * the golden test (golden_test.py) can load ladder-train's weights and check
    its loss, gradients and AdamW updates, and
  * the CPU benchmark (bench/train/bench_cpu.py) can time "the same model in
    PyTorch eager Python".

Architecture (see model.h): tokens -> wte -> mixer -> ln_f -> readout.
  transformer mixer: optional learned positions wpe, then pre-LayerNorm blocks
      x + attn(ln_1(x)), x + mlp(ln_2(x)); fused-QKV causal attention; GELU
      (tanh approximation) or SwiGLU MLP; learned or rotary positions
      (GPT-NeoX "rotate half" layout, theta 10000).
  lstm mixer: nn.LSTM(d, d, n_layer, batch_first=True), zero initial state.
  readout: tied (h @ wte^T) or a bias-free lm_head.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def rotary(x, theta=10000.0):
    """Rotary positions (RoFormer eq. 34) on x [B, h, T, k], written with
    complex numbers: the pair (x_i, x_{i+k/2}) is the complex number
    x_i + j x_{i+k/2}, multiplied by exp(j t theta^(-2i/k))."""
    T, k = x.shape[-2], x.shape[-1]
    half = k // 2
    inv_freq = theta ** (-torch.arange(0, half, dtype=torch.float64) * 2.0 / k)
    angles = torch.outer(torch.arange(T, dtype=torch.float64), inv_freq)
    rot = torch.polar(torch.ones_like(angles), angles)  # [T, k/2] complex128
    z = torch.complex(x[..., :half].to(torch.float64), x[..., half:].to(torch.float64)) * rot
    return torch.cat([z.real, z.imag], dim=-1).to(x.dtype)


class Attention(nn.Module):
    def __init__(self, d, n_head, context, rope):
        super().__init__()
        self.n_head, self.rope = n_head, rope
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.register_buffer("mask", torch.ones(context, context, dtype=torch.bool).triu(1), persistent=False)

    def forward(self, x):
        B, T, d = x.shape
        k = d // self.n_head
        q, kk, v = self.c_attn(x).view(B, T, 3, self.n_head, k).permute(2, 0, 3, 1, 4)
        if self.rope:
            q, kk = rotary(q), rotary(kk)
        if hasattr(F, "scaled_dot_product_attention"):  # PyTorch >= 2.0, as the C++ side
            y = F.scaled_dot_product_attention(q, kk, v, is_causal=True)
        else:
            att = (q * (1.0 / math.sqrt(k))) @ kk.transpose(-2, -1)
            att = att.masked_fill(self.mask[:T, :T], float("-inf"))
            y = torch.softmax(att, dim=-1) @ v
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, d))


class Mlp(nn.Module):
    def __init__(self, d, f, swiglu):
        super().__init__()
        self.swiglu = swiglu
        if swiglu:
            self.gate_up = nn.Linear(d, 2 * f, bias=False)
            self.down = nn.Linear(f, d, bias=False)
        else:
            self.c_fc = nn.Linear(d, f)
            self.c_proj = nn.Linear(f, d)

    def forward(self, x):
        if self.swiglu:
            gate, up = self.gate_up(x).chunk(2, dim=-1)
            return self.down(F.silu(gate) * up)
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, m):
        super().__init__()
        d = m["d_model"]
        self.ln_1 = nn.LayerNorm(d)
        self.attn = Attention(d, m["n_head"], m["context"], m.get("positions") == "rotary")
        self.ln_2 = nn.LayerNorm(d)
        self.mlp = Mlp(d, m["d_ff"], m.get("mlp") == "swiglu")

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class TransformerMixer(nn.Module):
    def __init__(self, m):
        super().__init__()
        if m.get("positions", "learned") == "learned":
            self.wpe = nn.Embedding(m["context"], m["d_model"])
        self.blocks = nn.ModuleList(Block(m) for _ in range(m["n_layer"]))

    def forward(self, x):
        if hasattr(self, "wpe"):
            x = x + self.wpe.weight[: x.shape[1]]
        for block in self.blocks:
            x = block(x)
        return x


class LstmMixer(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.lstm = nn.LSTM(m["d_model"], m["d_model"], num_layers=m["n_layer"], batch_first=True)

    def forward(self, x):
        return self.lstm(x)[0]


class LanguageModel(nn.Module):
    def __init__(self, family, m):
        super().__init__()
        self.tied = m.get("tie_embeddings", True)
        self.wte = nn.Embedding(m.get("vocab", 256), m["d_model"])
        self.mixer = TransformerMixer(m) if family == "transformer" else LstmMixer(m)
        self.ln_f = nn.LayerNorm(m["d_model"])
        if not self.tied:
            self.lm_head = nn.Linear(m["d_model"], m.get("vocab", 256), bias=False)
        self.init_weights(m["n_layer"])

    def init_weights(self, n_layer):
        """GPT-2 initialisation as in model.h (the golden test overwrites it)."""
        residual_std = 0.02 / math.sqrt(2 * n_layer)
        for name, p in self.named_parameters():
            if ".lstm." in name:
                continue  # PyTorch's default LSTM init
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif ".ln_" in name or name.startswith("ln_f"):
                nn.init.ones_(p)
            elif name.endswith("attn.c_proj.weight") or name.endswith("mlp.c_proj.weight") or name.endswith("mlp.down.weight"):
                nn.init.normal_(p, 0.0, residual_std)
            else:
                nn.init.normal_(p, 0.0, 0.02)

    def forward(self, idx):
        h = self.ln_f(self.mixer(self.wte(idx)))
        return F.linear(h, self.wte.weight) if self.tied else self.lm_head(h)

    def loss(self, idx, targets):
        logits = self(idx)
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1))

    def param_groups(self, weight_decay):
        """AdamW groups by ladder-train's rule: decay 2-D weights except the
        token and position embeddings."""
        decay, no_decay = [], []
        for name, p in self.named_parameters():
            embedding = name in ("wte.weight", "mixer.wpe.weight")
            (decay if p.dim() >= 2 and not embedding else no_decay).append(p)
        return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
