//! The questionnaire's pages (contract, "Questionnaire"): the form, the thank-you page and the
//! page for a link that opens nothing, rendered from `shared/templates/questionnaire/` through
//! the one template set (`crate::templates`: every value escaped), on the partner's brand as its
//! emails are. No script: the form is a plain HTML form (one fieldset and legend per question,
//! a label per control), grouped by strategy in ASD's order, each group in level order.

use serde::Serialize;

use crate::assess::checks::Strategy;
use crate::domain::questionnaire::AnsweredBy;
use crate::templates;
use crate::usecases::questionnaire::{Form, LinkError};

/// The answers the form offers, in the order shown.
const OPTIONS: [(&str, &str); 5] = [
    ("yes", "Yes"),
    ("partly", "Partly"),
    ("no", "No"),
    ("not_applicable", "Not applicable"),
    ("unknown", "Don't know"),
];

/// A group's heading: ASD's name of the strategy (the report's names), or the shared logging
/// items.
fn group_name(slug: &str) -> &str {
    match slug {
        "shared" => "Logging and incident response (several strategies)",
        other => crate::report_view::strategy_name(other),
    }
}

#[derive(Serialize)]
struct QuestionView<'a> {
    id: &'a str,
    level: u8,
    prompt: &'a str,
    help: &'a str,
    answer: Option<&'static str>,
    note: Option<&'a str>,
    /// `you`, `your provider` or another recipient's address, with the date; none unanswered.
    answered: Option<String>,
    expired: bool,
}

#[derive(Serialize)]
struct GroupView<'a> {
    name: &'a str,
    slug: &'a str,
    questions: Vec<QuestionView<'a>>,
}

fn groups<'a>(form: &'a Form, now: crate::domain::time::Timestamp) -> Vec<GroupView<'a>> {
    let list = crate::domain::questionnaire::questions_of(&form.link.product).unwrap_or(&[]);
    let order: Vec<&str> = Strategy::ALL.iter().map(|s| s.as_str()).chain(std::iter::once("shared")).collect();
    let mut slugs: Vec<&str> = list.iter().map(|q| q.group.as_str()).collect();
    slugs.sort_by_key(|g| order.iter().position(|o| o == g).unwrap_or(order.len()));
    slugs.dedup();
    slugs
        .into_iter()
        .map(|slug| {
            let mut questions: Vec<_> = list.iter().filter(|q| q.group == slug).collect();
            questions.sort_by_key(|q| q.level);
            GroupView {
                name: group_name(slug),
                slug,
                questions: questions
                    .into_iter()
                    .map(|q| {
                        let stored = form.answers.answers.iter().find(|a| a.question_id == q.id);
                        QuestionView {
                            id: &q.id,
                            level: q.level,
                            prompt: &q.prompt,
                            help: &q.help,
                            answer: stored.map(|a| a.answer.as_str()),
                            note: stored.and_then(|a| a.note.as_deref()),
                            answered: stored.map(|a| {
                                let who = match &a.answered_by {
                                    AnsweredBy::Customer { email } if *email == form.link.recipient => {
                                        "you".to_string()
                                    }
                                    AnsweredBy::Customer { email } => email.clone(),
                                    AnsweredBy::Partner => "your provider".to_string(),
                                };
                                format!("Answered by {who} on {}", &a.answered_at.rfc3339()[..10])
                            }),
                            expired: stored.is_some_and(|a| !a.counts_at(now)),
                        }
                    })
                    .collect(),
            }
        })
        .collect()
}

/// The form as of `now`. `saved`: the page after a save; `error`: why the last post was refused.
pub fn form(
    form: &Form,
    action: &str,
    saved: bool,
    error: Option<&str>,
    now: crate::domain::time::Timestamp,
) -> String {
    let ctx = minijinja::context! {
        brand => &form.brand,
        title => format!("Security questionnaire for {}", form.customer.name),
        customer => &form.customer.name,
        recipient => &form.link.recipient,
        action,
        saved,
        error,
        answered => form.answers.answered,
        total => form.answers.total,
        expires => &form.link.expires_at.rfc3339()[..10],
        groups => groups(form, now),
        options => OPTIONS.iter().map(|(value, label)| minijinja::context! { value, label }).collect::<Vec<_>>(),
    };
    templates::render("questionnaire/form.html", ctx)
}

/// The thank-you page after a submit.
pub fn done(form: &Form) -> String {
    let ctx = minijinja::context! {
        brand => &form.brand,
        title => "Thank you",
        customer => &form.customer.name,
        answered => form.answers.answered,
        total => form.answers.total,
    };
    templates::render("questionnaire/done.html", ctx)
}

/// The page for a link that opens nothing (400), on baref00t's own look: a tampered link
/// names no partner whose brand could be trusted.
pub fn refused(why: LinkError) -> String {
    let brand = crate::usecases::mail::account_brand(None);
    let ctx = minijinja::context! {
        brand,
        title => "Questionnaire link not accepted",
        reason => why.to_string(),
        expired => why == LinkError::Expired,
    };
    templates::render("questionnaire/refused.html", ctx)
}
