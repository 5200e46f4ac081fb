//! Email notifications delivered to a real SMTP server (aiosmtpd, from PyPI) started by the test,
//! over STARTTLS and over implicit TLS, with a certificate from a CA made for the test by openssl
//! and trusted through `ca_file`. The received messages are parsed by Python's email package.
//!
//! Needs a Python with aiosmtpd: `scripts/test.sh` installs it into `target/test-venv` and sets
//! `TIDEWATCH_TEST_PYTHON`.

use chrono::Utc;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tidewatch_engine::alerting::Smtp;
use tidewatch_engine::notifier::Notifier;
use tidewatch_store::Notification;

fn python() -> String {
    let py = std::env::var("TIDEWATCH_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&py).args(["-c", "import aiosmtpd"]).status().map(|s| s.success()).unwrap_or(false);
    assert!(ok, "{py} has no aiosmtpd: run scripts/test.sh (it installs it) or set TIDEWATCH_TEST_PYTHON");
    py
}

/// The server process, stopped by its PID when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start(py: &str, maildir: &Path, port: u16, tls_args: &[&str]) -> Server {
    let mut args = vec!["-m".to_string(), "aiosmtpd".into(), "-n".into(), "-l".into(), format!("127.0.0.1:{port}")];
    args.extend(tls_args.iter().map(|s| s.to_string()));
    args.extend(["-c".into(), "aiosmtpd.handlers.Mailbox".into(), maildir.display().to_string()]);
    let child = Command::new(py).args(&args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "aiosmtpd did not start on port {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

/// A test CA and a server certificate for 127.0.0.1 signed by it: (CA file, certificate, key).
fn certificate(dir: &Path) -> (String, String, String) {
    let p = |name: &str| dir.join(name).display().to_string();
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let steps: [Vec<String>; 3] = [
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Tidewatch test CA", "-keyout"]
            .iter()
            .map(|s| s.to_string())
            .chain([p("ca.key"), "-out".into(), p("ca.pem")])
            .collect(),
        ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout"]
            .iter()
            .map(|s| s.to_string())
            .chain([p("key.pem"), "-out".into(), p("req.csr")])
            .collect(),
        vec![
            "x509".into(),
            "-req".into(),
            "-in".into(),
            p("req.csr"),
            "-CA".into(),
            p("ca.pem"),
            "-CAkey".into(),
            p("ca.key"),
            "-CAcreateserial".into(),
            "-days".into(),
            "2".into(),
            "-out".into(),
            p("cert.pem"),
            "-extfile".into(),
            p("ext.cnf"),
        ],
    ];
    for args in steps {
        let ok =
            Command::new("openssl").args(&args).stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap().success();
        assert!(ok, "openssl {args:?} failed");
    }
    (p("ca.pem"), p("cert.pem"), p("key.pem"))
}

/// The messages in a maildir as (to, subject, body), decoded by Python's email package.
fn received(py: &str, maildir: &Path) -> Vec<(String, String, String)> {
    let code = r#"
import json, mailbox, sys
from email import policy
from email.parser import BytesParser
out = []
for key in sorted(mailbox.Maildir(sys.argv[1], create=False).keys()):
    path = mailbox.Maildir(sys.argv[1], create=False)._lookup(key)
    with open(sys.argv[1] + "/" + path, "rb") as f:
        m = BytesParser(policy=policy.default).parse(f)
    out.append([str(m["To"]), str(m["Subject"]), m.get_body(("plain",)).get_content()])
print(json.dumps(out))
"#;
    let o = Command::new(py).args(["-c", code]).arg(maildir).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn note(to: &str) -> Notification {
    let now = Utc::now();
    Notification {
        id: 1,
        key: "k".into(),
        created_at: now,
        alert: 7,
        recipient: "zhao".into(),
        channel: serde_json::json!({"kind": "email", "to": to}).to_string(),
        subject: "[紧急] 新预警 #7: 第三食堂 burst".into(),
        body: "- observed 12, expected 1.2\n\n查看: http://tidewatch.example/#alert-7\n".into(),
        status: "pending".into(),
        attempts: 0,
        next_attempt: now,
        last_error: None,
        sent_at: None,
    }
}

#[test]
fn email_arrives_over_starttls_and_implicit_tls() {
    let py = python();
    let tmp = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificate(tmp.path());
    for (mode, tls_args) in
        [("starttls", ["--tlscert", &cert, "--tlskey", &key]), ("implicit", ["--smtpscert", &cert, "--smtpskey", &key])]
    {
        let maildir = tmp.path().join(format!("mail-{mode}"));
        let port = free_port();
        let _server = start(&py, &maildir, port, &tls_args);
        let smtp = Smtp {
            host: "127.0.0.1".into(),
            port,
            tls: mode.into(),
            from: "Tidewatch <tidewatch@lut.example>".into(),
            username: None,
            password: None,
            ca_file: Some(ca.clone()),
        };
        let notifier = Notifier::new(Some(&smtp)).unwrap();
        notifier.send(&note("赵 <zhao@lut.example>"), Utc::now()).unwrap_or_else(|e| panic!("{mode}: {e}"));
        let got = received(&py, &maildir);
        assert_eq!(got.len(), 1, "{mode}: {got:?}");
        let (to, subject, body) = &got[0];
        assert!(to.contains("zhao@lut.example"), "{to}");
        assert_eq!(subject, "[紧急] 新预警 #7: 第三食堂 burst", "{mode}");
        assert!(body.contains("observed 12") && body.contains("查看: http://tidewatch.example/#alert-7"), "{body}");

        // Without trusting the test's certificate, the connection is refused: TLS is verified.
        let untrusted = Notifier::new(Some(&Smtp { ca_file: None, ..smtp.clone() })).unwrap();
        let err = untrusted.send(&note("zhao@lut.example"), Utc::now()).unwrap_err();
        assert!(err.starts_with("SMTP"), "{mode}: {err}");
        assert_eq!(received(&py, &maildir).len(), 1, "nothing more was delivered");
    }
}

#[test]
fn a_bad_address_or_missing_server_is_an_error_not_a_crash() {
    let notifier = Notifier::new(None).unwrap();
    assert_eq!(notifier.send(&note("zhao@lut.example"), Utc::now()).unwrap_err(), "no SMTP server is configured");
    let smtp = Smtp {
        host: "127.0.0.1".into(),
        port: free_port(),
        tls: "none".into(),
        from: "tidewatch@lut.example".into(),
        username: None,
        password: None,
        ca_file: None,
    };
    let notifier = Notifier::new(Some(&smtp)).unwrap();
    assert!(notifier.send(&note("not an address"), Utc::now()).unwrap_err().contains("recipient"));
    assert!(notifier.send(&note("zhao@lut.example"), Utc::now()).unwrap_err().starts_with("SMTP"), "nothing listens");
    assert!(Notifier::new(Some(&Smtp { tls: "sometimes".into(), ..smtp })).is_err());
}
