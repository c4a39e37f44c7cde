#!/usr/bin/env python3
"""Writes small.tokenizer-{A,B,C}.json: a hand-made SentencePiece Unigram tokenizer.json in
the XLM-R layout (ids <s> <pad> </s> <unk> ... <mask>) with a 12-key precompiled charsmap
(sentencepiece's Darts-clone double-array format, built here by a plain greedy packer) and
the three real tokenizer.json shapes (see shared/models/tok-unigram/README.md). Used as the
fuzz target's tokenizer and seeds (fuzz/fuzz_unigram.c) and by tests/unit/test_unigram.c.

Charsmap blob: u32 LE trie size | units (u32 LE) | NUL-terminated replacements. A node unit
at position p holds label (low 8 bits), has_leaf (bit 8) and offset = p ^ base of its
children (stored as offset << 10); the value unit sits at base ^ 0 with bit 31 set.
Run: python3 make_small.py (standard library only; output is deterministic).
"""
import base64
import json
import os
import struct

KEYS = {
    "\t": " ", "\n": " ", "\r": " ", "\u00a0": " ", "\u3000": " ", "\u2581": " ",
    "\x01": "", "\uff21": "A", "\uff53": "s", "\uff1c": "<", "\uff1e": ">",
    "e\u0301": "\u00e9", "\ufb01": "fi", "\u2460": "1",
}


def build_charsmap(keys):
    norm = bytearray()
    value_of = {}
    for k, v in sorted(keys.items()):
        value_of[k.encode()] = len(norm)
        norm += v.encode() + b"\0"
    # trie of the keys' bytes
    trie = {}
    for k in sorted(value_of):
        node = trie
        for c in k:
            node = node.setdefault(c, {})
        node[None] = value_of[k]
    units = {}
    used = {0}

    def alloc(labels):
        base = 1
        while any((base ^ c) in used for c in labels) or base in used:
            base += 1
        return base

    def place(node, pos):
        """node's unit is at pos (already written); give its children a base."""
        labels = sorted(c for c in node if c is not None)
        need = labels + ([0] if None in node else [])
        base = alloc(need)
        for c in need:
            used.add(base ^ c)
        if None in node:
            units[base ^ 0] = 0x80000000 | node[None]
        units[pos] = units.get(pos, 0) | ((pos ^ base) << 10) | (0x100 if None in node else 0)
        for c in labels:
            units[base ^ c] = c
            place(node[c], base ^ c)

    # root: units[0] holds offset = base of the root's children
    labels = sorted(trie)
    base = alloc(labels)
    for c in labels:
        used.add(base ^ c)
    units[0] = base << 10
    for c in labels:
        units[base ^ c] = c
        place(trie[c], base ^ c)
    n = max(units) + 1
    arr = [units.get(i, 0) for i in range(n)]
    blob = struct.pack("<I", 4 * n) + struct.pack(f"<{n}I", *arr) + bytes(norm)
    return blob


def vocab():
    pieces = ["<s>", "<pad>", "</s>", "<unk>"]
    words = ["\u2581", "\u2581the", "\u2581a", "he", "ll", "o", "\u2581w", "or", "ld", "\u00e9",
             "fi", ".", ",", "<", ">", "s", "1", "\u2581<", "\u2581hello", "\u2581world", "ing",
             "\u2581caf", "\u4f60", "\u597d"]
    words += list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    out = [[p, 0.0] for p in pieces]
    for i, w in enumerate(words):
        out.append([w, -1.0 - 0.25 * i - 0.5 * len(w)])
    out.append(["<mask>", 0.0])
    return out


def tokenizer(style, blob):
    v = vocab()
    mask_id = len(v) - 1
    added = [{"id": i, "content": c, "single_word": False, "lstrip": c == "<mask>",
              "rstrip": False, "normalized": False, "special": True}
             for i, c in [(0, "<s>"), (1, "<pad>"), (2, "</s>"), (3, "<unk>"), (mask_id, "<mask>")]]
    pre = {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(blob).decode()}
    if style == "A":
        norm = pre
        pretok = {"type": "Sequence", "pretokenizers": [
            {"type": "WhitespaceSplit"},
            {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True}]}
    elif style == "B":
        norm = {"type": "Sequence", "normalizers": [
            pre, {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]}
        pretok = {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True}
    else:
        norm = {"type": "Sequence", "normalizers": [
            pre, {"type": "Strip", "strip_left": False, "strip_right": True},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": "\u2581"}]}
        pretok = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always",
                  "split": True}
    post = {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]},
                               "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}}
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
            "normalizer": norm, "pre_tokenizer": pretok, "post_processor": post,
            "decoder": None, "model": {"type": "Unigram", "unk_id": 3, "vocab": v,
                                       "byte_fallback": False}}


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    blob = build_charsmap(KEYS)
    for style in "ABC":
        with open(os.path.join(here, f"small.tokenizer-{style}.json"), "w",
                  encoding="utf-8") as f:
            json.dump(tokenizer(style, blob), f, ensure_ascii=False, separators=(",", ":"))
            f.write("\n")
    print(f"charsmap {len(blob)} bytes")
