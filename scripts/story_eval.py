#!/usr/bin/env python3
"""Story grouping evaluation: B-cubed precision, recall and F1 of Tidewatch's stories and, as the
baseline, of near-duplicate groups alone, on an event-labelled stream built from real news.

Usage: python3 scripts/story_eval.py [--tidewatch BIN] [--eval-dir DIR] [--events N] [--seed S]

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


def build(sentences_path, n_events, seed):
    rng = random.Random(seed)
    with open(sentences_path, encoding="utf-8") as f:
        arts = articles(f)
    picked = rng.sample(range(len(arts)), min(n_events, len(arts)))
    start = datetime(2026, 9, 1, tzinfo=timezone(timedelta(hours=8)))
    items = []
    for ev in sorted(picked):
        body = arts[ev]
        t0 = start + timedelta(minutes=rng.randrange(30 * 24 * 60))
        reports = []
        for k in range(rng.randint(3, 8)):
            n = rng.randint(1, 3)
            at = rng.randrange(0, len(body) - n + 1)
            text = "".join(body[at:at + n])
            t = t0 + timedelta(minutes=int(rng.expovariate(1 / 600)) if k else 0)
            reports.append({"text": text, "published_at": t.isoformat(), "source": rng.choice(OUTLETS), "event": ev})
        for r in list(reports):
            if rng.random() < 0.25:
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tidewatch", default=os.path.join(ROOT, "target", "release", "tidewatch"))
    ap.add_argument("--eval-dir", default=os.path.join(ROOT, "..", "shared", "eval"))
    ap.add_argument("--events", type=int, default=600)
    ap.add_argument("--seed", type=int, default=1998)
    ap.add_argument("--min-f1-gain", type=float, default=0.1, help="exit 1 unless Tidewatch's F1 beats the baseline by this")
    args = ap.parse_args()
    items = build(os.path.join(args.eval_dir, "zh-news-pd1998", "sentences.txt"), args.events, args.seed)
    data = "".join(json.dumps({k: v for k, v in it.items() if k != "event"}, ensure_ascii=False) + "\n" for it in items)
    r = subprocess.run([args.tidewatch, "analyze"], input=data.encode(), capture_output=True, check=True)
    out = {o["id"]: o for o in map(json.loads, r.stdout.decode().splitlines())}
    ids = [it["id"] for it in items if it["id"] in out]
    gold = [it["event"] for it in items if it["id"] in out]

    def root(i):
        while out[i]["duplicate_of"]:
            i = out[i]["duplicate_of"]
        return i

    ours = [out[i]["story"] for i in ids]
    base = [root(i) for i in ids]
    print(f"story grouping: {len(ids)} items, {len(set(gold))} events (built from People's Daily 1998, seed {args.seed})")
    print(f"{'system':<34} {'clusters':>8} {'B3 precision':>13} {'B3 recall':>10} {'B3 F1':>7}")
    rows = [("Tidewatch stories", ours), ("near-duplicate groups (baseline)", base)]
    f1s = []
    for name, pred in rows:
        p, rc, f1 = bcubed(gold, pred)
        f1s.append(f1)
        print(f"{name:<34} {len(set(pred)):>8} {p:>13.3f} {rc:>10.3f} {f1:>7.3f}")
    if f1s[0] < f1s[1] + args.min_f1_gain:
        print(f"Tidewatch's F1 is not {args.min_f1_gain} above the baseline's")
        sys.exit(1)


if __name__ == "__main__":
    main()
