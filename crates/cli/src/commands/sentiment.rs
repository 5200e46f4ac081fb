//! `tidewatch sentiment score|train`

use anyhow::{bail, Context};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use tidewatch_detect::sentiment::{is_held_out, train, Analyzer, Example, Family, Model, Polarity, TrainConfig};
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
        /// Tune instead: train on three fifths, print macro-F1 on the fourth (never the held-out
        /// fifth), write nothing.
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
        Sub::Train { eval_dir, out, validate, epochs, learning_rate, l2, min_count, class_balance } => {
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
            train_models(&eval_dir, &out, validate, config)?
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

fn train_models(
    eval_dir: &std::path::Path,
    out: &std::path::Path,
    validate: bool,
    config: impl Fn(Family) -> TrainConfig,
) -> anyhow::Result<()> {
    let sets = [
        (Family::Zh, vec!["zh-reviews/dev.jsonl"]),
        (Family::En, vec!["en-vader/tweets.jsonl", "en-vader/movie-snippets.jsonl"]),
    ];
    for (family, files) in sets {
        let mut rows = Vec::new();
        let mut ends = Vec::new();
        for f in &files {
            rows.extend(read_corpus(&eval_dir.join(f))?);
            ends.push(rows.len());
        }
        let is_validation = |t: &str| validate && xxh3_64(t.as_bytes()) % 5 == 1;
        // Each corpus (register) weighs as much as the largest one.
        let largest = (0..ends.len()).map(|i| ends[i] - if i == 0 { 0 } else { ends[i - 1] }).max().unwrap_or(1);
        let examples: Vec<Example<'_>> = rows
            .iter()
            .enumerate()
            .filter(|(_, (t, _))| !is_held_out(t) && !is_validation(t))
            .map(|(i, (t, l))| {
                let fi = ends.iter().position(|e| i < *e).unwrap_or(0);
                let size = ends[fi] - if fi == 0 { 0 } else { ends[fi - 1] };
                Example { text: t, label: *l, weight: largest as f32 / size as f32 }
            })
            .collect();
        let model = train(family, &examples, config(family));
        if validate {
            let analyzer = match family {
                Family::Zh => Analyzer::new(Model::parse(&model).map_err(anyhow::Error::msg)?, Model::default()),
                Family::En => Analyzer::new(Model::default(), Model::parse(&model).map_err(anyhow::Error::msg)?),
            };
            let lang = if family == Family::Zh { Lang::Zh } else { Lang::En };
            for (fi, file) in files.iter().enumerate() {
                let part = &rows[if fi == 0 { 0 } else { ends[fi - 1] }..ends[fi]];
                let pairs: Vec<(Polarity, Polarity)> = part
                    .iter()
                    .filter(|(t, _)| is_validation(t))
                    .map(|(t, l)| {
                        let s = analyzer.analyze(lang, "", t);
                        let p = match family {
                            Family::Zh if s.score > 0.0 => Polarity::Positive,
                            Family::Zh => Polarity::Negative,
                            Family::En => s.label,
                        };
                        (*l, p)
                    })
                    .collect();
                let (accuracy, f1) = macro_f1(&pairs, family == Family::En);
                println!("{file}: validation accuracy {accuracy:.3}, macro-F1 {f1:.3} ({} texts)", pairs.len());
            }
            continue;
        }
        let path = out.join(family.model_file());
        std::fs::write(&path, &model).with_context(|| format!("cannot write {}", path.display()))?;
        println!(
            "{}: {} training texts ({} held out), {} features",
            path.display(),
            examples.len(),
            rows.len() - examples.len(),
            model.lines().filter(|l| !l.starts_with('#')).count()
        );
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
