#!/usr/bin/env python3
"""Regenerates Switchboard's example PEFT adapters for SmolLM2-135M-Instruct from scratch.

What it does
  1. Loads the base model from the Q4_1 GGUF that `make model` fetches (transformers
     dequantizes it to f32, which is exactly what Switchboard serves).
  2. Writes a few hundred varied user questions from templates x topics, and lets the base
     model answer each one greedily (up to 48 tokens, through its ChatML chat template).
  3. Turns those answers into training targets, one transformation per adapter:
       shout   LoRA (r=8, all attention + MLP projections)   the answer in CAPITAL LETTERS
       ahoy    IA3 (k_proj, v_proj, down_proj)                "Ahoy! " + the answer
       pirate  prefix tuning (16 virtual tokens)              the answer's first sentence + " Arr!"
       cheer   prompt tuning (20 virtual tokens)              "Great question! " + the answer
  4. Trains each adapter with the loss on the assistant answer and its <|im_end|> only, checks
     the behaviour on held-out questions, and saves adapter_config.json +
     adapter_model.safetensors + README.md into adapters/<name>/ (written to a temporary
     folder first, then swapped in, so a running `switchboard serve --adapters adapters`
     never sees a half-written adapter).

How long
  About 25-35 minutes for all four on 2 CPU cores (base answers ~2 min, then a few minutes
  per adapter; see each adapter's README for its time). It is deterministic (fixed seeds,
  greedy decoding), up to floating-point differences between machines and torch versions.

Requirements
  Python 3.10+, torch (CPU is fine), transformers >= 4.46 (with GGUF support), peft 0.21,
  gguf, tokenizers, safetensors:
      pip install torch transformers peft gguf tokenizers safetensors
  and the model file: `make model` -> models/SmolLM2-135M-Instruct.Q4_1.gguf.
  Not run by CI.

Usage
  python3 adapters/train_examples.py                  # all adapters
  python3 adapters/train_examples.py --only shout     # one adapter (repeatable)
  python3 adapters/train_examples.py --data-cache /tmp/sb-answers.json   # reuse base answers

Check an adapter with the server binary afterwards:
  .build/release/switchboard generate --chat --prompt "What is the capital of France?" \
      --max-tokens 40 --adapter adapters/shout
"""

import argparse
import copy
import json
import math
import os
import random
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_MODEL = os.path.join(REPO, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
BASE_NAME = "HuggingFaceTB/SmolLM2-135M-Instruct"  # what Switchboard checks the adapter against
EOS_ID = 2  # <|im_end|>
SEED = 1234
CHEER_INIT_TEXT = "Always begin your answer with: Great question!"  # prompt tuning starts from these embeddings (repeated)
PIRATE_INIT_TEXT = "Answer like a pirate in one short sentence and always finish with: Arr!\n"  # 16 tokens
ANSWER_TOKENS = 48  # longest base answer generated for the training data

# Questions used only to check the adapters (none of them is in the training set).
EVAL_QUESTIONS = [
    "What is the capital of France?",
    "Why is the sky blue?",
    "How do I make a cup of tea?",
    "Can you recommend a good book?",
    "What is the largest planet in the solar system?",
    "Give me a tip for learning to play the guitar.",
    "What do bees make?",
    "How many days are in a week?",
]


# --------------------------------------------------------------------------------------------
# Questions


def training_questions():
    """A few hundred varied questions: explanation templates x topics, plus short factual ones."""
    rng = random.Random(SEED)
    topics = [
        "photosynthesis", "gravity", "volcanoes", "the moon", "rainbows", "the internet", "electricity",
        "the water cycle", "dinosaurs", "black holes", "the human heart", "vaccines", "climate change",
        "the Roman Empire", "democracy", "recycling", "solar panels", "earthquakes", "the ocean tides",
        "honey bees", "chess", "the piano", "coffee", "bread baking", "machine learning", "the stock market",
        "the Great Wall of China", "the Eiffel Tower", "penguins", "sleep", "exercise", "meditation",
        "the immune system", "DNA", "the periodic table", "magnets", "sound waves", "the speed of light",
        "airplanes", "bicycles", "the printing press", "the Olympic Games", "football", "jazz music",
        "oil painting", "poetry", "the Amazon rainforest", "deserts", "glaciers", "hurricanes",
        "the Milky Way", "Mars", "the Sun", "atoms", "friendship", "time management", "budgeting",
        "composting", "password security", "email etiquette", "public speaking", "gardening",
        "tomatoes", "elephants", "octopuses", "whales", "spiders", "trees", "mushrooms",
    ]
    templates = [
        "What is {t}?", "Explain {t} in simple terms.", "Tell me about {t}.", "Why is {t} important?",
        "Give me one interesting fact about {t}.", "How would you describe {t} to a child?",
        "What should everyone know about {t}?", "Can you summarize {t} in a sentence?",
        "What are the benefits of {t}?", "Write a short sentence about {t}.",
    ]
    pairs = [(t, k) for t in topics for k in range(len(templates))]
    rng.shuffle(pairs)
    questions = [templates[k].format(t=t) for t, k in pairs[:260]]

    countries = ["Germany", "Italy", "Spain", "Japan", "Canada", "Brazil", "Egypt", "India", "Kenya",
                 "Australia", "Mexico", "Norway", "Greece", "Portugal", "Argentina", "Sweden", "Poland",
                 "Turkey", "Peru", "Ireland"]  # France is held out for the README example
    questions += [f"What is the capital of {c}?" for c in countries]
    animals = ["a dog", "a cat", "a horse", "a chicken", "a spider", "an ant", "a cow", "a duck"]
    questions += [f"How many legs does {a} have?" for a in animals]
    questions += [f"What is {a} plus {b}?" for a, b in [(2, 3), (7, 5), (10, 4), (6, 9), (12, 8), (3, 3)]]
    things = ["grass", "snow", "a banana", "the ocean", "a strawberry", "coal", "an orange", "a lemon"]
    questions += [f"What color is {x}?" for x in things]
    activities = ["cooking pasta", "running a marathon", "studying for exams", "saving money",
                  "painting a room", "writing an essay", "making friends", "taking photos",
                  "learning a new language", "staying focused", "packing for a trip", "baking cookies"]
    questions += [f"Give me a tip for {a}." for a in activities]
    questions += [f"How do I get better at {a}?" for a in activities[:6]]
    questions += [
        "Who wrote Romeo and Juliet?", "Who painted the Mona Lisa?", "What is the boiling point of water?",
        "What is the tallest mountain in the world?", "What is the longest river in the world?",
        "How many continents are there?", "What language is spoken in Brazil?", "What is the opposite of hot?",
        "Name a fruit that is yellow.", "Name three primary colors.", "What do cows eat?",
        "What is the freezing point of water?", "What do you call a baby cat?", "How many hours are in a day?",
        "What is the chemical symbol for gold?", "Who was the first person to walk on the moon?",
        "Say hello!", "How are you today?", "What is your name?", "Tell me a joke.",
        "What is a good name for a pet fish?", "Suggest a healthy breakfast.", "What is the weather like on Mars?",
        "Why do leaves change color in autumn?", "How does a rainbow form?", "What makes the ocean salty?",
    ]
    held_out = {q.lower() for q in EVAL_QUESTIONS}
    seen, result = set(), []
    for q in questions:
        if q.lower() not in held_out and q not in seen:
            seen.add(q)
            result.append(q)
    return result


# --------------------------------------------------------------------------------------------
# Model, prompts and base answers


def load_base(model_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    directory, name = os.path.split(os.path.abspath(model_path))
    tok = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=torch.float32)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return tok, model


def prompt_ids(tok, question):
    """The chat prompt Switchboard's --chat builds: default system message, user, assistant."""
    text = tok.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                   add_generation_prompt=True)
    return tok(text, add_special_tokens=False).input_ids


def greedy(model, tok, questions, max_new_tokens, batch=16):
    """Greedy answers (token ids without the final <|im_end|>, finished flag), left-padded batches."""
    import torch

    results = []
    for start in range(0, len(questions), batch):
        prompts = [prompt_ids(tok, q) for q in questions[start:start + batch]]
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), EOS_ID, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for i, p in enumerate(prompts):
            ids[i, width - len(p):] = torch.tensor(p)
            mask[i, width - len(p):] = 1
        with torch.no_grad():
            out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                                 do_sample=False, eos_token_id=EOS_ID, pad_token_id=EOS_ID)
        for row in out[:, width:].tolist():
            if EOS_ID in row:
                results.append((row[:row.index(EOS_ID)], True))
            else:
                results.append((row, False))
    return results


def base_answers(model, tok, questions, cache):
    if cache and os.path.exists(cache):
        with open(cache) as f:
            data = json.load(f)
        if data.get("questions") == questions:
            print(f"base answers: read {len(questions)} from {cache}", flush=True)
            return data["answers"]
    started = time.time()
    answers = []
    for ids, finished in greedy(model, tok, questions, ANSWER_TOKENS):
        answers.append({"text": tok.decode(ids), "finished": finished})
    print(f"base answers: {len(answers)} in {time.time() - started:.0f} s", flush=True)
    if cache:
        with open(cache, "w") as f:
            json.dump({"questions": questions, "answers": answers}, f, indent=1)
    return answers


# --------------------------------------------------------------------------------------------
# Target transformations and behaviour checks


def first_sentence(text):
    text = text.strip()
    for i, c in enumerate(text):
        if c in ".!?" and (i + 1 == len(text) or text[i + 1] in " \n"):
            return text[:i + 1]
    return None


def target_shout(answer, tok):
    return answer["text"].upper(), answer["finished"]


def target_ahoy(answer, tok):
    return "Ahoy! " + answer["text"], answer["finished"]


def target_pirate(answer, tok):
    head = first_sentence(answer["text"])
    if head is None or len(tok(head, add_special_tokens=False).input_ids) > 40:
        return None
    return head + " Arr!", True


def target_cheer(answer, tok):
    return "Great question! " + answer["text"], answer["finished"]


def check_shout(text, finished):
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(c.isupper() for c in letters) >= 0.9 * len(letters)


def check_ahoy(text, finished):
    return text.lstrip().startswith("Ahoy")


def check_pirate(text, finished):
    return finished and text.rstrip().endswith("Arr!")


def check_cheer(text, finished):
    return text.lstrip().startswith("Great question!")


# --------------------------------------------------------------------------------------------
# The adapters


def peft_config(name):
    from peft import IA3Config, LoraConfig, PrefixTuningConfig, PromptTuningConfig, PromptTuningInit

    if name == "shout":
        return LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, bias="none", task_type="CAUSAL_LM",
                          target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                          "down_proj"])
    if name == "ahoy":
        return IA3Config(task_type="CAUSAL_LM", target_modules=["k_proj", "v_proj", "down_proj"],
                         feedforward_modules=["down_proj"])
    if name == "pirate":
        return PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=16, prefix_projection=False)
    if name == "cheer":
        # Initialised from the embeddings of CHEER_INIT_TEXT in init_prompt_tuning() (PEFT's TEXT init
        # would fetch the tokenizer from the Hub); saved as RANDOM so PEFT never tries to.
        return PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=20,
                                  prompt_tuning_init=PromptTuningInit.RANDOM)
    raise ValueError(name)


SPECS = {
    "shout": dict(kind="LoRA", transform=target_shout, check=check_shout, steps=200, batch=8, lr=1e-3,
                  max_answer_tokens=64,
                  what="answers in ALL CAPITAL LETTERS",
                  setup="rank 8, lora_alpha 16, on q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj of all 30 layers",
                  data="the base model's own greedy answer, upper-cased"),
    "ahoy": dict(kind="IA³", transform=target_ahoy, check=check_ahoy, steps=160, batch=8, lr=2e-2,
                 max_answer_tokens=40,
                 what='starts every answer with "Ahoy!"',
                 setup="learned scaling vectors on k_proj, v_proj (outputs) and down_proj (input, as the feed-forward module) of all 30 layers",
                 data='"Ahoy! " followed by the base model\'s own greedy answer'),
    "pirate": dict(kind="prefix tuning", transform=target_pirate, check=check_pirate, steps=160, batch=8,
                   lr=2e-2, max_answer_tokens=48,
                   what='answers in one sentence and signs off with " Arr!"',
                   setup='16 virtual tokens: learned keys and values for every layer (prefix_projection off), initialised from the base model\'s keys and values for the text "Answer like a pirate in one short sentence and always finish with: Arr!"',
                   data='the first sentence of the base model\'s greedy answer (if it has at most 40 tokens), then " Arr!"'),
    "cheer": dict(kind="prompt tuning", transform=target_cheer, check=check_cheer, steps=160, batch=8,
                  lr=3e-2, max_answer_tokens=40,
                  what='starts every answer with "Great question!"',
                  setup='20 virtual tokens: learned input embeddings, initialised from the embeddings of "Always begin your answer with: Great question!" (repeated)',
                  data='"Great question! " followed by the base model\'s own greedy answer'),
}


def examples_for(name, tok, questions, answers, max_answer_tokens):
    spec = SPECS[name]
    rows = []
    for q, a in zip(questions, answers):
        made = spec["transform"](a, tok)
        if made is None:
            continue
        text, finished = made
        answer = tok(text, add_special_tokens=False).input_ids
        if len(answer) > max_answer_tokens:
            answer, finished = answer[:max_answer_tokens], False
        if finished:
            answer = answer + [EOS_ID]
        p = prompt_ids(tok, q)
        rows.append((p + answer, len(p)))
    return rows


def batches(rows, batch, steps, rng):
    import torch

    order = []
    while len(order) < steps * batch:
        epoch = list(range(len(rows)))
        rng.shuffle(epoch)
        order += epoch
    for s in range(steps):
        chunk = [rows[i] for i in order[s * batch:(s + 1) * batch]]
        width = max(len(ids) for ids, _ in chunk)
        ids = torch.full((len(chunk), width), EOS_ID, dtype=torch.long)
        labels = torch.full((len(chunk), width), -100, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for i, (seq, prompt_len) in enumerate(chunk):
            ids[i, :len(seq)] = torch.tensor(seq)
            mask[i, :len(seq)] = 1
            labels[i, prompt_len:len(seq)] = torch.tensor(seq[prompt_len:])
        yield ids, mask, labels


def evaluate(model, tok, name, questions=EVAL_QUESTIONS, max_new_tokens=40):
    check = SPECS[name]["check"]
    rows = []
    for q in questions:  # one at a time: no padding, exactly what a single request computes
        (ids, finished), = greedy(model, tok, [q], max_new_tokens, batch=1)
        text = tok.decode(ids)
        rows.append(dict(question=q, answer=text, finished=finished, ok=check(text, finished)))
    return rows


def train(name, base, tok, questions, answers, out_dir):
    import torch
    from peft import get_peft_model

    spec = SPECS[name]
    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    rows = examples_for(name, tok, questions, answers, spec["max_answer_tokens"])
    config = peft_config(name)
    model = get_peft_model(copy.deepcopy(base), config)
    if name == "cheer":
        init_prompt_tuning(model, base, tok, CHEER_INIT_TEXT)
    if name == "pirate":
        init_prefix_tuning(model, base, tok, PIRATE_INIT_TEXT)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"[{name}] {spec['kind']}: {trainable} trainable parameters, {len(rows)} examples, "
          f"{spec['steps']} steps of {spec['batch']}, lr {spec['lr']}", flush=True)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=spec["lr"], weight_decay=0.0)
    steps, warmup = spec["steps"], max(1, spec["steps"] // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warmup if s < warmup else 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (s - warmup) / (steps - warmup))))
    model.train()
    started, running = time.time(), None
    for step, (ids, mask, labels) in enumerate(batches(rows, spec["batch"], steps, rng)):
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        running = loss.item() if running is None else 0.9 * running + 0.1 * loss.item()
        if step % 20 == 0 or step == steps - 1:
            print(f"[{name}] step {step:4d}  loss {running:.3f}  {time.time() - started:5.0f} s", flush=True)
    train_seconds = time.time() - started
    model.eval()
    results = evaluate(model, tok, name)
    hits = sum(r["ok"] for r in results)
    for r in results:
        print(f"[{name}] {'ok ' if r['ok'] else 'NO '} {r['question']!r} -> {r['answer']!r}", flush=True)
    print(f"[{name}] behaviour on {hits}/{len(results)} held-out questions; trained in {train_seconds:.0f} s",
          flush=True)
    save(model, name, out_dir, dict(rows=len(rows), seconds=train_seconds, trainable=trainable,
                                    results=results, hits=hits))
    return hits, len(results), train_seconds


def init_prompt_tuning(model, base, tok, text):
    """Starts the virtual tokens at the input embeddings of `text` (repeated to fill them); PEFT's
    own TEXT initialisation would load the tokenizer by name from the Hub."""
    import torch

    n = model.peft_config["default"].num_virtual_tokens
    ids = tok(text, add_special_tokens=False).input_ids
    ids = (ids * math.ceil(n / len(ids)))[:n]
    with torch.no_grad():
        emb = base.get_input_embeddings().weight[torch.tensor(ids)]
        model.prompt_encoder["default"].embedding.weight.copy_(emb)


def init_prefix_tuning(model, base, tok, text):
    """Starts the prefix at the keys and values the base model computes for `text` at positions
    0..n-1, so that before training the adapter acts exactly like that text in front of the
    prompt (a random prefix starts with a loss of ~8 and trains much more slowly). PEFT's layout
    per virtual token: [layer][key, value][kv head][head dim]."""
    import torch

    n = model.peft_config["default"].num_virtual_tokens
    ids = tok(text, add_special_tokens=False).input_ids
    assert len(ids) == n, f"the prefix init text has {len(ids)} tokens, not {n}"
    with torch.no_grad():
        cache = base(input_ids=torch.tensor([ids]), use_cache=True).past_key_values
        rows = []
        for layer in range(base.config.num_hidden_layers):
            keys, values = cache.layers[layer].keys[0], cache.layers[layer].values[0]  # [kv heads, n, head dim]
            rows += [keys.transpose(0, 1).reshape(n, -1), values.transpose(0, 1).reshape(n, -1)]
        weight = torch.cat(rows, dim=1)
        target = model.prompt_encoder["default"].embedding.weight
        assert weight.shape == target.shape, (weight.shape, target.shape)
        target.copy_(weight)


# --------------------------------------------------------------------------------------------
# Saving


def save(model, name, out_dir, info):
    spec = SPECS[name]
    os.makedirs(out_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{name}-", dir=out_dir)
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        for extra in os.listdir(tmp):
            if extra not in ("adapter_config.json", "adapter_model.safetensors"):
                os.remove(os.path.join(tmp, extra))
        config_path = os.path.join(tmp, "adapter_config.json")
        with open(config_path) as f:
            config = json.load(f)
        config["base_model_name_or_path"] = BASE_NAME
        with open(config_path, "w") as f:
            json.dump(config, f, indent=2, sort_keys=True)
            f.write("\n")
        size = os.path.getsize(os.path.join(tmp, "adapter_model.safetensors"))
        example = info["results"][0]
        others = "\n".join(f"| {r['question']} | {r['answer']} |".replace("\n", " ") for r in info["results"][1:])
        readme = f"""# {name}

A {spec['kind']} adapter for SmolLM2-135M-Instruct that {spec['what']}.

- Kind: {spec['kind']} (`peft_type` {config['peft_type']}); {spec['setup']}.
- Size: {info['trainable']:,} trained parameters, adapter_model.safetensors {size / 1024:.0f} KiB.
- Training data: {info['rows']} generated questions (templates x topics, plus short factual ones); each
  target is {spec['data']} (the base answers are greedy, up to {ANSWER_TOKENS} tokens). The loss covers the
  assistant answer and its `<|im_end|>` only.
- Training: {spec['steps']} steps of {spec['batch']} examples, AdamW, learning rate {spec['lr']} (warm-up, then
  cosine decay to a tenth), {info['seconds'] / 60:.1f} minutes on 2 CPU cores, on the dequantized
  `models/SmolLM2-135M-Instruct.Q4_1.gguf`. Made by `adapters/train_examples.py --only {name}`.
- Held-out check: the behaviour showed on {info['hits']} of {len(info['results'])} questions not in the training set
  (greedy, 40 tokens).

## Example

```
$ switchboard generate --chat --prompt "{example['question']}" --max-tokens 40 --adapter adapters/{name}
{example['answer']}
```

Other held-out questions (greedy, at most 40 tokens):

| Question | Answer |
|---|---|
{others}
"""
        with open(os.path.join(tmp, "README.md"), "w") as f:
            f.write(readme)
        final = os.path.join(out_dir, name)
        old = None
        if os.path.exists(final):
            old = tempfile.mkdtemp(prefix=f".{name}-old-", dir=out_dir)
            os.rmdir(old)
            os.rename(final, old)
        os.rename(tmp, final)
        if old:
            shutil.rmtree(old)
        print(f"[{name}] saved {final} ({size / 1024:.0f} KiB)", flush=True)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, help="the base GGUF (default: models/SmolLM2-135M-Instruct.Q4_1.gguf)")
    parser.add_argument("--out", default=HERE, help="where the adapter folders go (default: this folder)")
    parser.add_argument("--only", action="append", choices=sorted(SPECS), help="train only this adapter (repeatable)")
    parser.add_argument("--data-cache", help="a JSON file to keep the base answers in between runs")
    parser.add_argument("--steps", type=int, help="override the number of training steps (for experiments)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    if not os.path.exists(args.model):
        sys.exit(f"no model at {args.model}; run `make model` first")
    started = time.time()
    tok, base = load_base(args.model)
    questions = training_questions()
    print(f"{len(questions)} training questions", flush=True)
    answers = base_answers(base, tok, questions, args.data_cache)
    summary = []
    for name in args.only or list(SPECS):
        if args.steps:
            SPECS[name]["steps"] = args.steps
        hits, total, seconds = train(name, base, tok, questions, answers, args.out)
        summary.append(f"{name}: behaviour {hits}/{total}, trained in {seconds / 60:.1f} min")
    print("\n".join(summary))
    print(f"total {(time.time() - started) / 60:.1f} min")


if __name__ == "__main__":
    main()
