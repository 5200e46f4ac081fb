//! The scale benchmark, small: it imports, serves, queries and prints every figure it promises.

use crate::common::{run, stderr, stdout};

#[test]
fn the_scale_bench_prints_every_figure_on_a_small_store() {
    let dir = tempfile::tempdir().unwrap();
    let cities = ["北京", "上海", "武汉", "成都", "广州", "杭州", "西安", "南京"];
    let news: String = (0..300)
        .map(|i| {
            format!(
                "第{}届{}市民运动会今天开幕，{}名运动员参加{}个项目的比赛，组委会表示将加强食品安全和交通保障。\n",
                i % 40 + 1,
                cities[i % cities.len()],
                100 + i * 7,
                i % 13 + 2
            )
        })
        .collect();
    let news_path = dir.path().join("news.txt");
    std::fs::write(&news_path, news).unwrap();
    let data = dir.path().join("data");
    let o = run(
        &data,
        &["bench", "--only", "scale", "--scale-items", "1500", "--rules", "200", "--news", news_path.to_str().unwrap()],
        None,
    );
    let out = stdout(&o);
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    for figure in [
        "scale: 1500 items",
        "items         1–1500",
        "items/s overall",
        "peak RSS while importing",
        "KiB per item",
        "server startup (process start to the first answer)",
        "search, 200 queries",
        "p95",
        "p99",
        "stories by size",
        "alerts",
        "server RSS",
    ] {
        assert!(out.contains(figure), "{figure:?} missing:\n{out}");
    }
    // Every generated item is accounted for: stored, or rejected with its reason.
    let line = out.lines().find(|l| l.contains("items/s overall")).unwrap();
    let imported: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!((1400..=1500).contains(&imported), "{line}");
}
