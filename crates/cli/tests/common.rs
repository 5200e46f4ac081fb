//! Helpers shared by the command-line tests.
#![allow(dead_code, unreachable_pub)]

use std::path::Path;
use std::process::{Command, Output, Stdio};

pub fn tidewatch(data_dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tidewatch"));
    c.arg("--data-dir").arg(data_dir).env_remove("TIDEWATCH_DATA_DIR");
    c
}

pub fn run(data_dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut c = tidewatch(data_dir);
    c.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    c.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = c.spawn().expect("spawn tidewatch");
    if let Some(input) = stdin {
        use std::io::Write;
        let mut s = child.stdin.take().unwrap();
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = s.write_all(&input);
        });
    }
    child.wait_with_output().expect("tidewatch runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn json_lines(s: &str) -> Vec<serde_json::Value> {
    s.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// A deterministic generator of distinct Chinese/English sentences.
pub fn synthetic_items(n: usize, seed: u64) -> Vec<String> {
    const ZH: &[&str] = &[
        "学校",
        "食堂",
        "宿舍",
        "图书馆",
        "校车",
        "供暖",
        "选课",
        "考试",
        "医院",
        "社区",
        "地铁",
        "停车",
        "物业",
        "公园",
        "博物馆",
        "菜市场",
        "自来水",
        "天气",
        "比赛",
        "讲座",
    ];
    const ZH2: &[&str] = &[
        "今天", "昨晚", "已经", "突然", "终于", "还是", "没有", "非常", "有点", "希望", "通知", "回应", "投诉", "建议",
        "调查",
    ];
    const EN: &[&str] = &[
        "canteen", "library", "shuttle", "heating", "exam", "clinic", "metro", "parking", "museum", "market", "water",
        "weather", "match", "lecture", "council",
    ];
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    (0..n)
        .map(|i| {
            if i % 4 == 3 {
                let words: Vec<&str> = (0..12).map(|_| EN[(next() % EN.len() as u64) as usize]).collect();
                format!("Report {i}: the {} is {} today, number {}", words.join(" "), words[0], next() % 100_000)
            } else {
                let mut t = format!("第{i}条：");
                for _ in 0..10 {
                    t.push_str(ZH2[(next() % ZH2.len() as u64) as usize]);
                    t.push_str(ZH[(next() % ZH.len() as u64) as usize]);
                }
                t.push_str(&format!("，编号{}。", next() % 1_000_000));
                t
            }
        })
        .collect()
}

/// Serves `app` on 127.0.0.1 at a port picked now, from a background thread; returns the base URL.
pub fn serve(app: axum::Router) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    format!("http://{}", rx.recv().unwrap())
}

/// A `tidewatch` server started by a test, stopped (by its PID) when dropped.
pub struct Server {
    child: std::process::Child,
    /// Its base URL.
    pub base: String,
    /// What it printed before it listened (the demo's accounts, …).
    pub preamble: Vec<String>,
}

impl Server {
    /// The demo account `name`'s password, from what the demo printed.
    pub fn demo_password(&self, name: &str) -> String {
        self.preamble
            .iter()
            .find_map(|l| l.trim().strip_prefix(&format!("demo account {name} ")))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("the demo printed no account {name}: {:?}", self.preamble))
            .to_string()
    }
}

thread_local! {
    static TOKEN: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Sets the API token [`http`] presents on this thread.
pub fn set_token(token: &str) {
    TOKEN.with(|t| *t.borrow_mut() = Some(token.to_string()));
}

/// A client presenting this thread's API token (see [`set_token`]).
pub fn http() -> reqwest::blocking::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(t) = TOKEN.with(|t| t.borrow().clone()) {
        headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {t}").parse().unwrap());
    }
    reqwest::blocking::Client::builder()
        .default_headers(headers)
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Creates an admin account and an API token for it in `data_dir` (through the command line, as
/// an operator would), sets it for [`http`], and returns it.
pub fn admin_token(data_dir: &Path) -> String {
    let o = run(data_dir, &["users", "add", "test-admin", "--admin", "--generate"], None);
    assert!(o.status.success(), "users add: {}", stderr(&o));
    let o = run(data_dir, &["tokens", "add", "tests", "--user", "test-admin"], None);
    assert!(o.status.success(), "tokens add: {}", stderr(&o));
    let token = stdout(&o).trim().to_string();
    assert!(token.starts_with("twt_"), "{token}");
    set_token(&token);
    token
}

/// A signed-in session: what a browser holds.
pub struct Session {
    /// `tw_session=…`.
    pub cookie: String,
    /// The CSRF token.
    pub csrf: String,
}

/// Logs in with a password; the session's cookie and CSRF token.
pub fn login(base: &str, user: &str, password: &str) -> Session {
    let r = reqwest::blocking::Client::new()
        .post(format!("{base}/api/v1/login"))
        .json(&serde_json::json!({"username": user, "password": password}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "login as {user}");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let body: serde_json::Value = r.json().unwrap();
    Session { cookie, csrf: body["csrf_token"].as_str().unwrap().to_string() }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `tidewatch ARGS` (which must listen on 127.0.0.1:0) and waits for the line
/// `<prefix>http://…` on its standard output; the rest of its output is drained.
pub fn start_server(args: &[&std::ffi::OsStr], prefix: &str) -> Server {
    use std::io::{BufRead, BufReader, Read};
    let mut child = Command::new(env!("CARGO_BIN_EXE_tidewatch"))
        .args(args)
        .env_remove("TIDEWATCH_DATA_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn tidewatch");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut base = None;
    let mut preamble = Vec::new();
    let mut line = String::new();
    while out.read_line(&mut line).unwrap_or(0) > 0 {
        if let Some(url) = line.trim().strip_prefix(prefix) {
            base = Some(url.to_string());
            break;
        }
        preamble.push(line.trim_end().to_string());
        line.clear();
    }
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = out.read_to_end(&mut sink);
    });
    let base = base.unwrap_or_else(|| panic!("the server did not print {prefix:?}"));
    if let Some(t) = preamble.iter().find_map(|l| l.trim().strip_prefix("Demo API token (admin, for scripts): ")) {
        set_token(t.trim());
    }
    Server { child, base, preamble }
}
