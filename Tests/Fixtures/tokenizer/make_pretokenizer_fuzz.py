#!/usr/bin/env python3
"""Writes pretokenizer-fuzz.json: random texts and how HF `tokenizers` pre-tokenizes them.

Needs only `pip install tokenizers` (no model). Each entry is
{"text", "gpt2": [pieces], "smollm": [pieces], "llama3": [pieces]}, pieces as plain text
(the GPT-2 byte mapping undone), for
  gpt2   = ByteLevel(add_prefix_space=False, use_regex=True)
  smollm = Sequence[Digits(individual_digits=True), ByteLevel(...)]
  llama3 = Sequence[Split(Llama 3 regex, Isolated), ByteLevel(use_regex=False)]
The texts mix letters, digits, apostrophes and contraction letters in both cases, every kind of
Unicode whitespace, marks, letter-like numbers and emoji, so the hand-written scanners in
Sources/Tokenizer/PreTokenizer.swift meet the regex engine's corner cases.
"""
import json
import os
import random

from tokenizers import Regex, pre_tokenizers

LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
          r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
BYTE_LEVEL = dict(add_prefix_space=False)
KINDS = {
    "gpt2": pre_tokenizers.ByteLevel(use_regex=True, **BYTE_LEVEL),
    "smollm": pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                       pre_tokenizers.ByteLevel(use_regex=True, **BYTE_LEVEL)]),
    "llama3": pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(LLAMA3), behavior="isolated", invert=False),
                                       pre_tokenizers.ByteLevel(use_regex=False, **BYTE_LEVEL)]),
}
POOLS = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", " ", "  ", "\t\n\r", "'",
    "'sStTrReEvVmMlLdD", ".,;:!?\"()[]{}-_/\\@#$%^&*+=<>|~`", "éèÉçñßøåæœſ", "你好世界中文", "안녕하세요",
    "مرحبا", "नमस्ते", "😀👍🔥🇫🇷👨‍👩‍👧",
    "\u00a0\u1680\u2000\u2009\u200a\u2028\u2029\u202f\u205f\u3000\u0085\u000b\u000c\u001c\u001f\u180e\u200b\ufeff",
    "\u0301\u0302\u0903\u093f", "ʰʲˆ々ー", "ⅠⅫ〇", "½²³①١٢३", "\u0000\u0007\u007f", "ǅǈ", "ꙮ𝔘𝕄𓀀",
]
SNIPPETS = ["'ll", "'S", " \n", "\r\n", "  ", "   x", "123", "\n\n ", " 'VE"]


def byte_decoder():
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), ord("ÿ") + 1)))
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[chr(b)] = b
        else:
            chars[chr(256 + extra)] = b
            extra += 1
    return chars


def main():
    decoder = byte_decoder()
    rng = random.Random(20241122)
    entries = []
    for _ in range(800):
        parts = []
        for _ in range(rng.randint(0, 24)):
            parts.append(rng.choice(rng.choice(POOLS)) if rng.random() < 0.9 else rng.choice(SNIPPETS))
        text = "".join(parts)
        entry = {"text": text}
        for kind, pre in KINDS.items():
            entry[kind] = [bytes(decoder[c] for c in piece).decode("utf-8")
                           for piece, _ in pre.pre_tokenize_str(text)]
        entries.append(entry)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pretokenizer-fuzz.json")
    with open(path, "w") as f:
        json.dump(entries, f, ensure_ascii=True, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {len(entries)} entries to {path}")


if __name__ == "__main__":
    main()
