//! Pages for people that are not the report: the consent callback's answers (and the dev
//! server's consent stand-in). Templates live in `shared/templates/`, compiled into the binary;
//! minijinja escapes every value in them (auto-escaping by the `.html` name), so a customer
//! name or an error text from the query cannot inject markup. Each page is self-contained (no
//! script, no external asset) and is served with the report page's security headers
//! (`api::response::Reply::html`).

use std::sync::LazyLock;

use minijinja::Environment;
use serde::Serialize;

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.add_template("message.html", include_str!("../templates/message.html"))
        .expect("message.html is a valid template");
    env
});

/// How a message page looks: a success, a refusal or failure, or a neutral note.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tone {
    Ok,
    No,
    Info,
}

/// A short page: a heading, paragraphs of plain text, and a closing line.
#[derive(Clone, Debug, Serialize)]
pub struct Message<'a> {
    pub title: &'a str,
    pub heading: &'a str,
    pub paragraphs: Vec<String>,
    pub footer: &'a str,
    pub tone: Tone,
}

/// The page's HTML.
pub fn message(m: &Message<'_>) -> String {
    TEMPLATES
        .get_template("message.html")
        .and_then(|t| t.render(m))
        .expect("message.html renders any Message (its values are plain strings)")
}
