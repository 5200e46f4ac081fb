//! Sending notifications from the outbox: email over SMTP (STARTTLS or implicit TLS) and HTTP
//! posts for the webhook channels (requests built and signed at send time, see
//! `tidewatch_workflow::notify`). A send either succeeds or returns why it failed; the outbox
//! records the attempt (`alerting::deliver`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use tidewatch_store::Notification;
use tidewatch_workflow::notify::{self, Channel};

use crate::alerting::Smtp;
use crate::EngineError;

/// Sends notifications.
pub struct Notifier {
    http: reqwest::blocking::Client,
    smtp: Option<(SmtpTransport, Mailbox)>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").field("smtp", &self.smtp.is_some()).finish()
    }
}

impl Notifier {
    /// A notifier for the given SMTP settings (email channels fail without them).
    pub fn new(smtp: Option<&Smtp>) -> Result<Notifier, EngineError> {
        let http = reqwest::blocking::Client::builder()
            .user_agent(concat!("Tidewatch/", env!("CARGO_PKG_VERSION"), " (notifications)"))
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| EngineError::Config(format!("HTTP client: {e}")))?;
        let smtp = match smtp {
            None => None,
            Some(s) => Some(smtp_transport(s)?),
        };
        Ok(Notifier { http, smtp })
    }

    /// Sends one notification now.
    pub fn send(&self, n: &Notification, now: DateTime<Utc>) -> Result<(), String> {
        let channel: Channel = serde_json::from_str(&n.channel).map_err(|e| format!("unreadable channel: {e}"))?;
        let message = notify::Message { subject: n.subject.clone(), body: n.body.clone() };
        if channel == Channel::Inbox {
            // The outbox row is the message: the page shows it in the recipient's inbox.
            return Ok(());
        }
        if let Channel::Email { to } = &channel {
            let (transport, from) = self.smtp.as_ref().ok_or("no SMTP server is configured")?;
            let to: Mailbox = to.parse().map_err(|e| format!("recipient {to:?}: {e}"))?;
            let email = Message::builder()
                .from(from.clone())
                .to(to)
                .subject(&message.subject)
                .header(ContentType::TEXT_PLAIN)
                .body(message.body.clone())
                .map_err(|e| format!("message: {e}"))?;
            transport.send(&email).map_err(|e| format!("SMTP: {e}"))?;
            return Ok(());
        }
        let req = notify::http_request(&channel, n.alert, &message, now).ok_or("not an HTTP channel")?;
        let mut builder = self.http.post(&req.url).body(req.body.clone());
        for (k, v) in &req.headers {
            builder = builder.header(k, v);
        }
        let resp = builder.send().map_err(|e| format!("POST {}: {e}", redact(&req.url)))?;
        let status = resp.status();
        let text = resp.text().unwrap_or_default();
        if !status.is_success() {
            return Err(format!(
                "POST {}: HTTP {status}: {}",
                redact(&req.url),
                text.chars().take(200).collect::<String>()
            ));
        }
        // DingTalk, WeCom and Feishu answer 200 with an error code in the body.
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
            let code = v.get("errcode").or_else(|| v.get("code")).and_then(|c| c.as_i64()).unwrap_or(0);
            if code != 0 {
                let msg = v.get("errmsg").or_else(|| v.get("msg")).and_then(|m| m.as_str()).unwrap_or("");
                return Err(format!("POST {}: the platform refused it: {code} {msg}", redact(&req.url)));
            }
        }
        Ok(())
    }
}

/// A URL without its query (tokens and signatures live there).
fn redact(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

fn smtp_transport(s: &Smtp) -> Result<(SmtpTransport, Mailbox), EngineError> {
    let err = |what: &str, e: &dyn std::fmt::Display| EngineError::Config(format!("smtp {what}: {e}"));
    let from: Mailbox = s.from.parse().map_err(|e| err("from", &e))?;
    let mut tls = TlsParameters::builder(s.host.clone());
    if let Some(ca) = &s.ca_file {
        let pem = std::fs::read(ca).map_err(|e| err("ca_file", &e))?;
        tls = tls.add_root_certificate(Certificate::from_pem(&pem).map_err(|e| err("ca_file", &e))?);
    }
    let tls = tls.build().map_err(|e| err("tls", &e))?;
    let mode = match s.tls.as_str() {
        "starttls" => Tls::Required(tls),
        "implicit" => Tls::Wrapper(tls),
        "none" => Tls::None,
        other => return Err(EngineError::Config(format!("smtp tls: {other:?} is not starttls, implicit or none"))),
    };
    let mut b = SmtpTransport::builder_dangerous(&s.host).port(s.port).tls(mode).timeout(Some(Duration::from_secs(10)));
    if let (Some(u), Some(p)) = (&s.username, &s.password) {
        b = b.credentials(Credentials::new(u.clone(), p.clone()));
    }
    Ok((b.build(), from))
}
