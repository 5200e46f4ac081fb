#!/usr/bin/env python3
"""Language identification on short and mixed texts: Tidewatch's zh / en / other beside langid.py.

Usage: python3 scripts/lang_eval.py [--tidewatch BIN] [--eval-dir DIR] [--per-class N]
                                    [--min-accuracy A]

The labelled sample is real text nobody on the project wrote, cut short the way posts are:

- en: the VADER tweets and movie-review sentences of `../shared/eval/en-vader`, 3 to 15 words.
- other: fortunes in German, Spanish, Italian and Brazilian Portuguese from Debian's
  `fortunes-de`, `fortunes-es`, `fortunes-it` and `fortunes-br` (installed by this script through
  apt when missing), one-line pieces of 3 to 15 words: Latin-script languages that are not English.
- zh: product reviews of `zh-reviews` that contain Latin words and at least four ideographs (brand
  names, English words: mixed text), and People's Daily headlines of at most 12 characters.

Each class is sampled to the same size (deterministic). Prints accuracy per class and overall, the
confusions, and the same for the peer, langid.py (Lui & Baldwin, ACL 2012; from PyPI, its answers
mapped to zh, en and other). Exits 1 when Tidewatch's overall accuracy is below the floor or below
the peer's.
"""
import argparse
import glob
import json
import os
import random
import re
import subprocess
import sys
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEERS = ["langid==1.1.6", "numpy==1.26.4"]
FORTUNES = "/usr/share/games/fortunes"
CLASSES = ["zh", "en", "other"]


def venv_python():
    return peers.venv_python("lang-peers", PEERS)


def fortune_files():
    files = [f for d in ("de", "es", "it") for f in glob.glob(os.path.join(FORTUNES, d, "*"))]
    files += [os.path.join(FORTUNES, "brasil")]
    return [f for f in files if os.path.isfile(f) and not f.endswith((".dat", ".u8")) and not os.path.islink(f)]


def ensure_fortunes():
    if all(os.path.isdir(os.path.join(FORTUNES, d)) for d in ("de", "es", "it")) and os.path.exists(
            os.path.join(FORTUNES, "brasil")):
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    pkgs = ["fortunes-de", "fortunes-es", "fortunes-it", "fortunes-br"]
    cmd = sudo + ["apt-get", "install", "-y", "--no-install-recommends", *pkgs]
    if subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
        subprocess.run(sudo + ["apt-get", "update"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.check_call(cmd, stdout=subprocess.DEVNULL)


def short(t, lo=3, hi=15):
    return lo <= len(t.split()) <= hi


def build(eval_dir, per_class, seed):
    rng = random.Random(seed)

    def jsonl(path):
        with open(os.path.join(eval_dir, path), encoding="utf-8") as f:
            return [json.loads(l)["text"] for l in f if l.strip()]

    en = [t for t in jsonl("en-vader/tweets.jsonl") + jsonl("en-vader/movie-snippets.jsonl") if short(t)]
    other = []
    for path in sorted(fortune_files()):
        with open(path, encoding="utf-8", errors="replace") as f:
            pieces = f.read().split("\n%\n")
        for p in pieces:
            lines = [l.strip() for l in p.strip().splitlines() if l.strip()]
            # One-line pieces without attribution, ASCII art or code.
            if len(lines) == 1 and short(lines[0]) and not re.search(r"[<>{}|\\_=#@]|--|https?:", lines[0]):
                other.append(lines[0])
    with open(os.path.join(eval_dir, "zh-news-pd1998", "sentences.txt"), encoding="utf-8") as f:
        headlines = [l.strip() for l in f if 4 <= len(l.strip()) <= 12]
    # Mixed: Latin words in a Chinese text (at least four ideographs: some reviews are all English).
    mixed = [t for t in jsonl("zh-reviews/dev.jsonl")
             if re.search(r"[A-Za-z]{2,}", t) and len(re.findall(r"[\u4e00-\u9fff]", t)) >= 4 and len(t) <= 80]
    zh = rng.sample(mixed, min(len(mixed), per_class * 2 // 3)) + rng.sample(headlines, per_class // 3)
    sample = [(t, "en") for t in rng.sample(en, per_class)]
    sample += [(t, "other") for t in rng.sample(sorted(set(other)), min(per_class, len(set(other))))]
    sample += [(t, "zh") for t in zh]
    return sample


def tidewatch_langs(binary, texts):
    data = "".join(json.dumps({"id": str(n), "text": t}, ensure_ascii=False) + "\n" for n, t in enumerate(texts))
    r = subprocess.run([binary, "analyze"], input=data.encode(), capture_output=True, check=True)
    out = {o["id"]: o["lang"] for o in map(json.loads, r.stdout.decode().splitlines())}
    return [out.get(str(n), "other") for n in range(len(texts))]


PEER_CODE = r'''
import json, sys
import langid
out = []
for line in sys.stdin:
    lang, _ = langid.classify(json.loads(line))
    out.append("zh" if lang == "zh" else "en" if lang == "en" else "other")
print(json.dumps(out))
'''


def peer_langs(py, texts):
    data = "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in texts)
    r = subprocess.run([py, "-c", PEER_CODE], input=data.encode(), capture_output=True, check=True)
    return json.loads(r.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tidewatch", default=os.path.join(ROOT, "target", "release", "tidewatch"))
    ap.add_argument("--eval-dir", default=os.path.join(ROOT, "..", "shared", "eval"))
    ap.add_argument("--per-class", type=int, default=600)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--min-accuracy", type=float, default=0.95)
    ap.add_argument("--errors", type=int, default=0, help="print this many of Tidewatch's mistakes")
    args = ap.parse_args()
    ensure_fortunes()
    py = venv_python()
    sample = build(args.eval_dir, args.per_class, args.seed)
    texts = [t for t, _ in sample]
    gold = [g for _, g in sample]
    counts = Counter(gold)
    print(f"language of short texts: {len(sample)} texts (" + ", ".join(f"{c} {counts[c]}" for c in CLASSES) + ")")
    print(f"{'system':<12} {'accuracy':>8}   " + "  ".join(f"{c:>6}" for c in CLASSES) + "   (accuracy per class)")
    results = {}
    for name, pred in (("Tidewatch", tidewatch_langs(args.tidewatch, texts)), ("langid.py", peer_langs(py, texts))):
        acc = sum(p == g for p, g in zip(pred, gold)) / len(gold)
        per = {c: sum(p == g for p, g in zip(pred, gold) if g == c) / max(1, counts[c]) for c in CLASSES}
        results[name] = (acc, pred)
        print(f"{name:<12} {acc:>8.3f}   " + "  ".join(f"{per[c]:>6.3f}" for c in CLASSES))
        confusions = Counter((g, p) for p, g in zip(pred, gold) if p != g)
        print(" " * 13 + "confusions: " + (", ".join(f"{g}→{p} {n}" for (g, p), n in confusions.most_common()) or "none"))
    if args.errors:
        for (t, g), p in list(zip(sample, results["Tidewatch"][1])):
            if p != g and args.errors > 0:
                print(f"  {g} as {p}: {t!r}")
                args.errors -= 1
    ours, peer = results["Tidewatch"][0], results["langid.py"][0]
    if ours < args.min_accuracy or ours < peer:
        print(f"Tidewatch's accuracy {ours:.3f} is below the floor {args.min_accuracy} or langid.py's {peer:.3f}")
        sys.exit(1)


if __name__ == "__main__":
    main()
