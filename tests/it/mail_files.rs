//! Every `.eml` file the dev server's mail adapter writes is read back by a second, independent
//! MIME parser: Python's standard `email` package (python3 is required by `scripts/test`).

use std::path::Path;
use std::sync::Arc;

use http::Method;
use serde_json::{json, Value};
use shared::config::Config;
use shared::mail::eml_dir::EmlDir;
use tests::{customer_body, tenant, Harness};

/// Parses each `.eml` in `dir` with `email.message_from_bytes(policy=default)` and answers, per
/// file, the headers and decoded parts a mail client would show, and the parser's defects.
const READER: &str = r#"
import email, email.policy, json, pathlib, sys
out = []
for p in sorted(pathlib.Path(sys.argv[1]).glob("*.eml")):
    m = email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
    parts = {}
    for part in m.walk():
        if part.get_content_maintype() == "text":
            parts[part.get_content_type()] = part.get_content()
    out.append({
        "fromName": m["From"].addresses[0].display_name, "from": m["From"].addresses[0].addr_spec,
        "to": m["To"].addresses[0].addr_spec,
        "replyTo": m["Reply-To"] and m["Reply-To"].addresses[0].addr_spec,
        "subject": str(m["Subject"]), "messageId": str(m["Message-ID"]), "date": str(m["Date"]),
        "type": m.get_content_type(), "parts": parts,
        "defects": [type(d).__name__ for part in m.walk() for d in part.defects],
    })
print(json.dumps(out))
"#;

fn squeeze(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn python_reads(dir: &Path) -> Vec<Value> {
    let out = std::process::Command::new("python3").arg("-c").arg(READER).arg(dir).output().expect("python3 runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice::<Value>(&out.stdout).unwrap().as_array().unwrap().clone()
}

#[tokio::test]
async fn every_eml_the_dev_server_writes_is_read_whole_by_pythons_email_package() {
    let dir = std::env::temp_dir().join(format!("baref00t-eml-{}", shared::domain::ids::random_base62(10)));
    let h = Harness::with_mailer(Config::default(), Arc::new(EmlDir::new(&dir))).await;
    let hostile = "Zürich <script>alert('x')</script> & \"Co\" \u{202e}fdp.exe\u{202c}";
    let branding = json!({ "company": hostile, "brandColor": "#0a7cff", "contactEmail": "help@msp.example",
                           "footerText": "Line one\nLine \u{05d0}\u{05d1} two" });
    h.partner(Method::PUT, "/branding", Some(branding)).await.assert_status(200);
    let mut sent = Vec::new();
    for (n, name) in [(1, hostile), (2, "Ünïcödé GmbH"), (3, "Plain Ltd")] {
        let mut body = customer_body(name, &tenant(n));
        body["email"] = json!(format!("it{n}@customer.example"));
        let id = h.partner(Method::POST, "/customers", Some(body)).await.assert_status(201)["id"].clone();
        let path = format!("/customers/{}/consent/email", id.as_str().unwrap());
        let r = h.partner(Method::POST, &path, Some(json!({ "product": "essential-eight" }))).await;
        assert_eq!(r.assert_status(200)["sent"], 1);
        sent.push((name, format!("it{n}@customer.example"), r.body["consentUrl"].as_str().unwrap().to_string()));
    }
    h.deliver_mail().await;
    let read = python_reads(&dir);
    assert_eq!(read.len(), sent.len(), "one file per message");
    for m in &read {
        let to = m["to"].as_str().unwrap();
        let (name, _, url) = sent.iter().find(|(_, addr, _)| addr == to).expect("a recipient we sent to");
        assert_eq!(m["defects"], json!([]), "no MIME defects: {m}");
        assert_eq!(m["type"], "multipart/alternative");
        // Python keeps the folding white space between two adjacent encoded words of a display
        // name, which RFC 2047 (6.2) says to drop; mail-parser reads it exactly
        // (consent_mail::non_ascii_names_are_encoded_and_read_back_whole). Compared with runs
        // of white space as one.
        assert_eq!(
            squeeze(m["fromName"].as_str().unwrap()),
            squeeze(hostile),
            "the display name is the brand's company"
        );
        assert_eq!(m["from"], shared::config::DEFAULT_MAIL_FROM);
        assert_eq!(m["replyTo"], "help@msp.example");
        assert!(squeeze(m["subject"].as_str().unwrap()).starts_with(&squeeze(hostile)), "{}", m["subject"]);
        assert!(m["messageId"].as_str().unwrap().ends_with("@baref00t.localhost>"), "{}", m["messageId"]);
        assert!(!m["date"].as_str().unwrap().is_empty());
        let text = m["parts"]["text/plain"].as_str().unwrap();
        let html = m["parts"]["text/html"].as_str().unwrap();
        assert!(text.contains(*name) && text.contains(url.as_str()), "{text}");
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains(&shared::templates::escape_html(name)), "the name escaped in HTML");
        assert!(html.contains("Line \u{05d0}\u{05d1} two"), "right-to-left text kept");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
