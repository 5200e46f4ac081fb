//! Notifications: what an alert says, per recipient language, and the exact requests each channel
//! expects, with each platform's signing scheme. Building is pure; sending (SMTP, HTTP, the
//! outbox and its retries) is the engine's.
//!
//! | channel | request | signing |
//! |---|---|---|
//! | webhook | POST JSON (the alert) | `X-Tidewatch-Signature: sha256=<hex HMAC-SHA256(secret, body)>` |
//! | slack | POST `{"text"}` (Slack-compatible incoming webhook) | none (the URL is the secret) |
//! | dingtalk | POST `{"msgtype": "markdown", "markdown": {"title", "text"}}` to the robot URL with `&timestamp=<ms>&sign=<sign>` | sign = URL-encoded base64 of HMAC-SHA256 with the secret as key over `"<timestamp>\n<secret>"` |
//! | wecom | POST `{"msgtype": "markdown", "markdown": {"content"}}` to the group robot URL | none (the key is in the URL) |
//! | feishu | POST `{"timestamp", "sign", "msg_type": "text", "content": {"text"}}` | sign = base64 of HMAC-SHA256 with `"<timestamp>\n<secret>"` as key over an empty message (timestamp in seconds) |
//!
//! Every message carries the alert's explanation and a link into the UI, and an acknowledge link
//! signed with the server's key that expires ([`ack_link`], [`verify_ack`]).

use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

/// The language of a recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Zh,
    En,
}

/// What a notification is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AlertNote {
    pub alert: i64,
    /// `first`, `update`, `repeat` or `escalation`.
    pub reason: String,
    pub severity: String,
    pub title: String,
    /// Why it fired, in a few lines (observed vs expected, top sources, samples …).
    pub explanation: Vec<String>,
    pub story: Option<String>,
    pub topic: Option<String>,
    pub unit: Option<String>,
    pub at: DateTime<Utc>,
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Message {
    pub subject: String,
    pub body: String,
}

/// Renders a note for a recipient: subject and plain-text body with the explanation, the link
/// into the UI and the acknowledge link.
pub fn render(note: &AlertNote, lang: Language, ui_link: &str, ack_link: &str) -> Message {
    let (sev, reason) = match lang {
        Language::Zh => (
            match note.severity.as_str() {
                "critical" => "特急",
                "high" => "紧急",
                "medium" => "关注",
                _ => "提示",
            },
            match note.reason.as_str() {
                "first" => "新预警",
                "update" => "预警更新",
                "repeat" => "预警未处理",
                _ => "预警升级",
            },
        ),
        Language::En => (
            match note.severity.as_str() {
                "critical" => "CRITICAL",
                "high" => "HIGH",
                "medium" => "MEDIUM",
                _ => "LOW",
            },
            match note.reason.as_str() {
                "first" => "New alert",
                "update" => "Alert updated",
                "repeat" => "Alert still open",
                _ => "Alert escalated",
            },
        ),
    };
    let subject = format!("[{sev}] {reason} #{}: {}", note.alert, note.title);
    let mut body = String::new();
    body.push_str(&subject);
    body.push_str("\n\n");
    for line in &note.explanation {
        body.push_str("- ");
        body.push_str(line);
        body.push('\n');
    }
    let (scope, open, ack) = match lang {
        Language::Zh => ("范围", "查看", "一键确认（认领此预警）"),
        Language::En => ("Scope", "Open", "Acknowledge (take ownership)"),
    };
    let scope_parts: Vec<String> = [("topic", &note.topic), ("unit", &note.unit), ("story", &note.story)]
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k} {v}")))
        .collect();
    if !scope_parts.is_empty() {
        body.push_str(&format!("\n{scope}: {}\n", scope_parts.join(" · ")));
    }
    body.push_str(&format!("\n{open}: {ui_link}\n{ack}: {ack_link}\n"));
    Message { subject, body }
}

/// A signed, expiring acknowledge link: `{base}/ack/{alert}?who={who}&exp={unix}&sig={hex}`.
pub fn ack_link(base: &str, key: &[u8], alert: i64, who: &str, expires: DateTime<Utc>) -> String {
    let exp = expires.timestamp();
    let sig = hex::encode(hmac(key, ack_payload(alert, who, exp).as_bytes()));
    format!("{}/ack/{alert}?who={}&exp={exp}&sig={sig}", base.trim_end_matches('/'), urlencode(who))
}

fn ack_payload(alert: i64, who: &str, exp: i64) -> String {
    format!("ack\n{alert}\n{who}\n{exp}")
}

/// Checks an acknowledge link's parts: the signature (constant time) and the expiry.
pub fn verify_ack(
    key: &[u8],
    alert: i64,
    who: &str,
    exp: i64,
    sig_hex: &str,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let sig = hex::decode(sig_hex).map_err(|_| "the signature is not hex".to_string())?;
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(ack_payload(alert, who, exp).as_bytes());
    mac.verify_slice(&sig).map_err(|_| "the signature does not match".to_string())?;
    if now.timestamp() >= exp {
        return Err("the link has expired".into());
    }
    Ok(())
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A channel and its settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Channel {
    /// Email over SMTP (sent by the engine).
    Email { to: String },
    /// Generic JSON webhook, HMAC-signed when a secret is set.
    Webhook { url: String, secret: Option<String> },
    /// Slack-compatible incoming webhook.
    Slack { url: String },
    /// DingTalk group robot (加签).
    Dingtalk { url: String, secret: Option<String> },
    /// WeCom (企业微信) group robot.
    Wecom { url: String },
    /// Feishu (飞书) custom bot (签名校验).
    Feishu { url: String, secret: Option<String> },
    /// Kept inside Tidewatch: the person's inbox on the page (their account's notifications).
    /// Delivered as soon as it is queued; nothing leaves the server.
    Inbox,
}

/// An HTTP request to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// The HTTP request for a webhook-style channel at time `now` (`None` for email and the inbox). Built when it
/// is sent: DingTalk and Feishu refuse signatures more than an hour old.
pub fn http_request(channel: &Channel, alert: i64, message: &Message, now: DateTime<Utc>) -> Option<HttpRequest> {
    let json = |v: serde_json::Value| v.to_string();
    let content_type = ("content-type".to_string(), "application/json".to_string());
    match channel {
        Channel::Email { .. } | Channel::Inbox => None,
        Channel::Webhook { url, secret } => {
            let body = json(serde_json::json!({"alert": alert, "subject": message.subject, "text": message.body}));
            let mut headers = vec![content_type];
            if let Some(secret) = secret {
                headers.push((
                    "x-tidewatch-signature".into(),
                    format!("sha256={}", hex::encode(hmac(secret.as_bytes(), body.as_bytes()))),
                ));
            }
            Some(HttpRequest { url: url.clone(), headers, body })
        }
        Channel::Slack { url } => Some(HttpRequest {
            url: url.clone(),
            headers: vec![content_type],
            body: json(serde_json::json!({
                "text": escaped_body(&message.body, escape_slack, |label, url| format!("{label}: <{url}>")),
            })),
        }),
        Channel::Dingtalk { url, secret } => {
            let mut url = url.clone();
            if let Some(secret) = secret {
                let ts = now.timestamp_millis();
                let sign = dingtalk_sign(secret, ts);
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str(&format!("timestamp={ts}&sign={}", urlencode(&sign)));
            }
            let body = json(serde_json::json!({
                "msgtype": "markdown",
                "markdown": {"title": message.subject, "text": markdown(message)},
            }));
            Some(HttpRequest { url, headers: vec![content_type], body })
        }
        Channel::Wecom { url } => Some(HttpRequest {
            url: url.clone(),
            headers: vec![content_type],
            body: json(serde_json::json!({"msgtype": "markdown", "markdown": {"content": markdown(message)}})),
        }),
        Channel::Feishu { url, secret } => {
            let text = escaped_body(&message.body, escape_feishu, |label, url| format!("{label}: {url}"));
            let mut body = serde_json::json!({"msg_type": "text", "content": {"text": text}});
            if let Some(secret) = secret {
                let ts = now.timestamp();
                body["timestamp"] = serde_json::Value::String(ts.to_string());
                body["sign"] = serde_json::Value::String(feishu_sign(secret, ts));
            }
            Some(HttpRequest { url: url.clone(), headers: vec![content_type], body: json(body) })
        }
    }
}

/// A line of ours that ends with a link (`Open: https://…`), split into its label and URL.
fn link_line(line: &str) -> Option<(&str, &str)> {
    let (label, url) = line.rsplit_once(": ")?;
    if (url.starts_with("http://") || url.starts_with("https://")) && !url.contains([' ', '(', ')', '<', '>']) {
        Some((label, url))
    } else {
        None
    }
}

/// Item text inside markdown (DingTalk, WeCom): markdown's punctuation backslash-escaped, and
/// `<` `>` made full-width so that no tag or mention (`<@all>`, `<font>`) can be written by a
/// post's author.
pub fn escape_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '<' => out.push('＜'),
            '>' => out.push('＞'),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '!' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Item text in Slack's mrkdwn: `&`, `<`, `>` escaped as Slack asks, so `<!channel>` or a
/// disguised link cannot be written by a post's author.
pub fn escape_slack(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Item text in a Feishu text message: `<` `>` made full-width (`<at user_id="all">` would
/// mention everyone).
pub fn escape_feishu(s: &str) -> String {
    s.replace('<', "＜").replace('>', "＞")
}

/// The body with its text escaped by `escape` and its link lines written by `link`.
fn escaped_body(body: &str, escape: fn(&str) -> String, link: fn(&str, &str) -> String) -> String {
    body.lines()
        .map(|l| match link_line(l) {
            Some((label, url)) => link(&escape(label), url),
            None => escape(l),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn markdown(m: &Message) -> String {
    let body = escaped_body(&m.body, escape_markdown, |label, url| format!("{label}: [{url}]({url})"));
    let mut lines = body.lines();
    let head = lines.next().unwrap_or_default();
    format!("### {head}\n{}", lines.collect::<Vec<_>>().join("\n"))
}

/// DingTalk's signature: base64(HMAC-SHA256(key = secret, message = "{timestamp}\n{secret}")),
/// timestamp in milliseconds (before URL encoding).
pub fn dingtalk_sign(secret: &str, timestamp_ms: i64) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(hmac(secret.as_bytes(), format!("{timestamp_ms}\n{secret}").as_bytes()))
}

/// Feishu's signature: base64(HMAC-SHA256(key = "{timestamp}\n{secret}", message = "")),
/// timestamp in seconds.
pub fn feishu_sign(secret: &str, timestamp_s: i64) -> String {
    base64::engine::general_purpose::STANDARD.encode(hmac(format!("{timestamp_s}\n{secret}").as_bytes(), b""))
}

#[cfg(test)]
mod tests {

    #[test]
    fn item_text_cannot_write_markup_in_chat_messages() {
        // Regression (issue 12): a post's title went into DingTalk/WeCom markdown, Slack mrkdwn
        // and Feishu text as it was: links, mentions of everyone, formatting.
        let hostile = "[点我](http://evil.example) <@all> <!channel> <at user_id=\"all\"></at> **粗** & co";
        let message = Message {
            subject: format!("[HIGH] New alert #1: {hostile}"),
            body: format!("[HIGH] New alert #1: {hostile}\n\n- {hostile}\n\nOpen: https://tw.example/#/alerts/1\nAcknowledge: https://tw.example/ack/1?who=a&exp=1&sig=ab\n"),
        };
        let now = Utc::now();
        let text_of = |c: Channel| {
            let r = http_request(&c, 1, &message, now).unwrap();
            let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
            v["markdown"]["text"]
                .as_str()
                .or(v["markdown"]["content"].as_str())
                .or(v["text"].as_str())
                .or(v["content"]["text"].as_str())
                .unwrap()
                .to_string()
        };
        for (name, text) in [
            (
                "dingtalk",
                text_of(Channel::Dingtalk { url: "https://oapi.dingtalk.com/robot/send".into(), secret: None }),
            ),
            ("wecom", text_of(Channel::Wecom { url: "https://qyapi.weixin.qq.com/x".into() })),
        ] {
            assert!(!text.contains("[点我](http"), "{name}: {text}");
            assert!(!text.contains("<@all>") && !text.contains("**粗**"), "{name}: {text}");
            assert!(
                text.contains(
                    "[https://tw.example/ack/1?who=a&exp=1&sig=ab](https://tw.example/ack/1?who=a&exp=1&sig=ab)"
                ),
                "{name}: our link stays a link: {text}"
            );
        }
        let slack = text_of(Channel::Slack { url: "https://hooks.slack.com/x".into() });
        assert!(
            !slack.contains("<!channel>") && slack.contains("&lt;!channel&gt;") && slack.contains("&amp; co"),
            "{slack}"
        );
        assert!(slack.contains("<https://tw.example/ack/1?who=a&exp=1&sig=ab>"), "{slack}");
        let feishu = text_of(Channel::Feishu { url: "https://open.feishu.cn/x".into(), secret: None });
        assert!(!feishu.contains("<at "), "{feishu}");
        assert!(feishu.contains("https://tw.example/ack/1?who=a&exp=1&sig=ab"));
    }

    use super::*;
    use chrono::TimeZone;

    fn note() -> AlertNote {
        AlertNote {
            alert: 7,
            reason: "first".into(),
            severity: "high".into(),
            title: "Burst on topic food-safety: 12 items against 1.2 expected".into(),
            explanation: vec![
                "observed 12, expected 1.2, score 8.1".into(),
                "top sources: weibo (7), forum (3)".into(),
            ],
            story: Some("42".into()),
            topic: Some("food-safety".into()),
            unit: Some("后勤".into()),
            at: Utc.with_ymd_and_hms(2026, 11, 26, 4, 0, 0).unwrap(),
        }
    }

    #[test]
    fn messages_in_both_languages_carry_the_explanation_and_links() {
        let zh = render(&note(), Language::Zh, "http://ui/alerts/7", "http://ui/ack/7?x");
        assert!(zh.subject.starts_with("[紧急] 新预警 #7"));
        assert!(
            zh.body.contains("observed 12")
                && zh.body.contains("查看: http://ui/alerts/7")
                && zh.body.contains("http://ui/ack/7?x")
        );
        let en = render(&note(), Language::En, "u", "a");
        assert!(
            en.subject.starts_with("[HIGH] New alert #7")
                && en.body.contains("Scope: topic food-safety · unit 后勤 · story 42")
        );
    }

    #[test]
    fn ack_links_verify_and_expire() {
        let key = b"server key";
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 4, 0, 0).unwrap();
        let link = ack_link("https://tw.example/", key, 7, "赵", now + chrono::Duration::hours(4));
        assert!(link.starts_with("https://tw.example/ack/7?who=%E8%B5%B5&exp="), "{link}");
        let exp: i64 = link.split("exp=").nth(1).unwrap().split('&').next().unwrap().parse().unwrap();
        let sig = link.split("sig=").nth(1).unwrap();
        assert_eq!(verify_ack(key, 7, "赵", exp, sig, now), Ok(()));
        assert!(verify_ack(key, 8, "赵", exp, sig, now).is_err(), "another alert");
        assert!(verify_ack(key, 7, "钱", exp, sig, now).is_err(), "another person");
        assert!(verify_ack(b"other", 7, "赵", exp, sig, now).is_err(), "another key");
        assert!(verify_ack(key, 7, "赵", exp + 1, sig, now).is_err(), "a longer life");
        assert_eq!(
            verify_ack(key, 7, "赵", exp, sig, now + chrono::Duration::hours(5)),
            Err("the link has expired".into())
        );
        assert!(verify_ack(key, 7, "赵", exp, "zz", now).is_err());
    }

    #[test]
    fn signatures_follow_the_platforms_schemes() {
        // DingTalk: HMAC-SHA256(secret, "ts\nsecret"), base64, then URL-encoded in the query.
        let expected = {
            let mut mac = HmacSha256::new_from_slice(b"SECabc").unwrap();
            mac.update(b"1700000000000\nSECabc");
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        };
        assert_eq!(dingtalk_sign("SECabc", 1_700_000_000_000), expected);
        let now = Utc.timestamp_millis_opt(1_700_000_000_000).unwrap();
        let m = render(&note(), Language::Zh, "u", "a");
        let ding = Channel::Dingtalk {
            url: "https://oapi.dingtalk.com/robot/send?access_token=T".into(),
            secret: Some("SECabc".into()),
        };
        let req = http_request(&ding, 7, &m, now).unwrap();
        assert!(req.url.contains("&timestamp=1700000000000&sign="), "{}", req.url);
        assert!(!req.url.contains('+') && !req.url.ends_with('='), "the sign is URL-encoded: {}", req.url);
        let body: serde_json::Value = serde_json::from_str(&req.body).unwrap();
        assert_eq!(body["msgtype"], "markdown");
        // Feishu: key "ts\nsecret", empty message, seconds.
        let fei =
            Channel::Feishu { url: "https://open.feishu.cn/open-apis/bot/v2/hook/x".into(), secret: Some("s3".into()) };
        let body: serde_json::Value = serde_json::from_str(&http_request(&fei, 7, &m, now).unwrap().body).unwrap();
        assert_eq!(body["timestamp"], "1700000000");
        assert_eq!(body["sign"], feishu_sign("s3", 1_700_000_000));
        assert_eq!(body["msg_type"], "text");
        // Generic webhook: HMAC over the exact body.
        let hook = Channel::Webhook { url: "http://127.0.0.1:1/h".into(), secret: Some("k".into()) };
        let req = http_request(&hook, 7, &m, now).unwrap();
        let sig = &req.headers.iter().find(|(h, _)| h == "x-tidewatch-signature").unwrap().1;
        assert_eq!(sig, &format!("sha256={}", hex::encode(hmac(b"k", req.body.as_bytes()))));
        // WeCom and Slack shapes.
        let wecom = http_request(&Channel::Wecom { url: "u".into() }, 7, &m, now).unwrap();
        assert!(serde_json::from_str::<serde_json::Value>(&wecom.body).unwrap()["markdown"]["content"]
            .as_str()
            .unwrap()
            .starts_with("### "));
        let slack = http_request(&Channel::Slack { url: "u".into() }, 7, &m, now).unwrap();
        assert!(serde_json::from_str::<serde_json::Value>(&slack.body).unwrap()["text"]
            .as_str()
            .unwrap()
            .contains("#7"));
        assert!(http_request(&Channel::Email { to: "a@b".into() }, 7, &m, now).is_none());
    }
}
