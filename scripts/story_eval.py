#!/usr/bin/env python3
"""Story grouping evaluation: B-cubed precision, recall and F1 of Tidewatch's stories and, as the
baseline, of near-duplicate groups alone, on an event-labelled stream built from real news.

Usage: python3 scripts/story_eval.py [--tidewatch BIN] [--eval-dir DIR] [--events N] [--seed S] [--gate-peer]

The evaluation folder has no event-labelled corpus, so this builds one (deterministically) from
the People's Daily January 1998 text in `zh-news-pd1998/sentences.txt`:

1. The text is cut into articles: a run of short lines without closing punctuation (headline,
   subtitle, byline) starts an article, and the sentences up to the next such run are its body.
   Each article is one event (gold label). Articles with fewer than 6 body sentences are skipped.
2. Each event is reported 3 to 8 times, as outlets do: each report is 1 to 3 consecutive
   sentences of the article's body, from a random place (so two reports of one event often share
   no sentence and must be grouped by what they talk about), from a random outlet.
3. A quarter of the reports are then reposted ("转发", "//@name:" chains, trailing links):
   near-duplicates, which are all the baseline can group.
4. Events start at random times over 30 days; their reports follow within about two days.

A second stream (B) is built differently: the articles stream A did not use, 2-6 reports of 2-5
sentences, 40% reposted, over 10 days. Beside Tidewatch and the near-duplicate baseline, a batch
peer that sees the whole stream at once: average-linkage agglomerative clustering, cosine distance
over TF-IDF of jieba's words (scikit-learn, SciPy, jieba from PyPI, in target/story-peers), its
threshold tuned on a stream built from the other stream's articles in this stream's shape.

Two articles of the paper about the same real-world event are different events here, so the
figures are a conservative estimate of precision.
"""
import argparse
import json
import os
import random
import subprocess
import sys
from collections import defaultdict
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CLOSERS = tuple("。！？；…”’」』）)!?;")
OUTLETS = ["新华网", "人民网", "澜江日报", "央视新闻", "中新网", "澎湃新闻", "新京报", "环球网", "光明网", "中国日报"]
HANDLES = ["小李", "老王", "吃瓜群众", "路人甲", "新闻控", "北京市民", "记者老张", "早起的鸟"]


def articles(lines):
    out, body, header = [], [], False
    for line in lines:
        line = line.strip()
        if not line:
            continue
        is_header = len(line) <= 40 and not line.endswith(CLOSERS)
        if is_header:
            if not header and body:
                out.append(body)
                body = []
            header = True
        else:
            header = False
            if len(line) >= 15:
                body.append(line)
    if body:
        out.append(body)
    return [a for a in out if len(a) >= 6]


class Shape:
    """How a stream tells its events: sentences per report, reports per event, days, repost share."""

    def __init__(self, sentences, reports, days, reposts, spread_minutes):
        self.sentences, self.reports, self.days = sentences, reports, days
        self.reposts, self.spread_minutes = reposts, spread_minutes


# Stream A: the one the floors were set on. Stream B: other articles, longer reports, fewer of
# them, a denser month (10 days), more reposts, reports spread over a longer time.
SHAPE_A = Shape(sentences=(1, 3), reports=(3, 8), days=30, reposts=0.25, spread_minutes=600)
SHAPE_B = Shape(sentences=(2, 5), reports=(2, 6), days=10, reposts=0.4, spread_minutes=1200)


def build_stream(arts, picked, seed, shape):
    rng = random.Random(seed)
    start = datetime(2026, 9, 1, tzinfo=timezone(timedelta(hours=8)))
    items = []
    for ev in sorted(picked):
        body = arts[ev]
        t0 = start + timedelta(minutes=rng.randrange(shape.days * 24 * 60))
        reports = []
        for k in range(rng.randint(*shape.reports)):
            n = min(len(body), rng.randint(*shape.sentences))
            at = rng.randrange(0, len(body) - n + 1)
            text = "".join(body[at:at + n])
            t = t0 + timedelta(minutes=int(rng.expovariate(1 / shape.spread_minutes)) if k else 0)
            reports.append({"text": text, "published_at": t.isoformat(), "source": rng.choice(OUTLETS), "event": ev})
        for r in list(reports):
            if rng.random() < shape.reposts:
                style = rng.randrange(3)
                if style == 0:
                    text = "转发：" + r["text"]
                elif style == 1:
                    text = f"{rng.choice(['太好了', '关注', '转'])}//@{rng.choice(HANDLES)}:" + r["text"]
                else:
                    text = r["text"] + f" http://t.example/{rng.randrange(10**6)}"
                t = datetime.fromisoformat(r["published_at"]) + timedelta(minutes=rng.randint(1, 300))
                reports.append({"text": text, "published_at": t.isoformat(), "source": "weibo", "event": ev})
        items.extend(reports)
    rng.shuffle(items)
    for i, it in enumerate(items):
        it["id"] = f"r{i:05d}"
    return items


def streams(sentences_path, n_events, seed):
    """Stream A (n_events articles), stream B (the other articles), and for each a stream to tune
    the peer on, built from the other stream's articles in its own shape."""
    with open(sentences_path, encoding="utf-8") as f:
        arts = articles(f)
    rng = random.Random(seed)
    picked_a = rng.sample(range(len(arts)), min(n_events, len(arts)))
    picked_b = sorted(set(range(len(arts))) - set(picked_a))
    return {
        "A": build_stream(arts, picked_a, seed, SHAPE_A),
        "B": build_stream(arts, picked_b, seed, SHAPE_B),
        "tune A": build_stream(arts, picked_b, seed + 1, SHAPE_A),
        "tune B": build_stream(arts, picked_a, seed + 1, SHAPE_B),
    }


def bcubed(gold, pred):
    by_gold, by_pred = defaultdict(set), defaultdict(set)
    for i, (g, p) in enumerate(zip(gold, pred)):
        by_gold[g].add(i)
        by_pred[p].add(i)
    precision = recall = 0.0
    for i, (g, p) in enumerate(zip(gold, pred)):
        both = len(by_gold[g] & by_pred[p])
        precision += both / len(by_pred[p])
        recall += both / len(by_gold[g])
    n = len(gold)
    precision, recall = precision / n, recall / n
    return precision, recall, 2 * precision * recall / (precision + recall)


PEERS = ["scikit-learn==1.6.1", "numpy==2.2.6", "scipy==1.15.3", "jieba==0.42.1"]


def venv_python():
    return peers.venv_python("story-peers", PEERS)


THRESHOLDS = [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]


def agglomerative(items, thresholds):
    """The batch peer: average-linkage agglomerative clustering of the whole stream at once,
    cosine distance over TF-IDF (scikit-learn) of jieba's words, the tree cut at each distance
    threshold (SciPy; the same clusters as scikit-learn's AgglomerativeClustering with
    linkage="average", metric="cosine" and that distance_threshold, built once for all cuts)."""
    import logging

    import jieba
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import cosine_distances

    jieba.setLogLevel(logging.WARNING)

    def words(t):
        return [w for w in jieba.lcut(t) if w.strip() and any(c.isalnum() for c in w)]

    x = TfidfVectorizer(analyzer=words, sublinear_tf=True).fit_transform([it["text"] for it in items])
    d = cosine_distances(x)
    d = (d + d.T) / 2
    d[d < 0] = 0
    tree = linkage(squareform(d, checks=False), method="average")
    return {th: [int(c) for c in fcluster(tree, t=th, criterion="distance")] for th in thresholds}


def tidewatch_stories(binary, items):
    data = "".join(json.dumps({k: v for k, v in it.items() if k != "event"}, ensure_ascii=False) + "\n" for it in items)
    r = subprocess.run([binary, "analyze"], input=data.encode(), capture_output=True, check=True)
    out = {o["id"]: o for o in map(json.loads, r.stdout.decode().splitlines())}

    def root(i):
        while out[i]["duplicate_of"]:
            i = out[i]["duplicate_of"]
        return i

    kept = [it for it in items if it["id"] in out]
    return kept, [out[it["id"]]["story"] for it in kept], [root(it["id"]) for it in kept]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tidewatch", default=os.path.join(ROOT, "target", "release", "tidewatch"))
    ap.add_argument("--eval-dir", default=os.path.join(ROOT, "..", "shared", "eval"))
    ap.add_argument("--events", type=int, default=600)
    ap.add_argument("--seed", type=int, default=1998)
    ap.add_argument("--min-f1-gain", type=float, default=0.1, help="exit 1 unless Tidewatch's F1 beats the baseline by this")
    ap.add_argument("--min-f1", type=float, default=0.70, help="exit 1 when Tidewatch's F1 on either stream is below this")
    ap.add_argument("--min-precision", type=float, default=0.90, help="…or its precision")
    ap.add_argument("--gate-peer", action="store_true",
                    help="exit 1 also when the agglomerative peer's F1 is above Tidewatch's (not yet the default: see docs/analysis.md)")
    args = ap.parse_args()
    py = venv_python()
    peers.run_inside(py, __file__)
    built = streams(os.path.join(args.eval_dir, "zh-news-pd1998", "sentences.txt"), args.events, args.seed)
    failed = []
    for name in ("A", "B"):
        items, ours, base = tidewatch_stories(args.tidewatch, built[name])
        gold = [it["event"] for it in items]
        tune = built["tune " + name]
        tuned = agglomerative(tune, THRESHOLDS)
        best = max(THRESHOLDS, key=lambda th: bcubed([it["event"] for it in tune], tuned[th])[2])
        peer = agglomerative(items, [best])[best]
        print(f"story grouping, stream {name}: {len(items)} items, {len(set(gold))} events (built from People's Daily 1998, "
              f"seed {args.seed}; peer threshold {best} tuned on another stream of other articles)")
        print(f"{'system':<40} {'clusters':>8} {'B3 precision':>13} {'B3 recall':>10} {'B3 F1':>7}")
        rows = [("Tidewatch stories (online)", ours), ("near-duplicate groups (baseline)", base),
                (f"agglomerative TF-IDF, whole stream @{best}", peer)]
        scores = []
        for label, pred in rows:
            p, rc, f1 = bcubed(gold, pred)
            scores.append((p, rc, f1))
            print(f"{label:<40} {len(set(pred)):>8} {p:>13.3f} {rc:>10.3f} {f1:>7.3f}")
        (p, _, f1), (_, _, base_f1), (_, _, peer_f1) = scores
        if f1 < base_f1 + args.min_f1_gain:
            failed.append(f"stream {name}: F1 {f1:.3f} is not {args.min_f1_gain} above the baseline's {base_f1:.3f}")
        if f1 < args.min_f1 or p < args.min_precision:
            failed.append(f"stream {name}: F1 {f1:.3f} / precision {p:.3f} below the floor {args.min_f1} / {args.min_precision}")
        if peer_f1 > f1:
            msg = f"stream {name}: the agglomerative peer's F1 {peer_f1:.3f} is {peer_f1 - f1:.3f} above Tidewatch's {f1:.3f}"
            print(msg + ("" if args.gate_peer else " (not gated yet)"))
            if args.gate_peer:
                failed.append(msg)
    for f in failed:
        print(f)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
