//! `tidewatch sentiment score|train`

use anyhow::{bail, Context};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use tidewatch_detect::sentiment::{
    is_held_out, train, zh_lexicon_weights, Analyzer, Example, Family, Model, Polarity, TrainConfig,
};
use tidewatch_model::Lang;
use xxhash_rust::xxh3::xxh3_64;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Score texts: JSON Lines in (`text`, optional `title` and `lang`), one line out per line:
    /// `{"label": ..., "score": ..., "held_out": ...}`. `held_out` says whether the text is in
    /// the fifth of a corpus that training never sees.
    Score {
        /// Input file (default: standard input).
        input: Option<PathBuf>,
    },
    /// Train the committed models from the labelled corpora (the part that is not held out) and
    /// write `sentiment-zh.tsv` and `sentiment-en.tsv`.
    Train {
        /// The evaluation corpora (`zh-reviews/`, `en-vader/`).
        #[arg(long, default_value = "../shared/eval")]
        eval_dir: PathBuf,
        /// Where to write the models.
        #[arg(long, default_value = "crates/detect/data")]
        out: PathBuf,
        /// Tune instead, writing nothing: train on three fifths of every register and print
        /// macro-F1 on the fourth, then train without each register in turn and print macro-F1
        /// on it (the held-out fifth is never used).
        #[arg(long)]
        validate: bool,
        /// Training passes (default: per language, as the committed models).
        #[arg(long)]
        epochs: Option<usize>,
        /// AdaGrad learning rate.
        #[arg(long)]
        learning_rate: Option<f32>,
        /// L2 penalty.
        #[arg(long)]
        l2: Option<f32>,
        /// Minimum number of training texts a feature must occur in.
        #[arg(long)]
        min_count: Option<u32>,
        /// Exponent of the inverse class frequency weighting each example.
        #[arg(long)]
        class_balance: Option<f32>,
        /// The Chinese news register's total weight, as a share of the reviews'.
        #[arg(long, default_value_t = 0.3)]
        news_share: f32,
        /// With --validate: also write every validation text's gold and predicted label here
        /// (JSON Lines: mode, register, text, gold, label, score), for the evaluation script.
        #[arg(long)]
        predictions: Option<PathBuf>,
    },
}

#[derive(serde::Deserialize)]
struct Line {
    text: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    label: Option<String>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Sub::Score { input } => score(input)?,
        Sub::Train {
            eval_dir,
            out,
            validate,
            epochs,
            learning_rate,
            l2,
            min_count,
            class_balance,
            news_share,
            predictions,
        } => {
            let config = |family| {
                let d = TrainConfig::for_family(family);
                TrainConfig {
                    epochs: epochs.unwrap_or(d.epochs),
                    learning_rate: learning_rate.unwrap_or(d.learning_rate),
                    l2: l2.unwrap_or(d.l2),
                    min_count: min_count.unwrap_or(d.min_count),
                    class_balance: class_balance.unwrap_or(d.class_balance),
                }
            };
            train_models(&eval_dir, &out, validate, news_share, predictions.as_deref(), config)?
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn lang_of(s: Option<&str>) -> Lang {
    match s {
        Some("zh") => Lang::Zh,
        Some("en") => Lang::En,
        _ => Lang::Other,
    }
}

fn score(input: Option<PathBuf>) -> anyhow::Result<()> {
    let reader: Box<dyn BufRead> = match &input {
        Some(p) => Box::new(std::io::BufReader::new(
            std::fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))?,
        )),
        None => Box::new(std::io::stdin().lock()),
    };
    let analyzer = Analyzer::shared();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (n, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("line {}", n + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Line>(&line) {
            Ok(l) => {
                let s = analyzer.analyze(lang_of(l.lang.as_deref()), &l.title, &l.text);
                let v = serde_json::json!({"label": s.label, "score": s.score, "held_out": is_held_out(&l.text)});
                writeln!(out, "{v}")?;
            }
            Err(e) => {
                eprintln!("line {}: {e}", n + 1);
                writeln!(out, "{}", serde_json::json!({"error": format!("line {}: {e}", n + 1)}))?;
            }
        }
    }
    Ok(())
}

fn read_corpus(path: &std::path::Path) -> anyhow::Result<Vec<(String, Polarity)>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let l: Line = serde_json::from_str(line).with_context(|| format!("{}:{}", path.display(), n + 1))?;
        let Some(label) = l.label.as_deref().and_then(Polarity::parse) else {
            bail!("{}:{}: no label", path.display(), n + 1);
        };
        rows.push((l.text, label));
    }
    Ok(rows)
}

/// A register: one kind of text (a corpus, or a domain of one) that validation can hold out whole.
struct Register {
    name: &'static str,
    family: Family,
    rows: Vec<(String, Polarity)>,
    /// How much each of its examples counts in training.
    weight: f32,
    /// Held out whole in cross-register validation (a register that alone carries a class, such
    /// as the news register's neutral, is validated on a fifth instead).
    cross: bool,
}

/// The domain of a review, by the words reviews of each domain use (the corpus has no field).
fn review_domain(text: &str) -> &'static str {
    let any = |words: &[&str]| words.iter().any(|w| text.contains(w));
    if any(&["酒店", "宾馆", "房间", "前台", "入住", "服务员", "早餐", "住"]) {
        "zh-reviews:hotel"
    } else if any(&["书", "作者", "读", "故事", "内容", "文字", "章"]) {
        "zh-reviews:books"
    } else if any(&[
        "电脑",
        "屏幕",
        "机器",
        "电池",
        "键盘",
        "系统",
        "散热",
        "笔记本",
        "硬盘",
        "驱动",
        "本本",
        "内存",
        "外观",
        "配置",
        "显卡",
        "触摸",
        "音箱",
        "鼠标",
        "手机",
        "机子",
        "XP",
        "Vista",
    ]) {
        "zh-reviews:electronics"
    } else {
        "zh-reviews:other"
    }
}

/// The labelled registers under `eval_dir`. Chinese: the reviews by domain, and news sentences
/// as the neutral register (People's Daily; a sentence with a negative lexicon word is left
/// out, since harm reported in the news is what the product must see as negative).
fn registers(eval_dir: &std::path::Path, news_share: f32) -> anyhow::Result<Vec<Register>> {
    let mut out: Vec<Register> = Vec::new();
    for (text, label) in read_corpus(&eval_dir.join("zh-reviews/dev.jsonl"))? {
        let name = review_domain(&text);
        match out.iter_mut().find(|r| r.name == name) {
            Some(r) => r.rows.push((text, label)),
            None => {
                out.push(Register { name, family: Family::Zh, rows: vec![(text, label)], weight: 1.0, cross: true })
            }
        }
    }
    out.sort_by_key(|r| r.name);
    let reviews: usize = out.iter().map(|r| r.rows.len()).sum();
    let path = eval_dir.join("zh-news-pd1998/sentences.txt");
    let news: Vec<(String, Polarity)> = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .lines()
        .map(str::trim)
        .filter(|l| l.chars().count() >= 4 && zh_lexicon_weights(l).1 == 0.0)
        .map(|l| (l.to_string(), Polarity::Neutral))
        .collect();
    let weight = news_share * reviews as f32 / news.len().max(1) as f32;
    out.push(Register { name: "zh-news-pd1998", family: Family::Zh, rows: news, weight, cross: false });
    let en = [("en-vader/tweets", "en-vader/tweets.jsonl"), ("en-vader/movie", "en-vader/movie-snippets.jsonl")];
    let en_rows: Vec<Vec<(String, Polarity)>> =
        en.iter().map(|(_, f)| read_corpus(&eval_dir.join(f))).collect::<anyhow::Result<_>>()?;
    // Each English corpus weighs as much as the largest.
    let largest = en_rows.iter().map(Vec::len).max().unwrap_or(1);
    for ((name, _), rows) in en.iter().zip(en_rows) {
        let weight = largest as f32 / rows.len().max(1) as f32;
        out.push(Register { name, family: Family::En, rows, weight, cross: true });
    }
    Ok(out)
}

/// Trains one family's model on the registers' rows that `keep` accepts (never the held-out fifth).
fn train_on(
    family: Family,
    registers: &[Register],
    keep: impl Fn(&Register, &str) -> bool,
    config: TrainConfig,
) -> (String, usize) {
    let examples: Vec<Example<'_>> = registers
        .iter()
        .filter(|r| r.family == family)
        .flat_map(|r| {
            let keep = &keep;
            r.rows.iter().filter(move |(t, _)| !is_held_out(t) && keep(r, t)).map(move |(t, l)| Example {
                text: t,
                label: *l,
                weight: r.weight,
            })
        })
        .collect();
    (train(family, &examples, config), examples.len())
}

/// Scores one register's rows that `keep` accepts and prints macro-F1: over two classes by the
/// score's sign for the two-class reviews, over three by the label otherwise (and for the
/// reviews, the share the three-class label calls neutral).
fn report(
    mode: &str,
    register: &Register,
    model: &str,
    keep: impl Fn(&str) -> bool,
    predictions: &mut Option<std::io::BufWriter<std::fs::File>>,
) -> anyhow::Result<()> {
    let model = Model::parse(model).map_err(anyhow::Error::msg)?;
    let (analyzer, lang) = match register.family {
        Family::Zh => (Analyzer::new(model, Model::default()), Lang::Zh),
        Family::En => (Analyzer::new(Model::default(), model), Lang::En),
    };
    let two_class = register.rows.iter().all(|(_, l)| *l != Polarity::Neutral);
    let mut pairs = Vec::new();
    let mut labels = [0usize; 3];
    for (t, l) in register.rows.iter().filter(|(t, _)| !is_held_out(t) && keep(t)) {
        let s = analyzer.analyze(lang, "", t);
        labels[s.label as usize] += 1;
        if let Some(w) = predictions.as_mut() {
            let v = serde_json::json!({
                "mode": mode, "register": register.name, "text": t, "gold": l, "label": s.label, "score": s.score,
            });
            writeln!(w, "{v}")?;
        }
        let p = match (two_class, s.score > 0.0) {
            (true, true) => Polarity::Positive,
            (true, false) => Polarity::Negative,
            (false, _) => s.label,
        };
        pairs.push((*l, p));
    }
    let n = pairs.len().max(1) as f64;
    let share = |k: usize| labels[k] as f64 / n;
    if register.rows.iter().all(|(_, l)| *l == Polarity::Neutral) {
        println!(
            "{mode:<6} {:<24} {:>6} texts: labelled negative {:.3}, neutral {:.3}, positive {:.3}",
            register.name,
            pairs.len(),
            share(0),
            share(1),
            share(2)
        );
        return Ok(());
    }
    if register.family == Family::En {
        let lp: Vec<(Polarity, Polarity)> = register
            .rows
            .iter()
            .filter(|(t, _)| !is_held_out(t) && keep(t))
            .map(|(t, l)| {
                let v = tidewatch_detect::sentiment::lexicon_valence(t);
                (
                    *l,
                    if v >= 0.05 {
                        Polarity::Positive
                    } else if v <= -0.05 {
                        Polarity::Negative
                    } else {
                        Polarity::Neutral
                    },
                )
            })
            .collect();
        let (a, f) = macro_f1(&lp, true);
        println!("{mode:<6} {:<24} lexicon alone: accuracy {a:.3}, macro-F1 {f:.3}", register.name);
    }
    let (accuracy, f1) = macro_f1(&pairs, !two_class);
    println!(
        "{mode:<6} {:<24} {:>6} texts: accuracy {accuracy:.3}, macro-F1 {f1:.3}{}",
        register.name,
        pairs.len(),
        if two_class { format!(" (labelled neutral {:.3})", share(1)) } else { String::new() }
    );
    Ok(())
}

fn train_models(
    eval_dir: &std::path::Path,
    out: &std::path::Path,
    validate: bool,
    news_share: f32,
    predictions: Option<&std::path::Path>,
    config: impl Fn(Family) -> TrainConfig,
) -> anyhow::Result<()> {
    let registers = registers(eval_dir, news_share)?;
    let mut predictions = match predictions {
        Some(p) => Some(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot write {}", p.display()))?,
        )),
        None => None,
    };
    let fifth = |t: &str| xxh3_64(t.as_bytes()) % 5 == 1;
    for family in [Family::Zh, Family::En] {
        if validate {
            // In-register: train on three fifths of every register, score the fourth.
            let (model, _) = train_on(family, &registers, |_, t| !fifth(t), config(family));
            for r in registers.iter().filter(|r| r.family == family) {
                report("fifth", r, &model, fifth, &mut predictions)?;
            }
            // Cross-register: train without the register, score all of it.
            for r in registers.iter().filter(|r| r.family == family && r.cross) {
                let (model, _) = train_on(family, &registers, |o, _| o.name != r.name, config(family));
                report("cross", r, &model, |_| true, &mut predictions)?;
            }
            continue;
        }
        let (model, n) = train_on(family, &registers, |_, _| true, config(family));
        let path = out.join(family.model_file());
        std::fs::write(&path, &model).with_context(|| format!("cannot write {}", path.display()))?;
        println!(
            "{}: {n} training texts, {} features",
            path.display(),
            model.lines().filter(|l| !l.starts_with('#')).count()
        );
    }
    if let Some(w) = predictions.as_mut() {
        w.flush()?;
    }
    Ok(())
}

/// Accuracy and macro-F1 of (gold, predicted) pairs, over two or three classes.
fn macro_f1(pairs: &[(Polarity, Polarity)], neutral: bool) -> (f64, f64) {
    let classes: &[Polarity] = if neutral {
        &[Polarity::Negative, Polarity::Neutral, Polarity::Positive]
    } else {
        &[Polarity::Negative, Polarity::Positive]
    };
    let accuracy = pairs.iter().filter(|(g, p)| g == p).count() as f64 / pairs.len().max(1) as f64;
    let f1 = classes
        .iter()
        .map(|c| {
            let tp = pairs.iter().filter(|(g, p)| g == c && p == c).count() as f64;
            let fp = pairs.iter().filter(|(g, p)| g != c && p == c).count() as f64;
            let fn_ = pairs.iter().filter(|(g, p)| g == c && p != c).count() as f64;
            if tp == 0.0 {
                0.0
            } else {
                2.0 * tp / (2.0 * tp + fp + fn_)
            }
        })
        .sum::<f64>()
        / classes.len() as f64;
    (accuracy, f1)
}
