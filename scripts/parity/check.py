#!/usr/bin/env python3
"""Parity check, PyTorch side: load @batgpt/core checkpoints into the OFFICIAL BatGPT code and
compare its logits with ours.

    npm run build && npx tsx scripts/parity/export.ts /tmp/batgpt-parity
    python3 scripts/parity/check.py /tmp/batgpt-parity [--official scripts/parity/official]

The official code is `modeling_batgpt.py` and `configuration_batgpt.py` of the BatGPT-15B-sirius
release (github.com/zcli-charlie/BatGPT, folder BatGPT-15B-sirius/), used unmodified: they are
imported as a package from --official and their SHA-256 is printed (and compared with the copy
this check was first run with, see EXPECTED_SHA256).

For each checkpoint that export.ts wrote (plain/, head/): config.json -> the official
BatGPTConfig; model.safetensors -> the official BatGPTForCausalLM through load_state_dict(strict=False),
after dropping the tensors of the heads that config.json declares (`score.weight` ...), with the
missing and unexpected keys reported (both must be empty). Then, on CPU in float32, the official
forward reads exactly the input ids our model read (direction token first) and max |logits ours -
logits official| is printed per sequence. A head's output (dropped before loading, since the
official code has no heads) is also compared, applied to the official model's final hidden states.

Two stand-ins, used ONLY where the environment lacks the real thing, and reported in the output:
- `transformers` not importable: a stub of the few names the official file imports (config and
  output containers, an nn.Module base class, a logger). None of them computes anything in the
  forward pass; the forward is called with return_dict=False and use_cache=False.
- torch < 2 (no F.scaled_dot_product_attention): the release requires torch >= 2 and, with its
  default use_native_attn_impl=True, takes causal attention from F.scaled_dot_product_attention.
  Its torch < 2 fallback branch applies no causal mask when no attention mask is passed, so it is
  not the model's forward. Here F.scaled_dot_product_attention is then polyfilled with PyTorch 2's
  documented reference semantics and torch.__version__ is made to read "2.x" for the official
  version test. On torch >= 2 nothing is patched.

Prints one line per sequence and a final JSON line {"maxAbsDiff": ..., "torch": ..., "sequences": n, ...}.
Exit status 1 when maxAbsDiff > --tol (default 1e-4), a key is missing or unexpected, or shapes differ.
"""
import argparse
import hashlib
import importlib
import json
import math
import struct
import sys
import types
from collections import OrderedDict
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent

# SHA-256 of the official files as this check was first run with them (zcli-charlie/BatGPT,
# commit b2bfefc057987a89a74da2712506ef564642c758, BatGPT-15B-sirius/).
EXPECTED_SHA256 = {
    "modeling_batgpt.py": "4d921333a573773a40c8ba86a8045e79e627dd15a661cc7a69b4695fa323f5bf",
    "configuration_batgpt.py": "4db5156a3c9e9fb23b52a3966850d881aa5ac4ac40e2e5abadaf1a29f0e6bb7a",
}

SAFETENSORS_DTYPES = {"F32": (torch.float32, 4), "F64": (torch.float64, 8), "F16": (torch.float16, 2), "I32": (torch.int32, 4)}


def read_safetensors(path: Path) -> "OrderedDict[str, torch.Tensor]":
    """A .safetensors file: u64 little-endian header length, a JSON header, then raw little-endian data."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    out: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype, size = SAFETENSORS_DTYPES[info["dtype"]]
        start, end = info["data_offsets"]
        count = math.prod(info["shape"])
        if end - start != count * size:
            raise ValueError(f"{path}: tensor {name} spans {end - start} bytes, expected {count * size}")
        buf = bytearray(data[start:end])
        t = torch.frombuffer(buf, dtype=dtype) if count else torch.empty(0, dtype=dtype)
        if sys.byteorder != "little":
            t = t.byteswap()
        out[name] = t.reshape(info["shape"]).clone()
    return out


def install_transformers_stub() -> str:
    """Use the real transformers when importable; else register a stub of what modeling_batgpt imports."""
    try:
        import transformers  # noqa: F401

        return f"transformers {transformers.__version__}"
    except ImportError:
        pass

    class PretrainedConfig:
        def __init__(self, **kwargs):
            # the Hugging Face defaults the official file reads
            self.output_hidden_states = False
            self.use_cache = True
            self.return_dict = True
            self.torch_dtype = None
            self.max_length = 20
            self.is_encoder_decoder = False
            for k, v in kwargs.items():
                setattr(self, k, v)
            if isinstance(self.torch_dtype, str):
                self.torch_dtype = getattr(torch, self.torch_dtype)

        @property
        def use_return_dict(self):
            return self.return_dict

    class ModelOutput(OrderedDict):
        def __init__(self, **kwargs):
            super().__init__((k, v) for k, v in kwargs.items() if v is not None)
            for k, v in kwargs.items():
                object.__setattr__(self, k, v)

        def __getitem__(self, k):
            return list(self.values())[k] if isinstance(k, (int, slice)) else super().__getitem__(k)

    class BaseModelOutputWithPast(ModelOutput):
        pass

    class CausalLMOutputWithPast(ModelOutput):
        pass

    class PreTrainedModel(torch.nn.Module):
        def __init__(self, config, *args, **kwargs):
            super().__init__()
            self.config = config

    class LogitsProcessor:
        pass

    class LogitsProcessorList(list):
        pass

    class StoppingCriteriaList(list):
        pass

    class GenerationConfig:
        pass

    class _Logging:
        @staticmethod
        def get_logger(name):
            import logging

            return logging.getLogger(name)

    mods = {
        "transformers": {"PretrainedConfig": PretrainedConfig, "__version__": "stub"},
        "transformers.modeling_outputs": {"BaseModelOutputWithPast": BaseModelOutputWithPast, "CausalLMOutputWithPast": CausalLMOutputWithPast},
        "transformers.modeling_utils": {"PreTrainedModel": PreTrainedModel},
        "transformers.utils": {"logging": _Logging()},
        "transformers.generation": {},
        "transformers.generation.logits_process": {"LogitsProcessor": LogitsProcessor},
        "transformers.generation.utils": {
            "LogitsProcessorList": LogitsProcessorList,
            "StoppingCriteriaList": StoppingCriteriaList,
            "GenerationConfig": GenerationConfig,
            "ModelOutput": ModelOutput,
        },
    }
    for name, attrs in mods.items():
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        if name in ("transformers", "transformers.generation"):
            m.__path__ = []  # a package
        sys.modules[name] = m
    return "stub (transformers not importable)"


def install_sdpa() -> str:
    """Where torch < 2, polyfill F.scaled_dot_product_attention (PyTorch 2 reference semantics)."""
    F = torch.nn.functional
    if hasattr(F, "scaled_dot_product_attention") and int(torch.__version__.split(".")[0]) >= 2:
        return "torch F.scaled_dot_product_attention"

    def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False):
        L, S = query.size(-2), key.size(-2)
        bias = torch.zeros(L, S, dtype=query.dtype, device=query.device)
        if is_causal:
            keep = torch.ones(L, S, dtype=torch.bool, device=query.device).tril(diagonal=0)
            bias = bias.masked_fill(~keep, float("-inf"))
        if attn_mask is not None:
            bias = bias.masked_fill(~attn_mask, float("-inf")) if attn_mask.dtype == torch.bool else bias + attn_mask
        weights = torch.softmax(query @ key.transpose(-2, -1) / math.sqrt(query.size(-1)) + bias, dim=-1)
        if dropout_p > 0.0:
            weights = torch.dropout(weights, dropout_p, train=True)
        return weights @ value

    F.scaled_dot_product_attention = scaled_dot_product_attention
    torch.__version__ = f"2.0.0+sdpa-polyfill.torch-{torch.__version__}"
    return "polyfill of F.scaled_dot_product_attention (torch < 2)"


def load_official(official_dir: Path):
    shas = {}
    for name, want in EXPECTED_SHA256.items():
        path = official_dir / name
        if not path.is_file():
            sys.exit(f"missing {path}: put the official {name} (zcli-charlie/BatGPT, BatGPT-15B-sirius/) there, unmodified (see README.md)")
        shas[name] = hashlib.sha256(path.read_bytes()).hexdigest()
        if shas[name] != want:
            print(f"warning: {name} sha256 {shas[name]} differs from the copy this check was first run with ({want})", file=sys.stderr)
    pkg = types.ModuleType("batgpt_official")
    pkg.__path__ = [str(official_dir)]
    sys.modules["batgpt_official"] = pkg
    cfg = importlib.import_module("batgpt_official.configuration_batgpt")
    mod = importlib.import_module("batgpt_official.modeling_batgpt")
    return cfg.BatGPTConfig, mod.BatGPTForCausalLM, shas


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", nargs="?", default="/tmp/batgpt-parity", help="what export.ts wrote")
    ap.add_argument("--official", default=str(HERE / "official"), help="folder with the official modeling_batgpt.py and configuration_batgpt.py")
    ap.add_argument("--tol", type=float, default=1e-4, help="fail when max |Δ logits| exceeds this")
    args = ap.parse_args()

    real_torch = torch.__version__
    transformers_used = install_transformers_stub()
    attention = install_sdpa()
    BatGPTConfig, BatGPTForCausalLM, shas = load_official(Path(args.official))
    torch.manual_seed(0)

    root = Path(args.dir)
    expected = json.loads((root / "expected.json").read_text())
    ok = True
    per_ckpt: dict = {}
    head_diff = 0.0
    f64_ours = f64_official = 0.0
    max_logit = 0.0
    n = 0
    for ckpt in sorted({c["checkpoint"] for c in expected["cases"]}):
        config_json = json.loads((root / ckpt / "config.json").read_text())
        config = BatGPTConfig(**config_json)
        model = BatGPTForCausalLM(config).float().eval()
        weights = read_safetensors(root / ckpt / "model.safetensors")
        head_names = [f"{h}.{p}" for h in config_json.get("heads", {}) for p in ("weight", "bias")]
        dropped = {k: weights.pop(k) for k in head_names if k in weights}
        res = model.load_state_dict(weights, strict=False)
        # a float64 run of the same official code, to tell float32 rounding from a real difference
        # (by its own design its RMSNorm variance and rotary tables stay float32)
        model64 = BatGPTForCausalLM(config).double().eval()
        model64.load_state_dict({k: v.double() for k, v in weights.items()}, strict=False)
        print(f"[{ckpt}] {len(weights)} tensors loaded; dropped head tensors {sorted(dropped)}; missing keys {res.missing_keys}; unexpected keys {res.unexpected_keys}")
        if res.missing_keys or res.unexpected_keys:
            ok = False
        worst = 0.0
        for case in (c for c in expected["cases"] if c["checkpoint"] == ckpt):
            ids = torch.tensor([case["input"]], dtype=torch.long)
            T = ids.shape[1]
            with torch.no_grad():
                (logits,) = model(input_ids=ids, use_cache=False, return_dict=False)
                hidden = model.model(input_ids=ids, use_cache=False, return_dict=False)[0]  # [s, b, h]
            ours = torch.tensor(case["logits"], dtype=torch.float32).reshape(T, -1)
            theirs = logits[0]
            if ours.shape != theirs.shape:
                print(f"[{ckpt}] shape mismatch: ours {tuple(ours.shape)}, official {tuple(theirs.shape)}")
                ok = False
                continue
            d = (ours - theirs).abs().max().item()
            m = theirs.abs().max().item()
            with torch.no_grad():
                (logits64,) = model64(input_ids=ids, use_cache=False, return_dict=False)
            ref = logits64[0]
            d64 = ((ours.double() - ref).abs().max().item(), (theirs.double() - ref).abs().max().item())
            f64_ours, f64_official = max(f64_ours, d64[0]), max(f64_official, d64[1])
            line = f"[{ckpt}] {case['direction']:8s} T={T:2d} max|Δ logits|={d:.3e}  (max|logit| {m:.3f}; vs official float64: ours {d64[0]:.2e}, official float32 {d64[1]:.2e})"
            for head, values in case.get("heads", {}).items():
                w = dropped[f"{head}.weight"]
                out = hidden[:, 0, :] @ w.T
                if f"{head}.bias" in dropped:
                    out = out + dropped[f"{head}.bias"]
                hd = (torch.tensor(values, dtype=torch.float32).reshape(T, -1) - out).abs().max().item()
                head_diff = max(head_diff, hd)
                line += f"  {head}: max|Δ|={hd:.3e}"
            print(line)
            worst = max(worst, d)
            max_logit = max(max_logit, m)
            n += 1
        per_ckpt[ckpt] = worst
    max_diff = max(per_ckpt.values()) if per_ckpt else float("nan")
    ok = ok and n > 0 and max_diff <= args.tol and head_diff <= args.tol
    print(
        json.dumps(
            {
                "maxAbsDiff": max_diff,
                "torch": real_torch,
                "sequences": n,
                "perCheckpoint": per_ckpt,
                "headMaxAbsDiff": head_diff,
                "maxAbsLogit": max_logit,
                "vsOfficialFloat64": {"ours": f64_ours, "officialFloat32": f64_official},
                "attention": attention,
                "transformers": transformers_used,
                "official": shas,
                "ok": ok,
            }
        )
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
