#!/usr/bin/env python3
"""Reference-fixture generator for Switchboard's Swift tests.

Runs outside CI (needs torch (CPU), transformers, gguf, tokenizers, safetensors,
numpy, jinja2 and the SmolLM2 GGUF; no network access is used).

Run from the repository root:

    python3 Tests/Fixtures/make_fixtures.py --model models/SmolLM2-135M-Instruct.Q4_1.gguf

Everything is deterministic (fixed seeds, fixed strings).  It (re)writes, under
Tests/Fixtures/ (or --out):

  tiny/config.json, tiny/model.safetensors
      Random tiny Llama (seed 0): vocab 256, hidden 64, ffn 160, 2 layers,
      4 heads / 2 KV heads (head_dim 16), rope_theta 1e4, eps 1e-5, untied.
  tiny/model-f32.gguf, tiny/model-f16.gguf, tiny/model-q.gguf
      The same weights written like llama.cpp's converter (q/k rows permuted
      for adjacent-pair RoPE); f16 file stores 2-D matrices as F16, norms F32.
  tiny/model-q.gguf: the same model quantized as SmolLM2's file is (token_embd/output Q8_0,
      every other 2-D weight Q4_1, norms F32), so the quantized kernels run on a tiny model.
  tiny/goldens.json, tiny/goldens-f16.json, tiny/goldens-q.json
      {"cases": [{"ids", "logits"[pos][vocab]}], "greedy": [{"prompt_ids",
      "output_ids", "margins"}], "note"}.  goldens-f16 = the fp32 model with its
      2-D weights rounded to f16 and back.
  tiny-sharded/  same weights as tiny/, safetensors shards + index.json.
  tiny-rope-scaled/config.json, model.safetensors, goldens.json
      Second tiny Llama (seed 1), tied embeddings, llama3 rope scaling.
  adapters/<name>/adapter_config.json, adapter_model.safetensors, goldens.json
      PEFT adapters on the tiny/ model (PeftModel.save_pretrained, safetensors; README
      dropped): lora (r4 a8 q,v), lora-all (r8 a16 all-linear), rslora (r4 a8 q,k,o,down;
      rank_pattern o_proj 2, alpha_pattern layers.1.mlp.down_proj 3), dora (r4 a8 q,k,v,up;
      magnitudes perturbed), ia3 (k,v,down; down feedforward; ia3_l ~ 1+0.3N), prefix (5
      virtual, no projection), prefix-proj (4 virtual, projection; the file holds the
      projected prefix), prompt (6 virtual), lora-bf16 (r4 a8 all-linear, saved in
      bfloat16; its goldens are PEFT's after loading it onto the fp32 base).  goldens.json as tiny/goldens.json (cases of
      length 1/5/17, greedy prompts 1/4 x 12 tokens), batch 1, logits of the REAL tokens
      only.  Checked: reload reproduces, merge_and_unload matches (LoRA family), DoRA
      merged weight = m/||W+sBA||_row * (W+sBA), prefix/prompt forward rebuilt by hand
      (prefix KV un-rotated, real positions start at n_virtual).
  quant/blocks.gguf, quant/expected.safetensors
      One random-but-valid tensor per dtype (f32 f16 bf16 q8_0 q4_0 q4_1 q4_k
      q6_k), ggml ne = [512, 3]; expected = gguf.quants.dequantize (F32, (3,512)).
  smollm2/tensors.json   {"note", "tensors": [{"name", "dtype", "shape" (numpy
      order), "first" (first 1024 dequantized values, row-major), "sum",
      "sum_abs" (float64)}]} for 6 real SmolLM2 tensors, raw GGUF row order
      (attn_q/attn_k rows stay permuted).
  smollm2/greedy.json    {"note", "prompts": [{"text", "input_ids", "output_ids"
      (32 greedy), "margins", "last_logits_top" ([[id, logit]] x 20)}]} for 4
      prompts (transformers, GGUF dequantized to fp32, eager attention).
  tokenizer/corpus.json        [{"text", "ids", "decoded"}]
  tokenizer/chat.json          [{"messages": [{"role","content"}], "rendered", "ids"}]  (ChatML)
  tokenizer/llama3-chat.json   [{"messages", "rendered"}]  (Llama-3 instruct rules)
      The tokenizer is built from the GGUF vocab/merges (digits split
      individually, then GPT-2 byte-level regex; no BOS; control tokens special).

Floats in JSON are float32 values printed as python floats (repr), so they
parse back to the exact float32.  --skip-smollm2-greedy skips the ~1 minute
SmolLM2 run.
"""

import argparse
import json
import os
import random
import shutil
import sys

import numpy as np
import torch

import gguf
from gguf import GGMLQuantizationType as QT
from safetensors.numpy import save_file as np_save_file

HERE = os.path.dirname(os.path.abspath(__file__))

# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def log(*a):
    print("[fixtures]", *a, flush=True)


def write_json(path, obj, compact=False):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        if compact:
            json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        else:
            json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


def floats(t):
    """float32 tensor/array -> nested lists of python floats (exact f32 values)."""
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu().numpy()
    return np.asarray(t, dtype=np.float32).astype(np.float64).tolist()


def top2_margin(logits_row):
    v = np.sort(np.asarray(logits_row, dtype=np.float64))
    return float(v[-1] - v[-2])


# --------------------------------------------------------------------------
# tiny llama models
# --------------------------------------------------------------------------

TINY = dict(vocab_size=256, hidden_size=64, intermediate_size=160,
            num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            head_dim=16, max_position_embeddings=512, rms_norm_eps=1e-5,
            attention_bias=False, mlp_bias=False, hidden_act="silu",
            bos_token_id=None, eos_token_id=None, pad_token_id=None)
WEIGHT_STD = 0.2


def make_tiny(seed, tie, rope_params):
    from transformers import LlamaConfig, LlamaForCausalLM
    cfg = LlamaConfig(**TINY, tie_word_embeddings=tie, rope_parameters=rope_params)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():  # tied params appear once
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float32)
            if "norm" in name:
                p.copy_(1.0 + 0.1 * noise)
            else:
                p.copy_(WEIGHT_STD * noise)
    model = model.float().eval()
    model.set_attn_implementation("eager")
    return model


def add_legacy_rope_keys(config_path, rope_theta, rope_scaling):
    """transformers 5 writes "rope_parameters"; hub configs made by older
    versions carry top-level "rope_theta" (+ "rope_scaling").  Write both."""
    with open(config_path) as f:
        cfg = json.load(f)
    cfg["rope_theta"] = rope_theta
    if rope_scaling is not None:
        cfg["rope_scaling"] = rope_scaling
    with open(config_path, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")


@torch.no_grad()
def forward_logits(model, ids):
    x = torch.tensor([ids], dtype=torch.long)
    return model(input_ids=x, use_cache=False).logits[0].float()


@torch.no_grad()
def greedy(model, prompt_ids, n_new):
    """Greedy decoding with a full re-forward every step (no cache, no eos)."""
    ids = list(prompt_ids)
    out, margins = [], []
    first_logits = None
    for _ in range(n_new):
        last = forward_logits(model, ids)[-1]
        if first_logits is None:
            first_logits = last.clone()
        nxt = int(torch.argmax(last))
        out.append(nxt)
        margins.append(top2_margin(last.numpy()))
        ids.append(nxt)
    return out, margins, first_logits


def make_goldens(model, case_lengths, greedy_lengths, seed, n_new=24, note=""):
    rng = np.random.default_rng(seed)
    cases = []
    for n in case_lengths:
        ids = [int(v) for v in rng.integers(0, 256, size=n)]
        cases.append({"ids": ids, "logits": floats(forward_logits(model, ids))})
    gl = []
    for n in greedy_lengths:
        ids = [int(v) for v in rng.integers(0, 256, size=n)]
        out, margins, _ = greedy(model, ids, n_new)
        gl.append({"prompt_ids": ids, "output_ids": out, "margins": margins})
    return {"note": note, "cases": cases, "greedy": gl}


def margin_stats(goldens):
    ms = np.array([top2_margin(row) for c in goldens["cases"] for row in c["logits"]])
    gm = np.array([m for g in goldens["greedy"] for m in g["margins"]])
    return {"case positions": int(ms.size), "min case margin": float(ms.min()),
            "case margins <1e-3": int((ms < 1e-3).sum()), "case margins <0.05": int((ms < 0.05).sum()),
            "min greedy margin": float(gm.min()), "greedy margins <1e-3": int((gm < 1e-3).sum()),
            "greedy margins <0.01": int((gm < 0.01).sum())}


# ---- HF <-> GGUF q/k row permutation (llama.cpp adjacent-pair RoPE layout) ----

def gguf_row_order(n_rows, n_heads):
    """perm[g] = HF row stored at GGUF row g.  Within a head of size hd:
    GGUF row 2j+p holds HF row (hd/2)*p + j."""
    hd = n_rows // n_heads
    half = hd // 2
    perm = np.empty(n_rows, dtype=np.int64)
    for h in range(n_heads):
        for j in range(half):
            for p in range(2):
                perm[h * hd + 2 * j + p] = h * hd + half * p + j
    return perm


def hf_to_gguf_rows(w, n_heads):
    return w[gguf_row_order(w.shape[0], n_heads)]


def gguf_to_hf_rows(w, n_heads):
    perm = gguf_row_order(w.shape[0], n_heads)
    out = np.empty_like(w)
    out[perm] = w
    return out


def gguf_name_pairs(model):
    """[(gguf_name, hf_state_dict_name)] for every tensor llama.cpp's converter writes."""
    cfg = model.config
    pairs = [("token_embd.weight", "model.embed_tokens.weight")]
    for i in range(cfg.num_hidden_layers):
        pre = f"model.layers.{i}."
        pairs += [
            (f"blk.{i}.attn_norm.weight", pre + "input_layernorm.weight"),
            (f"blk.{i}.attn_q.weight", pre + "self_attn.q_proj.weight"),
            (f"blk.{i}.attn_k.weight", pre + "self_attn.k_proj.weight"),
            (f"blk.{i}.attn_v.weight", pre + "self_attn.v_proj.weight"),
            (f"blk.{i}.attn_output.weight", pre + "self_attn.o_proj.weight"),
            (f"blk.{i}.ffn_norm.weight", pre + "post_attention_layernorm.weight"),
            (f"blk.{i}.ffn_gate.weight", pre + "mlp.gate_proj.weight"),
            (f"blk.{i}.ffn_up.weight", pre + "mlp.up_proj.weight"),
            (f"blk.{i}.ffn_down.weight", pre + "mlp.down_proj.weight"),
        ]
    pairs.append(("output_norm.weight", "model.norm.weight"))
    if not cfg.tie_word_embeddings:
        pairs.append(("output.weight", "lm_head.weight"))
    return pairs


def hf_to_gguf_tensors(model):
    """Return [(gguf_name, np.float32 array in HF layout [out, in], n_heads or None)]."""
    sd = {k: v.detach().float().numpy().copy() for k, v in model.state_dict().items()}
    cfg = model.config
    heads = {"attn_q": cfg.num_attention_heads, "attn_k": cfg.num_key_value_heads}
    return [(g, sd[hf], heads.get(g.split(".")[-2])) for g, hf in gguf_name_pairs(model)]


def tiny_gguf_writer(model, path, name, file_type):
    """A GGUFWriter with the llama.* metadata llama.cpp's converter writes for `model`."""
    cfg = model.config
    w = gguf.GGUFWriter(path, "llama")
    w.add_type("model")
    w.add_name(name)
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_rope_freq_base(float(cfg.rope_parameters["rope_theta"]))
    w.add_layer_norm_rms_eps(float(cfg.rms_norm_eps))
    w.add_file_type(file_type)
    w.add_rope_dimension_count(cfg.head_dim)
    w.add_vocab_size(cfg.vocab_size)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    return w


def write_tiny_gguf(model, path, f16):
    # LlamaFileType.MOSTLY_F16 / ALL_F32
    w = tiny_gguf_writer(model, path, "tiny-llama", 1 if f16 else 0)
    expected = {}
    for name, arr, n_heads in hf_to_gguf_tensors(model):
        data = hf_to_gguf_rows(arr, n_heads) if n_heads else arr
        if f16 and data.ndim == 2:
            data = data.astype(np.float16)
        else:
            data = data.astype(np.float32)
        data = np.ascontiguousarray(data)
        w.add_tensor(name, data)
        expected[name] = (arr, n_heads, data.dtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    # verify: read back, un-permute, compare exactly
    r = gguf.GGUFReader(path)
    assert r.fields["general.architecture"].contents() == "llama"
    assert r.fields["general.name"].contents() == "tiny-llama"
    seen = set()
    for t in r.tensors:
        arr, n_heads, dt = expected[t.name]
        want_type = QT.F16 if dt == np.float16 else QT.F32
        assert t.tensor_type == want_type, (t.name, t.tensor_type)
        assert list(t.shape) == list(reversed(arr.shape)), (t.name, t.shape)
        data = np.array(t.data).reshape(arr.shape)
        if n_heads:
            data = gguf_to_hf_rows(data, n_heads)
        ref = arr.astype(np.float16) if dt == np.float16 else arr
        assert np.array_equal(data, ref), t.name
        seen.add(t.name)
    assert seen == set(expected), "tensor set mismatch"
    log(f"verified {path}: {len(seen)} tensors round-trip exactly")


def quantized_tiny(model, path):
    """Write model-q.gguf (Q8_0 embeddings/output, Q4_1 projections) and return the HF-order
    state dict those blocks dequantize to (what transformers computes with)."""
    from gguf import quants
    w = tiny_gguf_writer(model, path, "tiny-llama-q", 3)  # LlamaFileType.MOSTLY_Q4_1
    dequantized = {}
    for name, arr, n_heads in hf_to_gguf_tensors(model):
        data = np.ascontiguousarray((hf_to_gguf_rows(arr, n_heads) if n_heads else arr).astype(np.float32))
        if data.ndim == 2:
            qt = QT.Q8_0 if name in ("token_embd.weight", "output.weight") else QT.Q4_1
            raw = quants.quantize(data, qt)
            w.add_tensor(name, raw, raw_shape=raw.shape, raw_dtype=qt)
            back = quants.dequantize(raw, qt).reshape(data.shape)
            dequantized[name] = gguf_to_hf_rows(back, n_heads) if n_heads else back
        else:
            w.add_tensor(name, data)
            dequantized[name] = data
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    # Read back: every tensor dequantizes (gguf-py) to what we recorded.
    r = gguf.GGUFReader(path)
    names = {n for n, _, _ in hf_to_gguf_tensors(model)}
    heads = {n: h for n, _, h in hf_to_gguf_tensors(model)}
    for t in r.tensors:
        shape = dequantized[t.name].shape
        data = gguf.quants.dequantize(np.array(t.data), t.tensor_type).reshape(shape) if t.tensor_type != QT.F32 \
            else np.array(t.data).reshape(shape)
        if heads[t.name]:
            data = gguf_to_hf_rows(data, heads[t.name])
        assert np.array_equal(data, dequantized[t.name]), t.name
        names.discard(t.name)
    assert not names, names
    log(f"verified {path}: quantized tensors dequantize as recorded")
    return dequantized


def model_from_gguf_tensors(make, tensors):
    """A tiny model (from `make()`) whose weights are replaced by GGUF-named HF-order tensors."""
    m = make()
    gguf_to_hf = {hf: g for g, hf in gguf_name_pairs(m)}
    with torch.no_grad():
        for name, p in m.named_parameters():
            p.copy_(torch.from_numpy(np.ascontiguousarray(tensors[gguf_to_hf[name]])).reshape(p.shape))
    return m


def try_transformers_gguf(dir_, fname, ref_model, case_ids):
    """Load the tiny GGUF with transformers and compare its logits."""
    from transformers import AutoModelForCausalLM
    try:
        m = AutoModelForCausalLM.from_pretrained(dir_, gguf_file=fname, dtype=torch.float32)
    except Exception as e:  # pragma: no cover - informative only
        return f"transformers could not load {fname}: {type(e).__name__}: {str(e)[:300]}"
    m = m.eval()
    m.set_attn_implementation("eager")
    worst = 0.0
    for ids in case_ids:
        a = forward_logits(m, ids)
        b = forward_logits(ref_model, ids)
        worst = max(worst, float((a - b).abs().max()))
    return (f"transformers loaded {fname}; max |logit diff| vs reference = {worst:.3g}"
            + (" (bit-exact)" if worst == 0.0 else ""))


def build_tiny(out):
    from transformers import LlamaForCausalLM
    report = {}
    # ---------------- tiny (seed 0) ----------------
    rope0 = {"rope_type": "default", "rope_theta": 10000.0}
    model = make_tiny(0, tie=False, rope_params=rope0)
    tdir = os.path.join(out, "tiny")
    os.makedirs(tdir, exist_ok=True)
    for f in ("model.safetensors", "config.json"):
        if os.path.exists(os.path.join(tdir, f)):
            os.remove(os.path.join(tdir, f))
    model.save_pretrained(tdir, max_shard_size="100MB")
    add_legacy_rope_keys(os.path.join(tdir, "config.json"), 10000.0, None)

    sdir = os.path.join(out, "tiny-sharded")
    shutil.rmtree(sdir, ignore_errors=True)
    model.save_pretrained(sdir, max_shard_size="200KB")
    add_legacy_rope_keys(os.path.join(sdir, "config.json"), 10000.0, None)
    shards = [f for f in os.listdir(sdir) if f.endswith(".safetensors")]
    assert len(shards) >= 2 and os.path.exists(os.path.join(sdir, "model.safetensors.index.json")), shards
    log(f"tiny-sharded: {len(shards)} shards")

    # reload both (with the extra legacy keys) and check identical weights
    for d in (tdir, sdir):
        m2 = LlamaForCausalLM.from_pretrained(d, dtype=torch.float32).eval()
        for (k, v), (k2, v2) in zip(model.state_dict().items(), m2.state_dict().items()):
            assert k == k2 and torch.equal(v, v2), (d, k)
        assert m2.config.rope_parameters["rope_theta"] == 10000.0

    note = ("Random tiny Llama (seed 0), fp32, eager attention, transformers "
            "LlamaForCausalLM. logits: one forward pass of the whole sequence, all positions. "
            "greedy: argmax with full re-forward each step, no eos; margins = top1 - top2 logit.")
    gold = make_goldens(model, [1, 5, 17, 40], [1, 4, 12], seed=100, note=note)
    write_json(os.path.join(tdir, "goldens.json"), gold, compact=True)
    report["tiny margins"] = margin_stats(gold)

    write_tiny_gguf(model, os.path.join(tdir, "model-f32.gguf"), f16=False)
    write_tiny_gguf(model, os.path.join(tdir, "model-f16.gguf"), f16=True)

    # f16-rounded model goldens
    m16 = make_tiny(0, tie=False, rope_params=rope0)
    with torch.no_grad():
        for name, p in m16.named_parameters():
            if p.dim() == 2:
                p.copy_(p.half().float())
    gold16 = make_goldens(m16, [1, 5, 17, 40], [1, 4, 12], seed=100,
                          note=note + " Model's 2-D weights rounded to f16 and back (norms stay f32), "
                                      "i.e. exactly what model-f16.gguf holds.")
    write_json(os.path.join(tdir, "goldens-f16.json"), gold16, compact=True)
    report["tiny-f16 margins"] = margin_stats(gold16)

    # Q4_1/Q8_0-quantized model: goldens from the weights its blocks dequantize to.
    qtensors = quantized_tiny(model, os.path.join(tdir, "model-q.gguf"))
    mq = model_from_gguf_tensors(lambda: make_tiny(0, tie=False, rope_params=rope0), qtensors)
    goldq = make_goldens(mq, [1, 5, 17, 40], [1, 4, 12], seed=100,
                         note=note + " Weights are what model-q.gguf's Q4_1/Q8_0 blocks dequantize to.")
    write_json(os.path.join(tdir, "goldens-q.json"), goldq, compact=True)
    report["tiny-q margins"] = margin_stats(goldq)

    case_ids = [c["ids"] for c in gold["cases"]]
    report["transformers tiny q gguf"] = try_transformers_gguf(tdir, "model-q.gguf", mq, case_ids)
    report["transformers tiny f32 gguf"] = try_transformers_gguf(tdir, "model-f32.gguf", model, case_ids)
    report["transformers tiny f16 gguf"] = try_transformers_gguf(tdir, "model-f16.gguf", m16, case_ids)

    # ---------------- tiny-rope-scaled (seed 1) ----------------
    scaling = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
               "high_freq_factor": 4.0, "original_max_position_embeddings": 64}
    rope1 = dict(scaling, rope_theta=500000.0)
    rmodel = make_tiny(1, tie=True, rope_params=rope1)
    assert rmodel.model.rotary_emb.rope_type == "llama3"
    rdir = os.path.join(out, "tiny-rope-scaled")
    shutil.rmtree(rdir, ignore_errors=True)
    rmodel.save_pretrained(rdir, max_shard_size="100MB")
    add_legacy_rope_keys(os.path.join(rdir, "config.json"), 500000.0, scaling)
    m2 = LlamaForCausalLM.from_pretrained(rdir, dtype=torch.float32).eval()
    m2.set_attn_implementation("eager")
    assert m2.model.rotary_emb.rope_type == "llama3"
    assert torch.equal(m2.lm_head.weight, m2.model.embed_tokens.weight)
    probe = list(range(0, 256, 2)) [:110]
    assert torch.equal(forward_logits(m2, probe), forward_logits(rmodel, probe))
    rnote = ("Random tiny Llama (seed 1), tied embeddings, rope_theta 500000 with llama3 rope "
             "scaling (factor 8, low 1, high 4, original_max_position_embeddings 64). " + note.split(". ", 1)[1])
    rgold = make_goldens(rmodel, [1, 5, 17, 40, 100], [1, 4, 12], seed=101, note=rnote)
    write_json(os.path.join(rdir, "goldens.json"), rgold, compact=True)
    report["tiny-rope-scaled margins"] = margin_stats(rgold)
    return report


# --------------------------------------------------------------------------
# PEFT adapters on the seed-0 tiny model
# --------------------------------------------------------------------------

ADAPTER_CASE_LENGTHS = [1, 5, 17]
ADAPTER_GREEDY_LENGTHS = [1, 4]
ADAPTER_GREEDY_NEW = 12
ADAPTER_IDS_SEED = 300


def _randomize_(t, gen, mean, std):
    with torch.no_grad():
        t.copy_(mean + std * torch.randn(t.shape, generator=gen, dtype=torch.float32))


@torch.no_grad()
def peft_logits(pm, ids, n_virtual_in_logits):
    """Logits of the real tokens only (batch 1, no padding)."""
    x = torch.tensor([ids], dtype=torch.long)
    out = pm(input_ids=x, attention_mask=torch.ones_like(x)).logits[0].float()
    assert out.shape[0] == n_virtual_in_logits + len(ids), (out.shape, len(ids))
    return out[n_virtual_in_logits:]


def adapter_goldens(fwd, note):
    rng = np.random.default_rng(ADAPTER_IDS_SEED)
    cases = []
    for n in ADAPTER_CASE_LENGTHS:
        ids = [int(v) for v in rng.integers(0, 256, size=n)]
        cases.append({"ids": ids, "logits": floats(fwd(ids))})
    gl = []
    for n in ADAPTER_GREEDY_LENGTHS:
        ids = [int(v) for v in rng.integers(0, 256, size=n)]
        seq, out, margins = list(ids), [], []
        for _ in range(ADAPTER_GREEDY_NEW):
            last = fwd(seq)[-1]
            nxt = int(torch.argmax(last))
            out.append(nxt)
            margins.append(top2_margin(last.numpy()))
            seq.append(nxt)
        gl.append({"prompt_ids": ids, "output_ids": out, "margins": margins})
    return {"note": note, "cases": cases, "greedy": gl}


def adapter_specs():
    from peft import LoraConfig, IA3Config, PrefixTuningConfig, PromptTuningConfig, TaskType
    from peft import PromptTuningInit
    lm = TaskType.CAUSAL_LM
    return [
        ("lora", LoraConfig(task_type=lm, r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                            lora_dropout=0.0, init_lora_weights=False),
         "LoRA r=4 alpha=8 on q_proj, v_proj (scale alpha/r = 2)."),
        ("lora-all", LoraConfig(task_type=lm, r=8, lora_alpha=16, target_modules="all-linear",
                                lora_dropout=0.0, init_lora_weights=False),
         "LoRA r=8 alpha=16 on all-linear (q k v o gate up down; lm_head excluded by PEFT), scale 2."),
        ("rslora", LoraConfig(task_type=lm, r=4, lora_alpha=8, use_rslora=True,
                              target_modules=["q_proj", "k_proj", "o_proj", "down_proj"],
                              rank_pattern={"o_proj": 2},
                              alpha_pattern={"layers.1.mlp.down_proj": 3},
                              lora_dropout=0.0, init_lora_weights=False),
         "rsLoRA (scale alpha/sqrt(r)) r=4 alpha=8 on q_proj k_proj o_proj down_proj; rank_pattern "
         "{o_proj: 2} (o_proj r=2, scale 8/sqrt2), alpha_pattern {layers.1.mlp.down_proj: 3} "
         "(that module scale 3/2; layer-0 down_proj keeps 8/2)."),
        ("dora", LoraConfig(task_type=lm, r=4, lora_alpha=8, use_dora=True,
                            target_modules=["q_proj", "k_proj", "v_proj", "up_proj"],
                            lora_dropout=0.0, init_lora_weights=False),
         "DoRA r=4 alpha=8 on q k v up_proj; lora_magnitude_vector = row norms of W + 2*B@A "
         "(PEFT init) times (1 + 0.1*N(0,1)). y = m/||W+sBA||_row * (xW^T + s xA^TB^T)."),
        ("ia3", IA3Config(task_type=lm, target_modules=["k_proj", "v_proj", "down_proj"],
                          feedforward_modules=["down_proj"], init_ia3_weights=True),
         "IA3 on k_proj v_proj (output scaled, ia3_l [out,1]) and down_proj (feedforward: input "
         "scaled, ia3_l [1,in]); ia3_l = 1 + 0.3*N(0,1)."),
        ("prefix", PrefixTuningConfig(task_type=lm, num_virtual_tokens=5, prefix_projection=False),
         "Prefix tuning, 5 virtual tokens, no projection; prompt_embeddings ~ N(0, 0.5^2). "
         "Logits are those of the real tokens (the prefix sits in the KV cache)."),
        ("prefix-proj", PrefixTuningConfig(task_type=lm, num_virtual_tokens=4, prefix_projection=True,
                                           encoder_hidden_size=32),
         "Prefix tuning, 4 virtual tokens, prefix_projection=True (encoder_hidden_size 32, "
         "randomized MLP). The saved prompt_embeddings already hold the PROJECTED prefix "
         "[4, layers*2*kv_heads*head_dim]; the MLP is not saved. Logits are those of the real tokens."),
        ("prompt", PromptTuningConfig(task_type=lm, num_virtual_tokens=6,
                                      prompt_tuning_init=PromptTuningInit.RANDOM),
         "Prompt tuning, 6 virtual tokens, prompt_embeddings [6, hidden] ~ N(0, 0.5^2). PEFT's "
         "logits include the 6 virtual positions; they are dropped here (logits = real tokens only)."),
        # Last, so that the seeds (1000 + k, 2000 + k) of the adapters above stay what they were.
        ("lora-bf16", LoraConfig(task_type=lm, r=4, lora_alpha=8, target_modules="all-linear",
                                 lora_dropout=0.0, init_lora_weights=False),
         "LoRA r=4 alpha=8 on all-linear, saved in bfloat16 (as adapters trained in bf16 are). "
         "Logits: PeftModel.from_pretrained onto the fp32 base, which widens the bf16 factors to "
         "fp32 (autocast_adapter_dtype=True, PEFT's default)."),
    ]


def _randomize_adapter(name, pm, gen):
    """Make freshly initialised adapter weights non-trivial."""
    n = 0
    for pname, p in pm.named_parameters():
        if not p.requires_grad:
            continue
        if name == "dora" and "lora_magnitude_vector" in pname:
            with torch.no_grad():
                p.mul_(1.0 + 0.1 * torch.randn(p.shape, generator=gen, dtype=torch.float32))
        elif name == "ia3":
            _randomize_(p, gen, 1.0, 0.3)
        elif name in ("prefix", "prompt"):
            _randomize_(p, gen, 0.0, 0.5)
        elif name == "prefix-proj":
            _randomize_(p, gen, 0.0, 0.5 if "embedding" in pname else 0.3)
        else:
            continue
        n += 1
    return n


@torch.no_grad()
def _check_prompt_semantics(name, base, cfg, emb, ids):
    """Recompute the prompt-learning forward by hand with the base model (documents PEFT semantics)."""
    from transformers import DynamicCache
    tc = base.config
    nv = emb.shape[0]
    x = torch.tensor([ids], dtype=torch.long)
    if name.startswith("prefix"):
        kv = emb.view(nv, tc.num_hidden_layers * 2, tc.num_key_value_heads, tc.head_dim)
        cache = DynamicCache(config=tc)
        for L in range(tc.num_hidden_layers):
            k = kv[:, 2 * L].permute(1, 0, 2).unsqueeze(0)  # [1, kv_heads, nv, head_dim], un-rotated
            v = kv[:, 2 * L + 1].permute(1, 0, 2).unsqueeze(0)
            cache.update(k.contiguous(), v.contiguous(), L)
        pos = torch.arange(nv, nv + len(ids)).unsqueeze(0)
        return base(input_ids=x, past_key_values=cache, position_ids=pos,
                    attention_mask=torch.ones(1, nv + len(ids), dtype=torch.long)).logits[0].float()
    e = torch.cat([emb.unsqueeze(0), base.model.embed_tokens(x)], dim=1)
    pos = torch.arange(0, nv + len(ids)).unsqueeze(0)
    return base(inputs_embeds=e, position_ids=pos, use_cache=False).logits[0, nv:].float()


@torch.no_grad()
def _check_lora_family(name, pm, merged):
    """Scaling factors and DoRA's merged weight, recomputed from the formulas in reference-facts."""
    import math
    mods = {n: m for n, m in pm.named_modules() if hasattr(m, "lora_A") and "default" in m.lora_A}
    msd = merged.state_dict()
    for n, m in mods.items():
        r = m.r["default"]
        s = m.scaling["default"]
        if name == "rslora":
            want_r = 2 if n.endswith("o_proj") else 4
            alpha = 3 if n.endswith("layers.1.mlp.down_proj") else 8
            assert r == want_r and abs(s - alpha / math.sqrt(r)) < 1e-12, (n, r, s)
        elif name in ("lora", "lora-all", "lora-bf16", "dora"):
            assert abs(s - 2.0) < 1e-12, (n, s)
        if name == "dora":
            W = m.base_layer.weight
            A, B = m.lora_A["default"].weight, m.lora_B["default"].weight
            mag = m.lora_magnitude_vector["default"].weight
            Wp = W + s * (B @ A)
            want = (mag / Wp.norm(dim=1)).unsqueeze(1) * Wp
            key = n.split("base_model.model.", 1)[1] + ".weight"
            assert float((msd[key] - want).abs().max()) < 1e-5, n


def build_adapters(out):
    """PEFT adapters (save_pretrained format) + goldens on the seed-0 tiny model."""
    import copy
    from peft import get_peft_model, PeftModel
    from safetensors import safe_open
    rope0 = {"rope_type": "default", "rope_theta": 10000.0}
    report = {}
    adir = os.path.join(out, "adapters")
    for k, (name, cfg, desc) in enumerate(adapter_specs()):
        base = make_tiny(0, tie=False, rope_params=rope0)
        torch.manual_seed(1000 + k)
        pm = get_peft_model(base, cfg).eval()
        gen = torch.Generator().manual_seed(2000 + k)
        nrand = _randomize_adapter(name, pm, gen)
        if name == "lora-bf16":
            for pname, p in pm.named_parameters():
                if "lora_" in pname:
                    p.data = p.data.to(torch.bfloat16)
        ddir = os.path.join(adir, name)
        shutil.rmtree(ddir, ignore_errors=True)
        pm.save_pretrained(ddir, safe_serialization=True)
        if name == "lora-bf16":
            from safetensors import safe_open as _open
            with _open(os.path.join(ddir, "adapter_model.safetensors"), "pt") as f:
                assert all(f.get_tensor(key).dtype == torch.bfloat16 for key in f.keys())
            # The reference is what loading the saved adapter onto the fp32 base computes.
            pm = PeftModel.from_pretrained(make_tiny(0, tie=False, rope_params=rope0), ddir).eval()
            assert all(p.dtype == torch.float32 for n, p in pm.named_parameters() if "lora_" in n)
        for junk in ("README.md",):
            if os.path.exists(os.path.join(ddir, junk)):
                os.remove(os.path.join(ddir, junk))
        # PEFT stores target_modules / feedforward_modules from a set (order varies with
        # PYTHONHASHSEED): sort them, keeping PEFT's own formatting (indent 2, sorted keys).
        cpath = os.path.join(ddir, "adapter_config.json")
        with open(cpath) as f:
            cj = json.load(f)
        for key in ("target_modules", "feedforward_modules"):
            if isinstance(cj.get(key), list):
                cj[key] = sorted(cj[key])
        with open(cpath, "w") as f:
            f.write(json.dumps(cj, indent=2, sort_keys=True))

        prompt_learning = pm.peft_config["default"].is_prompt_learning
        is_prompt = name == "prompt"
        nv = cfg.num_virtual_tokens if is_prompt else 0
        fwd = (lambda p: (lambda ids: peft_logits(p, ids, nv)))(pm)
        note = ("PEFT " + desc + " Base: tiny/ (seed-0 tiny Llama, fp32, eager). Batch 1, no padding. "
                "logits: one forward pass, all REAL token positions. greedy: argmax with full re-forward "
                f"each step, {ADAPTER_GREEDY_NEW} new tokens, no eos; margins = top1 - top2 logit.")
        gold = adapter_goldens(fwd, note)
        write_json(os.path.join(ddir, "goldens.json"), gold, compact=True)
        stats = margin_stats(gold)

        # 1) the saved files reproduce the logits (fresh base + PeftModel.from_pretrained)
        re_base = make_tiny(0, tie=False, rope_params=rope0)
        re = PeftModel.from_pretrained(re_base, ddir).eval()
        worst_reload = 0.0
        for c in gold["cases"]:
            got = peft_logits(re, c["ids"], nv)
            worst_reload = max(worst_reload, float((got - torch.tensor(c["logits"])).abs().max()))
        assert worst_reload <= 1e-5, (name, worst_reload)
        extra = {"reload max diff": worst_reload}

        # 2) adapter changes the output
        plain = make_tiny(0, tie=False, rope_params=rope0)
        ids17 = gold["cases"][2]["ids"]
        delta = float((forward_logits(plain, ids17) - torch.tensor(gold["cases"][2]["logits"])).abs().max())
        assert delta > 1e-2, (name, delta)
        extra["max |adapter - base| logits"] = delta

        # 3) LoRA family: merged weights give the same logits
        if not prompt_learning:
            merged = copy.deepcopy(pm).merge_and_unload()
            worst = 0.0
            for c in gold["cases"]:
                got = forward_logits(merged, c["ids"])
                worst = max(worst, float((got - torch.tensor(c["logits"])).abs().max()))
            assert worst <= (1e-5 if name == "lora" else 1e-4), (name, worst)
            extra["merged max diff"] = worst
            _check_lora_family(name, pm, merged)
        # 4) prompt learning: hand-built semantics (un-rotated prefix KV, real positions start at n)
        else:
            with safe_open(os.path.join(ddir, "adapter_model.safetensors"), "pt") as f:
                emb = f.get_tensor("prompt_embeddings")
            manual_base = make_tiny(0, tie=False, rope_params=rope0)
            worst = 0.0
            for c in gold["cases"]:
                got = _check_prompt_semantics(name, manual_base, cfg, emb, c["ids"])
                worst = max(worst, float((got - torch.tensor(c["logits"])).abs().max()))
            assert worst <= 1e-4, (name, worst)
            extra["hand-built forward max diff"] = worst

        with safe_open(os.path.join(ddir, "adapter_model.safetensors"), "np") as f:
            keys = sorted(f.keys())
        log(f"adapters/{name}: {len(keys)} tensors, {nrand} params randomized, {extra}")
        report[f"adapter {name} margins"] = stats
        report[f"adapter {name} checks"] = extra
    return report


# --------------------------------------------------------------------------
# quantization blocks
# --------------------------------------------------------------------------


def f16_bytes(vals):
    return np.asarray(vals, dtype=np.float16).view(np.uint8)


def rand_scale(rng, n, signed):
    v = rng.uniform(1e-3, 0.1, size=n)
    if signed:
        v = v * rng.choice([-1.0, 1.0], size=n)
    return v


def make_quant_row(rng, qt):
    """Raw bytes of one 512-value row of the given type."""
    n = 512
    if qt == QT.F32:
        v = rng.standard_normal(n).astype(np.float32)
        v[:4] = [0.0, -0.0, 1e-40, 3.0e38]  # zero, negative zero, subnormal, large
        return v.view(np.uint8)
    if qt == QT.F16:
        v = rng.standard_normal(n).astype(np.float16)
        v[:6] = [0.0, -0.0, 6.1035e-05, 5.96e-08, 65504.0, -65504.0]  # min normal/subnormal/max
        return v.view(np.uint8)
    if qt == QT.BF16:
        bits = rng.standard_normal(n).astype(np.float32).view(np.uint32)
        b16 = ((bits.astype(np.uint64) + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
        b16[:4] = [0x0000, 0x8000, 0x0001, 0x7F7F]  # 0, -0, subnormal, ~max finite
        return b16.view(np.uint8)
    nb = n // 32
    if qt == QT.Q8_0:  # f16 d, 32 x int8
        blocks = []
        for d in rand_scale(rng, nb, signed=True):
            q = rng.integers(-128, 128, size=32).astype(np.int8)
            blocks.append(np.concatenate([f16_bytes([d]), q.view(np.uint8)]))
        return np.concatenate(blocks)
    if qt == QT.Q4_0:  # f16 d, 16 bytes of nibbles
        blocks = []
        for d in rand_scale(rng, nb, signed=True):
            blocks.append(np.concatenate([f16_bytes([d]), rng.integers(0, 256, 16).astype(np.uint8)]))
        return np.concatenate(blocks)
    if qt == QT.Q4_1:  # f16 d, f16 m, 16 bytes
        blocks = []
        ds, ms = rand_scale(rng, nb, signed=False), rand_scale(rng, nb, signed=True)
        for d, m in zip(ds, ms):
            blocks.append(np.concatenate([f16_bytes([d, m]), rng.integers(0, 256, 16).astype(np.uint8)]))
        return np.concatenate(blocks)
    nsb = n // 256
    if qt == QT.Q4_K:  # f16 d, f16 dmin, 12 bytes packed 6-bit scales/mins, 128 bytes qs
        blocks = []
        for _ in range(nsb):
            d = rng.uniform(1e-3, 0.1) / 63
            dmin = rng.uniform(1e-3, 0.1) / 63
            blocks.append(np.concatenate([f16_bytes([d, dmin]),
                                          rng.integers(0, 256, 12 + 128).astype(np.uint8)]))
        return np.concatenate(blocks)
    if qt == QT.Q6_K:  # ql 128, qh 64, int8 scales 16, f16 d
        blocks = []
        for _ in range(nsb):
            d = rng.uniform(1e-3, 0.1) / 127 * rng.choice([-1.0, 1.0])
            blocks.append(np.concatenate([rng.integers(0, 256, 128 + 64).astype(np.uint8),
                                          rng.integers(-128, 128, 16).astype(np.int8).view(np.uint8),
                                          f16_bytes([d])]))
        return np.concatenate(blocks)
    raise ValueError(qt)


QUANT_TYPES = [("f32", QT.F32), ("f16", QT.F16), ("bf16", QT.BF16), ("q8_0", QT.Q8_0),
               ("q4_0", QT.Q4_0), ("q4_1", QT.Q4_1), ("q4_k", QT.Q4_K), ("q6_k", QT.Q6_K)]


def build_quant(out):
    qdir = os.path.join(out, "quant")
    os.makedirs(qdir, exist_ok=True)
    rng = np.random.default_rng(1234)
    raws, expected = {}, {}
    w = gguf.GGUFWriter(os.path.join(qdir, "blocks.gguf"), "llama")
    w.add_name("quant-blocks")
    for name, qt in QUANT_TYPES:
        raw = np.stack([make_quant_row(rng, qt) for _ in range(3)])
        block_size, type_size = gguf.GGML_QUANT_SIZES[qt]
        assert raw.shape == (3, 512 // block_size * type_size), (name, raw.shape)
        raw = np.ascontiguousarray(raw, dtype=np.uint8)
        w.add_tensor(name, raw, raw_shape=raw.shape, raw_dtype=qt)
        deq = gguf.quants.dequantize(raw, qt).astype(np.float32).reshape(3, 512)
        assert np.all(np.isfinite(deq)), name
        raws[name], expected[name] = raw, np.ascontiguousarray(deq)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    np_save_file(expected, os.path.join(qdir, "expected.safetensors"))

    r = gguf.GGUFReader(os.path.join(qdir, "blocks.gguf"))
    names = []
    for t in r.tensors:
        qt = dict(QUANT_TYPES)[t.name]
        assert t.tensor_type == qt and list(t.shape) == [512, 3], (t.name, t.tensor_type, t.shape)
        data = np.array(t.data)
        back = gguf.quants.dequantize(data.view(np.uint8).reshape(3, -1), qt).reshape(3, 512)
        assert np.array_equal(back, expected[t.name]), t.name
        names.append(t.name)
    assert names == [n for n, _ in QUANT_TYPES]
    ranges = {n: (float(e.min()), float(e.max())) for n, e in expected.items()}
    log("quant blocks verified:", ranges)
    return {"quant value ranges": ranges}


# --------------------------------------------------------------------------
# SmolLM2 tensors
# --------------------------------------------------------------------------


def build_smollm2_tensors(out, model_path):
    r = gguf.GGUFReader(model_path)
    by_name = {t.name: t for t in r.tensors}
    names = ["token_embd.weight", "blk.0.attn_q.weight", "blk.0.ffn_down.weight",
             "blk.29.attn_v.weight", "blk.0.attn_norm.weight", "output_norm.weight"]
    res = []
    deq_cache = {}
    for n in names:
        t = by_name[n]
        shape = [int(s) for s in reversed(list(t.shape))]  # numpy/HF order
        deq = gguf.quants.dequantize(np.array(t.data), t.tensor_type).astype(np.float32).reshape(shape)
        deq_cache[n] = deq
        flat = deq.reshape(-1)
        res.append({"name": n, "dtype": t.tensor_type.name, "shape": shape,
                    "first": floats(flat[:1024]),
                    "sum": float(np.sum(flat, dtype=np.float64)),
                    "sum_abs": float(np.sum(np.abs(flat), dtype=np.float64))})
        log(f"smollm2 {n}: {t.tensor_type.name} {shape}")
    note = ("Dequantized with gguf.quants.dequantize (Q4_1: d*q then + m). Raw GGUF row order: "
            "attn_q/attn_k rows are NOT un-permuted (llama.cpp adjacent-pair RoPE layout). "
            "shape is numpy/HF order (outermost first), i.e. reversed ggml ne; 'first' = first "
            "1024 values in row-major order; sums in float64 over float32 values.")
    write_json(os.path.join(out, "smollm2", "tensors.json"), {"note": note, "tensors": res})
    return deq_cache


# --------------------------------------------------------------------------
# tokenizer
# --------------------------------------------------------------------------

DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


def build_tokenizer(model_path):
    from tokenizers import Tokenizer, AddedToken, models, pre_tokenizers, decoders
    r = gguf.GGUFReader(model_path)
    tokens = list(r.fields["tokenizer.ggml.tokens"].contents())
    types = list(r.fields["tokenizer.ggml.token_type"].contents())
    merges_s = list(r.fields["tokenizer.ggml.merges"].contents())
    assert len(set(tokens)) == len(tokens), "duplicate tokens in vocab"
    vocab = {tok: i for i, tok in enumerate(tokens)}
    merges = []
    for m in merges_s:
        parts = m.split(" ")
        assert len(parts) == 2, m
        merges.append((parts[0], parts[1]))
    bpe = models.BPE(vocab=vocab, merges=merges, dropout=None, unk_token=None,
                     byte_fallback=False, fuse_unk=False)
    tk = Tokenizer(bpe)
    tk.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tk.decoder = decoders.ByteLevel()
    special_ids = [i for i, t in enumerate(types) if t in (3, 4)]  # CONTROL, USER_DEFINED
    tk.add_special_tokens([AddedToken(tokens[i], special=True, normalized=False) for i in special_ids])
    for i in special_ids:
        assert tk.token_to_id(tokens[i]) == i, tokens[i]
    assert tk.get_vocab_size(with_added_tokens=True) == len(tokens)
    got = tk.encode("  42", add_special_tokens=False).ids
    assert got == [256, 36, 34], got
    meta = {"special": [(i, tokens[i], int(types[i])) for i in special_ids],
            "chat_template": r.fields["tokenizer.chat_template"].contents(),
            "pre": r.fields["tokenizer.ggml.pre"].contents()}
    return tk, meta


def encode(tk, text):
    return tk.encode(text, add_special_tokens=False).ids


def corpus_strings():
    s = []
    # --- prose / punctuation / contractions ---
    s += ["Hello world", "Hello, world!", "The quick brown fox jumps over the lazy dog.",
          "THE QUICK BROWN FOX", "hello", " hello", "  hello", "hello ", "hello  ",
          "Mr. Smith went to Washington; he didn't return.",
          "Wait... what?! No way -- really?", "(parentheses) [brackets] {braces} <angles>",
          "\"double quotes\" and 'single quotes'", "semi;colon:colon,comma.period!bang?query",
          "@user #hashtag $100 %50 ^caret &amp *star", "~tilde `backtick` |pipe| \\backslash/",
          "a_b-c+d=e", "e-mail: someone@example.com, url: https://example.org/path?q=1&x=y#frag",
          "It's", "it's", "IT'S", "John'S car", "don't", "DON'T", "can't won't shouldn't",
          "you're we're THEY'RE", "I've you've WE'VE", "I'm I'M", "we'll she'll THEY'LL",
          "he'd I'd YOU'D", "'s 't 're 've 'm 'll 'd", "'S 'T 'RE 'VE 'M 'LL 'D",
          "rock 'n' roll", "'quoted'", "''", "'''", "O'Neil's", "y'all'd've",
          "Once upon a time, in a land far, far away, there lived a curious little robot.",
          "Q: What is 2+2?\nA: 4.", "The year 1999 was followed by 2000.",
          "Ellipsis… em—dash – en-dash “curly” ‘quotes’ «guillemets» ‹single›",
          "TODO: fix this!!!", "???", "!!!", "...", "---", "===", "***", "###", "a.b.c",
          "C'est la vie", "aaaaaaaaaaaaaaaa", "abcabcabcabc", "Supercalifragilisticexpialidocious",
          "pneumonoultramicroscopicsilicovolcanoconiosis", "CamelCaseIdentifierName",
          "snake_case_identifier_name", "kebab-case-identifier", "SCREAMING_SNAKE_CASE"]
    # --- accents, scripts ---
    s += ["café", "naïve résumé", "Ça va? Où êtes-vous? À bientôt, élève!",
          "Größe, Übermäßig, Straße, ÄÖÜ äöü ß ẞ", "Fußgängerübergänge",
          "Tiếng Việt có dấu: Xin chào, cảm ơn bạn rất nhiều!", "Nguyễn Thị Minh Khai",
          "Español: ¿Dónde está la biblioteca? ¡Olé! niño año", "Português: não, coração, ação",
          "Polski: zażółć gęślą jaźń", "Čeština: příliš žluťoučký kůň", "Türkçe: İstanbul ığdır şğ",
          "Ελληνικά: Γειά σου Κόσμε", "Русский: Съешь же ещё этих мягких французских булок",
          "Українська: ґанок їжак", "日本語のテキストです。", "こんにちは世界", "カタカナ ひらがな 漢字",
          "中文：你好，世界！", "我爱自然语言处理。", "繁體中文測試", "한국어: 안녕하세요 세계",
          "대한민국의 수도는 서울입니다.", "العربية: مرحبا بالعالم", "السلام عليكم ورحمة الله",
          "עברית: שלום עולם", "हिन्दी: नमस्ते दुनिया", "भारत एक विशाल देश है।", "தமிழ் வணக்கம்",
          "ภาษาไทย สวัสดีครับ", "ქართული ენა", "Հայերեն", "አማርኛ", "ᚠᚢᚦᚨᚱᚲ runes",
          "Mixed: Hello 世界 مرحبا नमस्ते 안녕 🌍"]
    # --- emoji ---
    s += ["😀", "👍", "👍🏽", "❤️", "❤", "👨‍👩‍👧‍👦", "👩‍💻", "🧑🏿‍🚀", "🏳️‍🌈", "🏴‍☠️",
          "🇫🇷", "🇫🇷🇩🇪🇯🇵🇺🇸", "🇺🇳 flags 🇧🇷", "I ❤️ NY 🗽!", "emoji😀inside😀words",
          "🔥🔥🔥", "1️⃣ 2️⃣ #️⃣", "©®™", "☃★☆♠♣♥♦", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕄𝕒𝕥𝕙 𝐁𝐨𝐥𝐝", "𓀀𓀁", "🫠🫶"]
    # --- code ---
    s += ["def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n",
          "class Foo:\n    def __init__(self, x: int) -> None:\n        self.x = x  # comment\n",
          "for i in range(10):\n\tprint(i)\n",
          "import numpy as np\narr = np.zeros((3, 4), dtype=np.float32)\n",
          "func add(_ a: Int, _ b: Int) -> Int {\n    return a + b\n}\n",
          "struct Point: Codable {\n    var x: Double\n    var y: Double\n}\n",
          "let xs = [1, 2, 3].map { $0 * 2 }",
          "function greet(name) {\n  console.log(`Hello, ${name}!`);\n}\n",
          "const f = (a, b) => a ?? b;", "if (x !== null && y >= 0) { return x << 2; }",
          "#include <stdio.h>\n\nint main(void) {\n    printf(\"%d\\n\", 42);\n    return 0;\n}\n",
          "fn main() {\n    let v: Vec<u32> = (0..10).collect();\n    println!(\"{:?}\", v);\n}\n",
          "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"hi\")\n}\n",
          "<!DOCTYPE html>\n<html>\n  <body>\n    <p class=\"x\">Hi &amp; bye</p>\n  </body>\n</html>\n",
          "{\"key\": \"value\", \"n\": [1, 2.5, -3e10], \"ok\": true, \"nil\": null}",
          "SELECT id, name FROM users WHERE age >= 21 ORDER BY name DESC;",
          "#!/bin/bash\nset -euo pipefail\nfor f in *.txt; do echo \"$f\"; done\n",
          "x = a[i][j] + b[-1] * (c / d) % e ** 2 // 3",
          "    indented with four spaces", "\tindented with a tab", "\t\t\tthree tabs",
          "        eight spaces then text", "if x:\n\n    pass\n\n\n", "/* block */ // line",
          "a == b != c <= d >= e -> f => g :: h", "$var @decorator #pragma once"]
    # --- whitespace ---
    s += [" ", "  ", "   ", "    ", "\t", "\t\t", "\n", "\n\n", "\n\n\n", "\r\n", "\r\n\r\n", "\r",
          " \n", "\n ", " \t \n ", "\n\thello", "hello\n", "hello\n\n", "\nhello", "\n\nhello\n\n",
          "line1\nline2\r\nline3\rline4", "a  b   c    d", "a\tb\t\tc", "a \tb\t c",
          "   leading spaces", "trailing spaces   ", "  both  ", "word\n  indented next line",
          "tab\tseparated\tvalues\n1\t2\t3\n", "multiple\n\n\nnewlines", " \r\n mixed \r\n\t"]
    # --- numbers ---
    s += ["0", "7", "42", "123", "2024", "3.14159", "-273.15", "1,000,000", "1e-5", "6.02e23",
          "0x1F 0b1010 0o777", "123456789012345678901234567890", "  42", " 42", "\t42", "\n42",
          "x 1 2", "x  1  2", "a1b2c3", "v1.2.3", "2024-01-01T12:34:56Z", "+1 (555) 123-4567",
          "12:30pm", "50%", "$3.99", "€5,00", "1st 2nd 3rd 4th", "99 bottles of beer",
          "١٢٣ ٤٥٦", "०१२३", "½ ¼ ¾", "① ② ③", "Ⅻ", "²³", "1 + 1 = 2", "3*4=12"]
    # --- special tokens in text ---
    s += ["<|im_start|>user\nhi<|im_end|>\n", "<|im_start|>", "<|im_end|>", "<|endoftext|>",
          "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n",
          "text before<|endoftext|>text after", "<|im_end|><|im_start|>", " <|im_start|> ",
          "<|im_start", "<|im_start|", "< |im_start|>", "<|IM_START|>", "<jupyter_code>print(1)<jupyter_output>1",
          "<file_sep><filename>main.py\n", "<repo_name>foo/bar<gh_stars>10", "<empty_output>",
          "<issue_start>bug<issue_comment>fixed<issue_closed>", "<|endoftext|><|endoftext|>"]
    # --- empty, single chars, unusual unicode ---
    s += ["", "a", "A", "z", ".", "!", "'", "\"", "\\", "é", "ß", "中", "한", "😀", "\u00e9", "e\u0301",
          "\u00a0", "a\u00a0b", "\u2028", "line\u2028sep", "para\u2029sep", "\ufeff", "\ufeffBOM start",
          "zero\u200bwidth", "zwj\u200dzwnj\u200c", "e\u0301\u0302\u0303 stacked", "Z̴̡̧͍a̷l̶g̸o̵",
          "\u0000null", "\u0007bell\u001b[0m", "\u00ad soft hyphen", "\u3000ideographic space",
          "\u2003em space\u2009thin", "\u202eRTL override", "\ufffd", "\U0001F600\U0001F601",
          "\u0130\u0131", "ǅ ǈ ǋ", "ﬁ ﬂ ligatures", "ＦＵＬＬＷＩＤＴＨ", "\u2060word joiner"]
    # --- long strings (500+ characters) ---
    prose = ("In the beginning the Universe was created. This has made a lot of people very angry "
             "and been widely regarded as a bad move. ")
    s += [prose * 5, "a" * 600, " " * 520, "\n" * 510, "1234567890" * 55, "ab " * 200,
          "The quick brown fox 🦊 jumps over the lazy dog 🐶, 快速的棕色狐狸 and 게으른 개. " * 7,
          ("def f(x):\n    return x * 2\n\n" * 20),
          "<|im_start|>user\n" + "word " * 110 + "<|im_end|>\n"]
    # --- seeded random mixes ---
    rng = random.Random(2024)
    pools = [
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "0123456789", "     \t\n", ".,;:!?'\"()[]{}-_/\\@#$%^&*+=<>|~`",
        "éèêëàâäôöûüçñßøåæœ", "你好世界中文字符测试", "안녕하세요한국어", "مرحبابالعالم", "नमस्तेदुनिया",
        "😀👍🔥🎉🌍🇫🇷👨‍👩‍👧",
    ]
    for k in range(60):
        n = rng.randint(1, 40)
        chars = []
        for _ in range(n):
            pool = pools[rng.randrange(len(pools))] if rng.random() < 0.5 else pools[0] + pools[2]
            chars.append(pool[rng.randrange(len(pool))])
        s.append("".join(chars))
    words = ["the", "The", "cat", "CAT", "'s", "'ll", " ", "  ", "\n", "\t", "42", "3.5", "é", "中文",
             "😀", "<|im_end|>", "don't", "x", "\r\n", "naïve", "print()", "1 2", "  7"]
    for k in range(25):
        s.append("".join(rng.choice(words) + (" " if rng.random() < 0.6 else "")
                         for _ in range(rng.randint(2, 15))))
    # dedupe, keep order
    seen, out = set(), []
    for x in s:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out


CONVERSATIONS = [
    [{"role": "user", "content": "What is 2+2?"}],
    [{"role": "system", "content": "You are a terse assistant."},
     {"role": "user", "content": "Name a prime number."}],
    [{"role": "user", "content": "Hi!"},
     {"role": "assistant", "content": "Hello! How can I help you today?"},
     {"role": "user", "content": "Tell me a joke about cats."}],
    [{"role": "system", "content": "Answer in French."},
     {"role": "user", "content": "Where is the Eiffel Tower?"},
     {"role": "assistant", "content": "La tour Eiffel est à Paris."},
     {"role": "user", "content": "And how tall is it?"}],
    [{"role": "user", "content": "  Leading and trailing whitespace \n\n"},
     {"role": "assistant", "content": "\nNoted. "},
     {"role": "user", "content": "Code:\n```python\nprint('hi')\n```"}],
    [{"role": "user", "content": "Write a haiku about the sea."}],
    [{"role": "user", "content": "Emoji 😀 and 中文 and numbers 12345."},
     {"role": "system", "content": "A system message that is not first."}],
    [{"role": "system", "content": ""}, {"role": "user", "content": ""}],
]


def render_chatml(messages, add_generation_prompt=True):
    out = []
    if messages and messages[0]["role"] != "system":
        out.append("<|im_start|>system\n" + DEFAULT_SYSTEM + "<|im_end|>\n")
    for m in messages:
        out.append("<|im_start|>" + m["role"] + "\n" + m["content"] + "<|im_end|>\n")
    if add_generation_prompt:
        out.append("<|im_start|>assistant\n")
    return "".join(out)


def render_llama3(messages, add_generation_prompt=True):
    out = ["<|begin_of_text|>"]
    for m in messages:
        out.append("<|start_header_id|>" + m["role"] + "<|end_header_id|>\n\n"
                   + m["content"].strip() + "<|eot_id|>")
    if add_generation_prompt:
        out.append("<|start_header_id|>assistant<|end_header_id|>\n\n")
    return "".join(out)


# Llama-3 instruct template semantics, written out as jinja for a cross-check.
LLAMA3_JINJA = ("{{ bos_token }}{% for m in messages %}"
                "{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\n\n' + (m['content'] | trim) + '<|eot_id|>' }}"
                "{% endfor %}{% if add_generation_prompt %}"
                "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")


def jinja_render(template, messages, **kw):
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    return env.from_string(template).render(messages=messages, add_generation_prompt=True, **kw)


def build_tokenizer_fixtures(out, tk, meta):
    tdir = os.path.join(out, "tokenizer")
    texts = corpus_strings()
    assert len(texts) >= 220, len(texts)
    special_texts = {t for _, t, _ in meta["special"]}
    corpus, mismatches = [], []
    for t in texts:
        ids = encode(tk, t)
        dec = tk.decode(ids, skip_special_tokens=False)
        if dec != t:
            mismatches.append(t)
        corpus.append({"text": t, "ids": ids, "decoded": dec})
    write_json(os.path.join(tdir, "corpus.json"), corpus)
    log(f"tokenizer corpus: {len(corpus)} strings, {len(mismatches)} decode mismatches")

    chats, l3 = [], []
    for conv in CONVERSATIONS:
        rendered = render_chatml(conv)
        ref = jinja_render(meta["chat_template"], conv)
        assert rendered == ref, (rendered, ref)
        chats.append({"messages": conv, "rendered": rendered, "ids": encode(tk, rendered)})
        r3 = render_llama3(conv)
        assert r3 == jinja_render(LLAMA3_JINJA, conv, bos_token="<|begin_of_text|>"), r3
        l3.append({"messages": conv, "rendered": r3})
    write_json(os.path.join(tdir, "chat.json"), chats)
    write_json(os.path.join(tdir, "llama3-chat.json"), l3)
    return {"tokenizer special ids": meta["special"], "tokenizer.ggml.pre": meta["pre"],
            "corpus size": len(corpus), "decode mismatches": mismatches,
            "special texts": sorted(special_texts)}


# --------------------------------------------------------------------------
# SmolLM2 greedy goldens
# --------------------------------------------------------------------------


def build_smollm2_greedy(out, model_path, tk, deq):
    from transformers import AutoModelForCausalLM
    d, f = os.path.split(os.path.abspath(model_path))
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32)
    model = model.eval()
    model.set_attn_implementation("eager")
    # cross-check transformers' dequantized weights against gguf.quants (+ un-permute)
    sd = model.state_dict()
    assert np.array_equal(sd["model.embed_tokens.weight"].numpy(), deq["token_embd.weight"])
    assert np.array_equal(sd["model.layers.0.self_attn.q_proj.weight"].numpy(),
                          gguf_to_hf_rows(deq["blk.0.attn_q.weight"], 9))
    assert np.array_equal(sd["model.layers.0.mlp.down_proj.weight"].numpy(), deq["blk.0.ffn_down.weight"])
    assert torch.equal(model.lm_head.weight, model.model.embed_tokens.weight)
    log("transformers SmolLM2 weights match gguf.quants dequantization")

    prompts = ["The capital of France is", "def fibonacci(n):",
               render_chatml([{"role": "user", "content": "What is 2+2?"}]),
               render_chatml([{"role": "user", "content": "Write a haiku about the sea."}])]
    res = []
    for text in prompts:
        ids = encode(tk, text)
        outs, margins, first = greedy(model, ids, 32)
        vals, idx = torch.topk(first, 20)
        res.append({"text": text, "input_ids": ids, "output_ids": outs, "margins": margins,
                    "last_logits_top": [[int(i), float(v)] for i, v in zip(idx, vals)]})
        log(f"smollm2 greedy {text!r}: {tk.decode(outs)!r} min margin {min(margins):.4g}")
    note = ("SmolLM2-135M-Instruct Q4_1 GGUF loaded by transformers (dequantized fp32, eager "
            "attention). Prompt tokenized with the GGUF-vocab tokenizer (digits split, no BOS). "
            "Greedy: argmax with full re-forward each step, 32 tokens, no eos stop; margins = "
            "top1 - top2 logit; last_logits_top = top 20 [id, logit] at the last prompt position.")
    write_json(os.path.join(out, "smollm2", "greedy.json"), {"note": note, "prompts": res})
    return {"smollm2 greedy min margins": [min(r["margins"]) for r in res],
            "smollm2 greedy outputs": [tk.decode(r["output_ids"]) for r in res]}


# --------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="path to SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--out", default=HERE, help="output root (default: this script's directory)")
    ap.add_argument("--skip-smollm2-greedy", action="store_true", help="skip the slow SmolLM2 greedy run")
    args = ap.parse_args()

    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    torch.use_deterministic_algorithms(True)

    report = {}
    report.update(build_tiny(args.out))
    # adapters draw from their own seeds; keep the global RNG streams of the later builders unchanged
    rng_state = (torch.get_rng_state(), np.random.get_state(), random.getstate())
    report.update(build_adapters(args.out))
    torch.set_rng_state(rng_state[0]); np.random.set_state(rng_state[1]); random.setstate(rng_state[2])
    report.update(build_quant(args.out))
    deq = build_smollm2_tensors(args.out, args.model)
    tk, meta = build_tokenizer(args.model)
    report.update(build_tokenizer_fixtures(args.out, tk, meta))
    if not args.skip_smollm2_greedy:
        report.update(build_smollm2_greedy(args.out, args.model, tk, deq))

    print("\n==== report ====")
    for k, v in report.items():
        print(f"{k}: {v}")
    expected_files = [
        "tiny/config.json", "tiny/model.safetensors", "tiny/model-f32.gguf", "tiny/model-f16.gguf",
        "tiny/goldens.json", "tiny/goldens-f16.json", "tiny/model-q.gguf", "tiny/goldens-q.json", "tiny-sharded/config.json",
        "tiny-sharded/model.safetensors.index.json", "tiny-rope-scaled/config.json",
        "tiny-rope-scaled/model.safetensors", "tiny-rope-scaled/goldens.json",
        "quant/blocks.gguf", "quant/expected.safetensors", "smollm2/tensors.json",
        "tokenizer/corpus.json", "tokenizer/chat.json", "tokenizer/llama3-chat.json"]
    expected_files += [f"adapters/{n}/{f}" for n, _, _ in adapter_specs()
                       for f in ("adapter_config.json", "adapter_model.safetensors", "goldens.json")]
    if not args.skip_smollm2_greedy:
        expected_files.append("smollm2/greedy.json")
    missing = [f for f in expected_files if not os.path.isfile(os.path.join(args.out, f))]
    with open(os.path.join(args.out, "tiny-sharded", "model.safetensors.index.json")) as f:
        shard_files = sorted(set(json.load(f)["weight_map"].values()))
    missing += [s for s in shard_files if not os.path.isfile(os.path.join(args.out, "tiny-sharded", s))]
    assert len(shard_files) >= 2, shard_files
    total = 0
    print("\n==== files ====")
    for root, _, files in sorted(os.walk(args.out)):
        for fn in sorted(files):
            p = os.path.join(root, fn)
            if "__pycache__" in p:
                continue
            sz = os.path.getsize(p)
            total += sz
            print(f"{sz:>10}  {os.path.relpath(p, args.out)}")
    print(f"{total:>10}  total")
    if missing:
        sys.exit(f"MISSING: {missing}")
    print("all expected files present")


if __name__ == "__main__":
    main()
