#!/usr/bin/env python3
"""Regenerates the tokenizer golden files tests/models/golden/tokens_minilm.json and
tests/models/golden/tokens_smollm2.json from the reference implementations.

References:
  all-MiniLM-L6-v2  Hugging Face `tokenizers` on the model's tokenizer.json (truncation and
                    padding switched off, except in the truncation cases).
  SmolLM2           llama.cpp's tokenizer through llama-cpp-python (vocab_only=True). When
                    llama_cpp cannot be imported, an interim reference is used instead: `tokenizers`
                    built from the GGUF's vocabulary and merges (Digits + ByteLevel pre-tokenizer),
                    and the golden file says so in "reference".
  Chat template     jinja2 rendering the GGUF's tokenizer.chat_template the way transformers does
                    (sandboxed environment, trim_blocks, lstrip_blocks).

Model files are read from $PORTA_MODELS_DIR (default ~/.cache/porta/models):
  all-MiniLM-L6-v2/tokenizer.json
  SmolLM2-135M-Instruct.Q4_1.gguf

Setup (a private virtual environment; nothing is installed into the system Python):
  python3 -m venv /tmp/porta-tokens-env
  /tmp/porta-tokens-env/bin/pip install tokenizers==0.23.3 gguf==0.19.0 jinja2==3.1.6 \
      numpy==2.4.6 llama-cpp-python==0.3.36   # builds llama.cpp from source: many minutes
  /tmp/porta-tokens-env/bin/python scripts/models/reference_tokens.py

The cases live in this script (CASES). A case holds either "text" (a Unicode string) or "hex"
(raw bytes, for ill-formed UTF-8, which JSON strings cannot carry). For MiniLM, "hex" bytes are
decoded with errors="replace", which is what the C++ WordPiece tokenizer does with them.
"""

import importlib.metadata
import json
import os
import re
import sys
from pathlib import Path

import gguf
import jinja2.sandbox
from tokenizers import Tokenizer

REPO = Path(__file__).resolve().parents[2]
GOLDEN_DIR = REPO / "tests" / "models" / "golden"

CASES = [
    ("ascii_sentence", "The quick brown fox jumps over the lazy dog."),
    ("hello_world", "Hello, world!"),
    ("punctuation_mix", "Wait... what?!?! (really) [yes] {no} <maybe> \"quoted\" 'single'"),
    ("punctuation_run", "!!!???...,,,;;;---___***@@@###"),
    ("contractions", "I'm sure he's here; they're late, we'll see, I've been, you'd know, isn't"),
    ("contractions_upper", "I'M SURE HE'S HERE, THEY'RE, WE'LL, I'VE, YOU'D, 'LL"),
    ("contraction_start", "'s 're 'll 've 'd 'm 't at the start, and x 's"),
    ("digits_run", "123456789"),
    ("numbers_mixed", "pi is 3.14, a thousand is 1,000 and 1000000 is a million; -42 and +7"),
    ("leading_spaces", "   leading spaces"),
    ("trailing_spaces", "trailing spaces   "),
    ("space_runs", "multiple    spaces   between  words"),
    ("tabs", "tabs\tand\t\ttabs\t"),
    ("newlines", "new\nline\n\nparagraph\r\nwindows\n"),
    ("mixed_whitespace", " \t\n \r\n  x  \n\t y"),
    ("only_spaces", "     "),
    ("single_space", " "),
    ("single_newline", "\n"),
    ("empty", ""),
    ("accents", "café naïve Ångström résumé Über"),
    ("decomposed_accent", "cafe\u0301 and nai\u0308ve"),
    ("cjk", "中文字符测试，你好世界。"),
    ("japanese", "日本語のテキスト、カタカナ。"),
    ("korean", "한국어 텍스트입니다"),
    ("arabic", "مرحبا بالعالم"),
    ("devanagari", "नमस्ते दुनिया"),
    ("emoji", "emoji 😀🎉👍 done"),
    ("emoji_zwj_skin", "family 👨\u200d👩\u200d👧\u200d👦 thumbs 👍🏽 flag 🇩🇪"),
    ("combining_marks", "Z\u0324\u0354\u0367\u0311a\u0308\u0356\u032dl\u036eg\u030co\u0319\u0314"),
    ("zero_width", "zero\u200bwidth\u200cnon\u200djoiner\ufeffbom\u00adsoft"),
    ("long_word", "supercalifragilisticexpialidocious" * 4),
    ("long_repeat", "a" * 150),
    ("im_start_text", "<|im_start|>user\nHi there<|im_end|>\n"),
    ("adjacent_specials", "<|im_start|><|im_end|><|endoftext|> <reponame>x"),
    ("partial_special", "<|im_start <|im_end| im_start|>"),
    ("bert_specials", "[CLS] typed [SEP] in text [MASK] and [cls] [UNK]"),
    ("case_styles", "mixedCase camelCase snake_case kebab-case SCREAMING_CASE"),
    ("url_email", "see https://example.com/path?q=1&r=2#frag or mail a.b@c.de"),
    ("code", "def f(x):\n    return x**2  # square\n\tif x != 0: pass\n"),
    ("symbols", "$100 + 20% = €120 ± ¥5 ~ ^ | ` < > ©®™"),
    ("unicode_numbers", "½ ² ³ ① Ⅻ ٣ ४ 〇"),
    ("fullwidth", "ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３"),
    ("controls", "a\x00b\x07c\x0bd\x0ce\x85f\x7fg\x1ch"),
    ("unicode_spaces", "a\u00a0b\u2009c\u3000d\u2028e\u202ff"),
    ("special_case_letters", "İstanbul ǅ ß ﬁ ΣΑΣ"),
    ("private_unassigned", "x\ue000y\u0378z"),
    ("replacement_char", "bad\ufffdchar"),
    ("invalid_ff", b"abc\xffdef"),
    ("invalid_truncated", b"caf\xc3 ok \xe2\x82 end \xf0\x9f\x98x"),
    ("invalid_lead_paren", b"\xc3(x"),
    ("invalid_surrogate", b"s\xed\xa0\x80t"),
    ("invalid_overlong", b"o\xc0\xafk"),
    ("invalid_lone_continuation", b"\x80\x80hi\xbf"),
]

# (case name, max_tokens) pairs checked with truncation on.
MINILM_TRUNCATION = [
    ("ascii_sentence", 2),
    ("ascii_sentence", 5),
    ("contractions", 12),
    ("bert_specials", 4),
    ("cjk", 7),
]

CONVERSATIONS = [
    ("user_only", [{"role": "user", "content": "Hello!"}], True),
    (
        "system_multi_turn",
        [
            {"role": "system", "content": "You are a pirate."},
            {"role": "user", "content": "What is 2+2?"},
            {"role": "assistant", "content": "Four, matey."},
            {"role": "user", "content": "And 3+3?"},
        ],
        True,
    ),
    (
        "unicode_no_prompt",
        [
            {"role": "user", "content": "Ünïcödé 😀\nline two  "},
            {"role": "assistant", "content": "ok"},
        ],
        False,
    ),
]


def version(package):
    return f"{package} {importlib.metadata.version(package)}"


def models_dir():
    return Path(os.environ.get("PORTA_MODELS_DIR", Path.home() / ".cache" / "porta" / "models"))


def case_bytes(value):
    return value if isinstance(value, bytes) else value.encode("utf-8")


def case_entry(name, value):
    if isinstance(value, bytes):
        return {"name": name, "hex": value.hex()}
    return {"name": name, "text": value}


def minilm_golden(path):
    tok = Tokenizer.from_file(str(path))
    tok.no_padding()
    tok.no_truncation()
    by_name = dict(CASES)
    cases = []
    for name, value in CASES:
        text = case_bytes(value).decode("utf-8", errors="replace")
        cases.append(dict(case_entry(name, value), ids=tok.encode(text).ids))
    truncation = []
    for name, max_tokens in MINILM_TRUNCATION:
        tok.enable_truncation(max_length=max_tokens)
        text = case_bytes(by_name[name]).decode("utf-8", errors="replace")
        truncation.append({"name": name, "max_tokens": max_tokens, "ids": tok.encode(text).ids})
    return {
        "model": "all-MiniLM-L6-v2",
        "reference": f"{version('tokenizers')} (tokenizer.json)",
        "cases": cases,
        "truncation": truncation,
    }


def gguf_vocab(path):
    reader = gguf.GGUFReader(str(path))

    def field(key):
        return reader.fields[key].contents() if key in reader.fields else None

    return {
        "tokens": field("tokenizer.ggml.tokens"),
        "token_types": field("tokenizer.ggml.token_type"),
        "merges": field("tokenizer.ggml.merges"),
        "pre": field("tokenizer.ggml.pre"),
        "bos_id": field("tokenizer.ggml.bos_token_id"),
        "eos_id": field("tokenizer.ggml.eos_token_id"),
        "add_bos": bool(field("tokenizer.ggml.add_bos_token")),
        "chat_template": field("tokenizer.chat_template"),
    }


class LlamaCppReference:
    def __init__(self, path):
        import llama_cpp

        self.llama_cpp = llama_cpp
        self.llm = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
        self.name = f"{version('llama_cpp_python')} (llama.cpp tokenizer, vocab_only)"

    def encode(self, data, add_bos, parse_special):
        return self.llm.tokenize(data, add_bos=add_bos, special=parse_special)

    def eog_ids(self, n_vocab):
        lc = self.llama_cpp
        model = self.llm._model.model
        if hasattr(lc, "llama_model_get_vocab") and hasattr(lc, "llama_vocab_is_eog"):
            vocab = lc.llama_model_get_vocab(model)
            return [i for i in range(n_vocab) if lc.llama_vocab_is_eog(vocab, i)]
        return [i for i in range(n_vocab) if lc.llama_token_is_eog(model, i)]


class InterimReference:
    """`tokenizers` built from the GGUF vocabulary: close to llama.cpp, not identical for
    ill-formed UTF-8 (decoded with errors="replace" here)."""

    def __init__(self, vocab):
        from tokenizers import models, pre_tokenizers, decoders, AddedToken

        ranks = {t: i for i, t in enumerate(vocab["tokens"])}
        merges = [tuple(m.split(" ", 1)) for m in vocab["merges"]]
        tok = Tokenizer(models.BPE(ranks, merges, fuse_unk=False, byte_fallback=False))
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Digits(individual_digits=True),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
            ]
        )
        tok.decoder = decoders.ByteLevel()
        specials = [t for t, ty in zip(vocab["tokens"], vocab["token_types"]) if ty == 3]
        tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
        self.tok = tok
        self.add_bos = vocab["add_bos"]
        self.bos_id = vocab["bos_id"]
        self.name = f"INTERIM: {version('tokenizers')} built from the GGUF vocabulary"

    def encode(self, data, add_bos, parse_special):
        self.tok.encode_special_tokens = not parse_special
        ids = self.tok.encode(data.decode("utf-8", errors="replace"), add_special_tokens=False).ids
        return ([self.bos_id] if add_bos and self.add_bos else []) + ids

    def eog_ids(self, n_vocab):
        return None


def render_chat(template, messages, add_generation_prompt):
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    return env.from_string(template).render(
        messages=messages, add_generation_prompt=add_generation_prompt
    )


def smollm2_golden(path):
    vocab = gguf_vocab(path)
    try:
        ref = LlamaCppReference(path)
    except ImportError:
        ref = InterimReference(vocab)
    cases = []
    for name, value in CASES:
        data = case_bytes(value)
        entry = case_entry(name, value)
        entry["ids"] = ref.encode(data, add_bos=False, parse_special=False)
        entry["ids_parse_special"] = ref.encode(data, add_bos=False, parse_special=True)
        with_bos = ref.encode(data, add_bos=True, parse_special=True)
        if with_bos != entry["ids_parse_special"]:
            entry["ids_add_bos_parse_special"] = with_bos
        cases.append(entry)
    chats = []
    for name, messages, add_generation_prompt in CONVERSATIONS:
        rendered = render_chat(vocab["chat_template"], messages, add_generation_prompt)
        chats.append(
            {
                "name": name,
                "messages": messages,
                "add_generation_prompt": add_generation_prompt,
                "rendered": rendered,
                "ids": ref.encode(rendered.encode("utf-8"), add_bos=True, parse_special=True),
            }
        )
    golden = {
        "model": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "reference": ref.name,
        "chat_reference": f"{version('jinja2')} (sandboxed, trim_blocks, lstrip_blocks)",
        "gguf_reader": version("gguf"),
        "pre": vocab["pre"],
        "add_bos": vocab["add_bos"],
        "bos_id": vocab["bos_id"],
        "eos_id": vocab["eos_id"],
        "cases": cases,
        "chats": chats,
    }
    eog = ref.eog_ids(len(vocab["tokens"]))
    if eog is not None:
        golden["end_of_generation_ids"] = eog
    return golden


def write(path, data):
    text = json.dumps(data, ensure_ascii=False, indent=1)
    # One line per id list keeps the files readable.
    id_list = re.compile(r"\[\s*(-?\d+(?:,\s*-?\d+)*)\s*\]")
    text = id_list.sub(lambda m: "[" + re.sub(r"\s+", " ", m[1]) + "]", text)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    print(f"wrote {path}")


def main():
    base = models_dir()
    minilm = base / "all-MiniLM-L6-v2" / "tokenizer.json"
    smollm2 = base / "SmolLM2-135M-Instruct.Q4_1.gguf"
    for p in (minilm, smollm2):
        if not p.is_file():
            sys.exit(f"missing {p} (set PORTA_MODELS_DIR)")
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    write(GOLDEN_DIR / "tokens_minilm.json", minilm_golden(minilm))
    write(GOLDEN_DIR / "tokens_smollm2.json", smollm2_golden(smollm2))


if __name__ == "__main__":
    main()
