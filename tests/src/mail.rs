//! A mailer for tests that only need to see what was sent (a test double: the adapter tests
//! use the real `EmlDir` and SES on moto), and reading a sent message back with a MIME parser.

use std::sync::Mutex;

use async_trait::async_trait;
use shared::mail::{MailError, Mailer, OutgoingMail, Sent};

/// Keeps every message handed to it; refuses the addresses it is told to.
#[derive(Default)]
pub struct RecordingMailer {
    sent: Mutex<Vec<OutgoingMail>>,
    refuse: Mutex<Vec<String>>,
}

impl RecordingMailer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every message accepted so far, oldest first.
    pub fn sent(&self) -> Vec<OutgoingMail> {
        self.sent.lock().unwrap().clone()
    }

    /// From now on, a message to `address` is refused as a provider would refuse it.
    pub fn refuse(&self, address: &str) {
        self.refuse.lock().unwrap().push(address.to_string());
    }
}

#[async_trait]
impl Mailer for RecordingMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<Sent, MailError> {
        if self.refuse.lock().unwrap().iter().any(|a| a == mail.to.as_str()) {
            return Err(MailError::Refused("refused by the test".into()));
        }
        let mut sent = self.sent.lock().unwrap();
        sent.push(mail.clone());
        Ok(Sent { provider_id: format!("rec-{}", sent.len()) })
    }
}

/// A message as a mail client sees it, parsed with a standard MIME parser (`mail-parser`).
#[derive(Debug)]
pub struct Parsed {
    pub from_name: Option<String>,
    pub from: Option<String>,
    /// The `Reply-To` address, when there is one.
    pub reply_to: Option<String>,
    pub to: Vec<String>,
    pub subject: Option<String>,
    pub message_id: Option<String>,
    pub content_type: Option<String>,
    /// The decoded `text/plain` parts.
    pub text: Vec<String>,
    /// The decoded `text/html` parts.
    pub html: Vec<String>,
}

/// Parses RFC 5322 bytes; panics when they are not a message.
pub fn parse(raw: &[u8]) -> Parsed {
    use mail_parser::{MessageParser, MimeHeaders, PartType};
    let m = MessageParser::default().parse(raw).expect("a parseable message");
    let from = m.from().and_then(|a| a.first()).cloned();
    let ct = m.content_type().map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or_default()));
    let mut text = Vec::new();
    let mut html = Vec::new();
    for part in m.parts.iter() {
        match &part.body {
            PartType::Text(t) => text.push(t.to_string()),
            PartType::Html(h) => html.push(h.to_string()),
            _ => {}
        }
    }
    Parsed {
        from_name: from.as_ref().and_then(|a| a.name().map(str::to_string)),
        from: from.as_ref().and_then(|a| a.address().map(str::to_string)),
        reply_to: m.reply_to().and_then(|a| a.first()).and_then(|a| a.address().map(str::to_string)),
        to: m.to().map(|a| a.iter().filter_map(|x| x.address().map(str::to_string)).collect()).unwrap_or_default(),
        subject: m.subject().map(str::to_string),
        message_id: m.message_id().map(str::to_string),
        content_type: ct,
        text,
        html,
    }
}
