//! The one set of templates every page and message renders from (`shared/templates/`, compiled
//! into the binary): the printable report and every kind of mail, all on the partner's brand. Templates named `*.html` are auto-escaped
//! (minijinja picks the escaping by the name); `*.txt` and `*.css` are not.
//!
//! Escaping is this module's, not minijinja's default: `&`, `<`, `>`, `"` and `'` become
//! `&amp;`, `&lt;`, `&gt;`, `&quot;` and `&#39;`, exactly what the report's hand-built HTML
//! wrote before it was a template (minijinja's own escaper also writes `/` as `&#x2f;`, which a
//! page does not need and which would change every report's bytes).

use std::sync::LazyLock;

use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, Error, Output, State};

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_formatter(format_value);
    for (name, source) in [
        ("report/report.html", include_str!("../templates/report/report.html")),
        ("report/report.css", include_str!("../templates/report/report.css")),
        ("report/_exception.html", include_str!("../templates/report/_exception.html")),
        ("mail/layout.html", include_str!("../templates/mail/layout.html")),
        ("mail/footer.txt", include_str!("../templates/mail/footer.txt")),
        ("mail/consent-request.html", include_str!("../templates/mail/consent-request.html")),
        ("mail/consent-request.txt", include_str!("../templates/mail/consent-request.txt")),
        ("mail/report-ready.html", include_str!("../templates/mail/report-ready.html")),
        ("mail/report-ready.txt", include_str!("../templates/mail/report-ready.txt")),
        ("mail/notice.html", include_str!("../templates/mail/notice.html")),
        ("mail/notice.txt", include_str!("../templates/mail/notice.txt")),
        ("mail/questionnaire-invitation.html", include_str!("../templates/mail/questionnaire-invitation.html")),
        ("mail/questionnaire-invitation.txt", include_str!("../templates/mail/questionnaire-invitation.txt")),
        ("questionnaire/layout.html", include_str!("../templates/questionnaire/layout.html")),
        ("questionnaire/form.html", include_str!("../templates/questionnaire/form.html")),
        ("questionnaire/done.html", include_str!("../templates/questionnaire/done.html")),
        ("questionnaire/refused.html", include_str!("../templates/questionnaire/refused.html")),
        ("report/_answer.html", include_str!("../templates/report/_answer.html")),
    ] {
        env.add_template(name, source).unwrap_or_else(|e| panic!("{name} is a valid template: {e}"));
    }
    env
});

/// Renders the template `name` with `ctx`.
///
/// Panics when `name` is not one of the compiled templates or the context misses what the
/// template needs: both are this crate's mistakes, which the tests render every template to
/// catch, never a user's.
pub fn render(name: &str, ctx: Value) -> String {
    TEMPLATES
        .get_template(name)
        .and_then(|t| t.render(ctx))
        .unwrap_or_else(|e| panic!("template {name} renders its context: {e:#}"))
}

/// Writes `value`, HTML-escaped in an `.html` template unless marked safe.
fn format_value(out: &mut Output, state: &State, value: &Value) -> Result<(), Error> {
    if state.auto_escape() != AutoEscape::Html || value.is_safe() {
        return minijinja::escape_formatter(out, state, value);
    }
    let text = match value.as_str() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(value.to_string()),
    };
    out.write_str(&escape_html(&text)).map_err(Error::from)
}

/// `s` with the five HTML-special characters replaced by their entities.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
