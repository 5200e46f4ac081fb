#!/usr/bin/env python3
"""Near-duplicate evaluation: pairwise precision and recall of Tidewatch's duplicate groups on
copies of real text rewritten by stated rules, mixed with same-topic texts that are not copies,
side by side with datasketch's MinHash-LSH at its best threshold.

Usage: python3 scripts/dedup_eval.py [--tidewatch BIN] [--eval-dir DIR] [--originals N]
                                     [--min-precision P] [--min-recall R]

The evaluation folder has no labelled copies, so this builds them (deterministically) from four
kinds of real text nobody on the project wrote: People's Daily sentences (zh news), product
reviews (zh, short, public register), the VADER tweets and the VADER movie-review sentences (en).

1. Originals are drawn per corpus, skipping any whose character trigrams overlap an earlier
   original's by a Jaccard of 0.4 or more (the corpora hold near-identical texts by different
   people, which no system can tell apart, and the labels would contradict themselves).
2. Same-topic non-copies: for half the originals the corpus's nearest other text (most shared
   word bigrams: for news the next sentence of the same article) joins as an original of its own.
   A follow-up that talks about the same thing is not a copy of it.
3. Each original gets 0 to 3 copies, each made by one or two of these rules (the rule names are
   printed with the recall of the pairs they made):
   prefix      a tag in front, the final full stop dropped (【转】, #热点#, BREAKING:, RT @x:)
   suffix      a hashtag or a short remark appended (#澜江#, 转发, #news, so true)
   link        a tag and a link added
   punct       punctuation changed: dropped, replaced by spaces, half/full width, !!!
   numbers     numbers written another way (Arabic and Chinese numerals via cn2an, digit
               grouping, number words in English)
   comment     a comment added in front or behind (//@name: chains, "This." ...)
   traditional the text in traditional characters (OpenCC's table, via opencc-python-reimplemented)
   case        English in other letter case
4. Two copies of one original, and the original, form one gold group.

The peer is datasketch's MinHashLSH (128 permutations) over character 3-grams of the text in
NFKC form, lower-cased, each item assigned to the group of the first earlier item the LSH returns (as a streaming
deduplicator would). Its threshold is chosen on a development build (another seed, other
originals) and applied to the test build; so are Tidewatch's figures measured on the test build,
Tidewatch having no parameter set here.

Exits 1 when Tidewatch's precision or recall falls below the floors, or below the peer's.
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys
import unicodedata
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEERS = ["datasketch==2.0.0", "cn2an==0.5.24", "opencc-python-reimplemented==0.1.7"]
DOMAINS = ["zh-news", "zh-reviews", "en-tweets", "en-movie"]


def venv_python():
    return peers.venv_python("dedup-peers", PEERS)


def load(eval_dir):
    def jsonl(path):
        with open(os.path.join(eval_dir, path), encoding="utf-8") as f:
            return [json.loads(l)["text"] for l in f if l.strip()]

    with open(os.path.join(eval_dir, "zh-news-pd1998", "sentences.txt"), encoding="utf-8") as f:
        news = [l.strip() for l in f]
    return {
        # Sentences of 15-120 characters; consecutive lines of the file are one article's.
        "zh-news": [l if 15 <= len(l) <= 120 else "" for l in news],
        "zh-reviews": [t for t in jsonl("zh-reviews/dev.jsonl") if 8 <= len(t) <= 120],
        "en-tweets": [t for t in jsonl("en-vader/tweets.jsonl") if len(t.split()) >= 5],
        "en-movie": [t for t in jsonl("en-vader/movie-snippets.jsonl") if len(t.split()) >= 6],
    }


def grams(t, n=3):
    t = re.sub(r"\s+", " ", t.lower())
    return {t[i:i + n] for i in range(max(1, len(t) - n + 1))}


def jaccard(a, b):
    return len(a & b) / max(1, len(a | b))


def words(t):
    if re.search(r"[\u4e00-\u9fff]", t):
        cs = [c for c in t if "\u4e00" <= c <= "\u9fff"]
        return {a + b for a, b in zip(cs, cs[1:])}
    ws = re.findall(r"[a-z']+", t.lower())
    return {a + " " + b for a, b in zip(ws, ws[1:])} | {w for w in ws if len(w) > 4}


PREFIX_ZH = ["【转】", "【转发】", "#热点# ", "[转载]", "转：", "【关注】", "#澜江新闻# "]
PREFIX_EN = ["BREAKING: ", "RT @newsdesk: ", "[repost] ", "via @citydesk: ", "Reposting: ", "#news "]
SUFFIX_ZH = [" #澜江#", " 转发", "（转）", " #关注#", "，转给大家看看", " 顶", "【转】"]
SUFFIX_EN = [" #news", " so true", " #mustread", " (repost)", " this.", " #fyi", " lol"]
COMMENT_ZH = ["这也太离谱了吧！//@小王:", "说得好 //@新闻控:", "大家怎么看？", "真的假的", "转发微博 //@路人甲:", "支持！"]
COMMENT_EN = ["This. ", "Can't believe this: ", "Wow. ", "Worth reading: ", "Agreed!! ", "Hmm "]
NUM_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


def rewrite(text, rules, rng, zh, conv):
    t = text
    for rule in rules:
        if rule == "prefix":
            t = rng.choice(PREFIX_ZH if zh else PREFIX_EN) + t.rstrip("。.！!")
        elif rule == "suffix":
            t = t + rng.choice(SUFFIX_ZH if zh else SUFFIX_EN)
        elif rule == "link":
            tag = rng.choice(PREFIX_ZH if zh else PREFIX_EN)
            code = "".join(rng.choice("abcdefghijkmnpqrstuvwxyz23456789") for _ in range(6))
            t = tag + t + rng.choice([" https://t.cn/", " http://bit.ly/", " https://weibo.com/"]) + code
        elif rule == "punct":
            style = rng.randrange(4)
            if style == 0:
                t = re.sub(r"[，。、；：！？,.;:!?]", "", t)
            elif style == 1:
                t = re.sub(r"[，。、；,;]", " ", t)
            elif style == 2:
                table = str.maketrans("，。！？；：（）,.!?;:()", ",.!?;:(),。！？；：（）")
                t = t.translate(table)
            else:
                t = t.rstrip("。.！!") + ("！！！" if zh else "!!!")
        elif rule == "numbers":
            t = conv.numbers(t, zh, rng)
        elif rule == "comment":
            c = rng.choice(COMMENT_ZH if zh else COMMENT_EN)
            if zh and not c.endswith(":") and rng.random() < 0.5:
                t = t + c
            else:
                t = c + t
        elif rule == "traditional":
            t = conv.traditional(t)
        elif rule == "case":
            t = t.upper() if rng.random() < 0.5 else t.lower()
    return t


class Converters:
    """The PyPI packages' conversions (this script runs in the peers' virtualenv)."""

    def __init__(self):
        import warnings

        warnings.filterwarnings("ignore", module="cn2an")
        import cn2an
        from opencc import OpenCC

        self.cn2an = cn2an
        self.s2t = OpenCC("s2t")

    def numbers(self, t, zh, rng):
        if zh:
            try:
                if re.search(r"\d", t):
                    return self.cn2an.transform(t, "an2cn")
                if re.search(r"[一二三四五六七八九十百千万]", t):
                    return self.cn2an.transform(t, "cn2an")
            except Exception:  # cn2an gives up on some strings: leave those as they are
                return t
            return t
        if re.search(r"\d{4,}", t) and rng.random() < 0.5:
            return re.sub(r"(\d)(?=(\d{3})+\b)", r"\1,", t)
        out = re.sub(r"\b(\d|10)\b", lambda m: NUM_WORDS[int(m.group(1))], t)
        if out == t:
            out = re.sub(r"\b(" + "|".join(NUM_WORDS) + r")\b", lambda m: str(NUM_WORDS.index(m.group(1))), t)
        return out

    def traditional(self, t):
        return self.s2t.convert(t)


RULES_ZH = ["prefix", "suffix", "link", "punct", "numbers", "comment", "traditional"]
RULES_EN = ["prefix", "suffix", "link", "punct", "numbers", "comment", "case"]


def build(corpora, n_originals, seed):
    rng = random.Random(seed)
    conv = Converters()
    items = []
    for domain in DOMAINS:
        pool = corpora[domain]
        zh = domain.startswith("zh")
        chosen, chosen_grams = [], []
        candidates = list(range(len(pool)))
        rng.shuffle(candidates)

        def admissible(i):
            if not pool[i]:
                return False
            g = grams(pool[i])
            if any(jaccard(g, h) >= 0.4 for h in chosen_grams):
                return False
            chosen_grams.append(g)
            return True

        index_words = None
        for i in candidates:
            if len(chosen) >= n_originals:
                break
            if not admissible(i):
                continue
            chosen.append(i)
            if rng.random() < 0.5 and len(chosen) < n_originals:
                # The same-topic text that is not a copy.
                if domain == "zh-news":
                    near = next((j for j in (i + 1, i - 1, i + 2) if 0 <= j < len(pool) and pool[j]), None)
                else:
                    if index_words is None:
                        sample = rng.sample(range(len(pool)), min(3000, len(pool)))
                        index_words = [(j, words(pool[j])) for j in sample]
                    w = words(pool[i])
                    best, near = -1, None
                    for j, wj in index_words:
                        if j != i and len(w & wj) > best:
                            best, near = len(w & wj), j
                if near is not None and admissible(near):
                    chosen.append(near)
        for k, i in enumerate(chosen):
            group = f"{domain}-{seed}-{k}"
            original = pool[i]
            items.append({"text": original, "group": group, "domain": domain, "rules": []})
            for _ in range(rng.choice([0, 1, 1, 2, 2, 3])):
                rules = rng.sample(RULES_ZH if zh else RULES_EN, rng.choice([1, 1, 2]))
                if "traditional" in rules:
                    rules.remove("traditional")
                    rules.append("traditional")
                items.append({"text": rewrite(original, rules, rng, zh, conv), "group": group, "domain": domain,
                              "rules": rules})
    rng.shuffle(items)
    for n, it in enumerate(items):
        it["id"] = f"d{seed}-{n}"
    return items


def peer_groups(items, thresholds):
    from datasketch import MinHash, MinHashLSH

    def shingles(t):
        t = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", t).lower())
        return {t[i:i + 3].encode() for i in range(max(1, len(t) - 2))}

    sigs = []
    for it in items:
        m = MinHash(num_perm=128, seed=1)
        m.update_batch(list(shingles(it["text"])))
        sigs.append(m)
    out = {}
    for th in thresholds:
        lsh = MinHashLSH(threshold=th, num_perm=128)
        group = []
        for n, m in enumerate(sigs):
            hits = lsh.query(m)
            group.append(min(group[int(h)] for h in hits) if hits else n)
            lsh.insert(str(n), m)
        out[th] = group
    return out


def pairwise(items, pred):
    by_gold = defaultdict(list)
    for n, it in enumerate(items):
        by_gold[it["group"]].append(n)
    tp = fp = fn = 0
    per_domain = defaultdict(lambda: [0, 0, 0])
    per_rule = defaultdict(lambda: [0, 0])
    for a in range(len(items)):
        for b in range(a + 1, len(items)):
            same_gold = items[a]["group"] == items[b]["group"]
            same_pred = pred[a] == pred[b]
            d = per_domain[items[a]["domain"]] if items[a]["domain"] == items[b]["domain"] else None
            if same_gold and same_pred:
                tp += 1
                if d:
                    d[0] += 1
            elif same_pred:
                fp += 1
                if d:
                    d[1] += 1
            elif same_gold:
                fn += 1
                if d:
                    d[2] += 1
            if same_gold:
                for r in set(items[a]["rules"]) | set(items[b]["rules"]):
                    per_rule[r][0] += 1
                    per_rule[r][1] += same_pred
    pr = lambda t, f, n: (t / max(1, t + f), t / max(1, t + n))
    return pr(tp, fp, fn), {d: pr(*v) for d, v in per_domain.items()}, {r: v[1] / v[0] for r, v in per_rule.items()}


def tidewatch_groups(binary, items):
    data = "".join(json.dumps({"id": it["id"], "text": it["text"], "published_at": "2026-09-01T08:00:00+08:00"},
                              ensure_ascii=False) + "\n" for it in items)
    r = subprocess.run([binary, "analyze"], input=data.encode(), capture_output=True, check=True)
    out = {o["id"]: o for o in map(json.loads, r.stdout.decode().splitlines())}

    def root(i):
        while out[i]["duplicate_of"]:
            i = out[i]["duplicate_of"]
        return i

    return [root(it["id"]) for it in items]


def f1(p, r):
    return 2 * p * r / max(1e-9, p + r)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tidewatch", default=os.path.join(ROOT, "target", "release", "tidewatch"))
    ap.add_argument("--eval-dir", default=os.path.join(ROOT, "..", "shared", "eval"))
    ap.add_argument("--originals", type=int, default=150, help="originals per corpus")
    ap.add_argument("--seed", type=int, default=2026, help="the test build's seed (the development build's is seed+1)")
    ap.add_argument("--min-precision", type=float, default=0.95)
    ap.add_argument("--min-recall", type=float, default=0.95)
    ap.add_argument("--dump", help="write the test build here (JSON lines) to look at")
    ap.add_argument("--errors", type=int, default=0, help="print this many missed and false pairs")
    args = ap.parse_args()
    py = venv_python()
    peers.run_inside(py, __file__)
    corpora = load(args.eval_dir)
    dev = build(corpora, args.originals, args.seed + 1)
    test = build(corpora, args.originals, args.seed)
    if args.dump:
        with open(args.dump, "w", encoding="utf-8") as f:
            for it in test:
                f.write(json.dumps(it, ensure_ascii=False) + "\n")
    thresholds = [round(0.3 + 0.05 * k, 2) for k in range(12)]
    dev_peer = peer_groups(dev, thresholds)
    best = max(thresholds, key=lambda th: f1(*pairwise(dev, dev_peer[th])[0]))
    peer = peer_groups(test, [best])[best]
    ours = tidewatch_groups(args.tidewatch, test)
    n_groups = len({it["group"] for it in test})
    print(f"near-duplicates: {len(test)} items in {n_groups} groups, 4 corpora, seed {args.seed} "
          f"(peer threshold {best} chosen on seed {args.seed + 1})")
    rows = [("Tidewatch", ours), (f"datasketch MinHash-LSH @{best}", peer)]
    results = {}
    print(f"{'system':<30} {'precision':>9} {'recall':>7}   " + "  ".join(f"{d:>13}" for d in DOMAINS) + "   (P/R)")
    for name, pred in rows:
        (p, r), dom, rules = pairwise(test, pred)
        results[name] = (p, r, rules)
        cells = "  ".join(f"{dom.get(d, (0, 0))[0]:.2f}/{dom.get(d, (0, 0))[1]:.2f}".rjust(13) for d in DOMAINS)
        print(f"{name:<30} {p:>9.3f} {r:>7.3f}   {cells}")
    print("recall of the copy pairs each rule made: " + ", ".join(
        f"{rule} {results['Tidewatch'][2].get(rule, 0):.2f} (peer {results[rows[1][0]][2].get(rule, 0):.2f})"
        for rule in sorted(set(RULES_ZH) | set(RULES_EN))))
    if args.errors:
        shown = 0
        for a in range(len(test)):
            for b in range(a + 1, len(test)):
                sg, sp = test[a]["group"] == test[b]["group"], ours[a] == ours[b]
                if sg != sp and shown < args.errors:
                    print(("MISSED " if sg else "FALSE  ") + repr(test[a]["text"]) + "  /  " + repr(test[b]["text"]))
                    shown += 1
    p, r, _ = results["Tidewatch"]
    pp, pr_, _ = results[rows[1][0]]
    failed = []
    if p < args.min_precision or r < args.min_recall:
        failed.append(f"below the floor (precision {args.min_precision}, recall {args.min_recall})")
    if p < pp or r < pr_:
        failed.append(f"behind the peer (precision {p:.3f} vs {pp:.3f}, recall {r:.3f} vs {pr_:.3f})")
    if failed:
        print("Tidewatch's near-duplicate grouping is " + " and ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
