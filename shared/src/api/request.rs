//! Reading requests: path parameters, query strings and strict JSON bodies whose errors name
//! the field at fault.

use serde_json::{Map, Value};

use super::error::ApiError;
use super::routes::PathParams;
use crate::domain::email::Email;
use crate::domain::tenant::TenantId;
use crate::domain::validate::{EMAIL_LIST_MAX, NAME_MAX};

/// Query parameters; a parameter given twice is refused rather than guessed at.
#[derive(Clone, Debug, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            if pairs.iter().any(|(seen, _)| *seen == k) {
                return Err(ApiError::InvalidField(format!("Query parameter {k} is given more than once.")));
            }
            pairs.push((k.into_owned(), v.into_owned()));
        }
        Ok(Self(pairs))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// A parameter that names one of our ids, checked as [`check_id`] does (400 `INVALID_FIELD`).
    pub fn id(&self, name: &str) -> Result<Option<&str>, ApiError> {
        self.get(name).map(|v| check_id(name, v).map(|()| v)).transpose()
    }

    /// `limit`: 1–100, default 100.
    pub fn limit(&self) -> Result<usize, ApiError> {
        match self.get("limit") {
            None => Ok(100),
            Some(v) => v.parse::<usize>().ok().filter(|n| (1..=100).contains(n)).ok_or_else(|| {
                ApiError::InvalidField(format!("limit must be a whole number from 1 to 100, got {v:?}."))
            }),
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A JSON object read field by field; `finish` refuses any field that was not read.
pub struct Fields {
    map: Map<String, Value>,
    taken: Vec<String>,
    /// Where this object sits, for messages: "" at the top, "billing." or "customers[3]." below.
    path: String,
}

impl Fields {
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::InvalidJson("The request body is empty; send a JSON object.".into()));
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::InvalidJson(format!("The request body is not valid JSON: {e}.")))?;
        Self::from_value(value, "")
    }

    pub fn from_value(value: Value, path: &str) -> Result<Self, ApiError> {
        match value {
            Value::Object(map) => Ok(Self { map, taken: Vec::new(), path: path.to_string() }),
            other => Err(ApiError::InvalidJson(if path.is_empty() {
                format!("The request body must be a JSON object, not {}.", type_name(&other))
            } else {
                format!("{} must be an object, not {}.", path.trim_end_matches('.'), type_name(&other))
            })),
        }
    }

    pub fn name(&self, field: &str) -> String {
        format!("{}{field}", self.path)
    }

    fn take(&mut self, field: &str) -> Option<Value> {
        self.taken.push(field.to_string());
        self.map.get(field).cloned().filter(|v| !v.is_null())
    }

    /// Whether the field is present (even as null).
    pub fn has(&self, field: &str) -> bool {
        self.map.contains_key(field)
    }

    /// Whether the field is present and null.
    pub fn is_null(&self, field: &str) -> bool {
        self.map.get(field).is_some_and(Value::is_null)
    }

    fn wrong_type(&self, field: &str, expected: &str, got: &Value) -> ApiError {
        ApiError::InvalidJson(format!("{} must be {expected}, not {}.", self.name(field), type_name(got)))
    }

    fn missing(&self, field: &str) -> ApiError {
        ApiError::MissingField(format!("{} is required.", self.name(field)))
    }

    pub fn opt_str(&mut self, field: &str) -> Result<Option<String>, ApiError> {
        match self.take(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.wrong_type(field, "a string", &other)),
        }
    }

    pub fn req_str(&mut self, field: &str) -> Result<String, ApiError> {
        self.opt_str(field)?.ok_or_else(|| self.missing(field))
    }

    pub fn opt_bool(&mut self, field: &str) -> Result<Option<bool>, ApiError> {
        match self.take(field) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(other) => Err(self.wrong_type(field, "a boolean", &other)),
        }
    }

    /// A whole number; a fraction or a negative is out of range, not a type error.
    pub fn opt_uint(&mut self, field: &str) -> Result<Option<u64>, ApiError> {
        match self.take(field) {
            None => Ok(None),
            Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(|| {
                ApiError::InvalidField(format!("{} must be a whole number, got {n}.", self.name(field)))
            }),
            Some(other) => Err(self.wrong_type(field, "a number", &other)),
        }
    }

    /// A whole number, also as a string of digits (surrounding white space ignored): for
    /// the fields clients fill from a form (the partner portal sends `maturityTarget` so).
    /// Anything else in a string is out of range (`INVALID_FIELD`), not a type error.
    pub fn opt_uint_or_digits(&mut self, field: &str) -> Result<Option<u64>, ApiError> {
        match self.map.get(field) {
            Some(Value::String(s)) => {
                let s = s.clone();
                self.taken.push(field.to_string());
                let digits = s.trim();
                let n = digits.parse::<u64>().ok().filter(|_| digits.bytes().all(|b| b.is_ascii_digit()));
                n.map(Some).ok_or_else(|| {
                    ApiError::InvalidField(format!("{} must be a whole number, got {s:?}.", self.name(field)))
                })
            }
            _ => self.opt_uint(field),
        }
    }

    pub fn opt_array(&mut self, field: &str) -> Result<Option<Vec<Value>>, ApiError> {
        match self.take(field) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(other) => Err(self.wrong_type(field, "an array", &other)),
        }
    }

    pub fn req_array(&mut self, field: &str) -> Result<Vec<Value>, ApiError> {
        self.opt_array(field)?.ok_or_else(|| self.missing(field))
    }

    pub fn opt_object(&mut self, field: &str) -> Result<Option<Fields>, ApiError> {
        let path = format!("{}.", self.name(field));
        self.take(field).map(|v| Fields::from_value(v, &path)).transpose()
    }

    pub fn req_object(&mut self, field: &str) -> Result<Fields, ApiError> {
        self.opt_object(field)?.ok_or_else(|| self.missing(field))
    }

    /// A list of strings.
    pub fn opt_str_list(&mut self, field: &str) -> Result<Option<Vec<String>>, ApiError> {
        let Some(items) = self.opt_array(field)? else {
            return Ok(None);
        };
        items
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s),
                other => Err(ApiError::InvalidJson(format!(
                    "{}[{i}] must be a string, not {}.",
                    self.name(field),
                    type_name(&other)
                ))),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// Refuses fields that no reader asked for.
    /// Every member of the object, in order, taking them all (for an object keyed by ids, such
    /// as the questionnaire's `answers`).
    pub fn into_entries(self) -> Vec<(String, Value)> {
        self.map.into_iter().collect()
    }

    pub fn finish(self) -> Result<(), ApiError> {
        let mut unknown: Vec<&String> = self.map.keys().filter(|k| !self.taken.contains(k)).collect();
        unknown.sort();
        match unknown.first() {
            None => Ok(()),
            Some(k) => Err(ApiError::InvalidField(format!("{}{k} is not a known field.", self.path))),
        }
    }

    // Field rules shared by several routes.

    pub fn display_name(&self, field: &str, value: String) -> Result<String, ApiError> {
        let trimmed = value.trim();
        if trimmed.is_empty() || trimmed.chars().count() > NAME_MAX {
            return Err(ApiError::InvalidField(format!("{} must be 1 to {NAME_MAX} characters.", self.name(field))));
        }
        Ok(trimmed.to_string())
    }

    /// An email address, trimmed, in the case it was sent.
    pub fn email(&self, field: &str, value: String) -> Result<Email, ApiError> {
        let v = value.trim();
        Email::parse(v)
            .map_err(|_| ApiError::InvalidField(format!("{} is not a valid email address: {v:?}.", self.name(field))))
    }

    /// Email addresses, each as [`Fields::email`] reads it, without repeats (ASCII case ignored).
    pub fn email_list(&self, field: &str, values: Vec<String>) -> Result<Vec<Email>, ApiError> {
        if values.len() > EMAIL_LIST_MAX {
            return Err(ApiError::InvalidField(format!(
                "{} may hold at most {EMAIL_LIST_MAX} addresses.",
                self.name(field)
            )));
        }
        let mut out: Vec<Email> = Vec::with_capacity(values.len());
        for (i, v) in values.into_iter().enumerate() {
            let v = self.email(&format!("{field}[{i}]"), v)?;
            if !out.iter().any(|seen| seen.eq_ignore_ascii_case(&v)) {
                out.push(v);
            }
        }
        Ok(out)
    }

    pub fn guid(&self, field: &str, value: String) -> Result<TenantId, ApiError> {
        TenantId::parse(value.trim()).map_err(|_| {
            ApiError::InvalidField(format!(
                "{} must be a GUID like d4f5a678-1234-5678-9abc-def012345678, got {value:?}.",
                self.name(field)
            ))
        })
    }

    /// One of `allowed`, compared case-insensitively; returns the allowed spelling.
    /// A field that names one of our ids, checked as [`check_id`] does.
    pub fn id(&self, field: &str, value: String) -> Result<String, ApiError> {
        check_id(&self.name(field), &value).map(|()| value)
    }

    pub fn one_of(&self, field: &str, value: &str, allowed: &[&str]) -> Result<String, ApiError> {
        allowed.iter().find(|a| a.eq_ignore_ascii_case(value.trim())).map(|a| a.to_string()).ok_or_else(|| {
            ApiError::InvalidField(format!(
                "{} must be one of {}, got {value:?}.",
                self.name(field),
                allowed.join(", ")
            ))
        })
    }
}

/// The path parameters that name one of our ids (`{id}`, `{runId}`, `{deliveryId}`, `{customerId}`,
/// `{exceptionId}`).
const ID_PARAMS: &[&str] = &["id", "runId", "deliveryId", "customerId", "exceptionId"];
/// Longer than any id this service makes (a prefix and at most 20 base62 characters), far
/// below DynamoDB's key limits.
const ID_MAX: usize = 64;

/// Refuses an id parameter that cannot be one of ours before any store call sees it: at most
/// 64 ASCII letters, digits and `_` (`INVALID_FIELD`). A well-formed id that names nothing, or
/// something of another account, is still the handler's 404.
pub fn check_id_params(params: &PathParams) -> Result<(), ApiError> {
    for (name, value) in params.iter().filter(|(n, _)| ID_PARAMS.contains(n)) {
        check_id(name, value)?;
    }
    Ok(())
}

/// The rule of [`check_id_params`] for one value named `name` (a path parameter, a query
/// parameter or a body field such as `customerIds[2]`): 400 `INVALID_FIELD` whose message shows
/// at most 64 characters of the value.
pub fn check_id(name: &str, value: &str) -> Result<(), ApiError> {
    if value.len() <= ID_MAX && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Ok(());
    }
    Err(ApiError::InvalidField(format!(
        "{name} is not an id (at most {ID_MAX} letters, digits and _): {}.",
        shown(value)
    )))
}

/// A value as shown in a message or a bulk item: quoted, and cut at 64 characters with `…`.
pub fn shown(value: &str) -> String {
    let cut: String = value.chars().take(ID_MAX).collect();
    let more = if value.chars().count() > ID_MAX { "…" } else { "" };
    format!("{cut:?}{more}")
}

/// At most 64 characters of a value a client sent, for echoing it back in a bulk item.
pub fn clipped(value: &str) -> String {
    value.chars().take(ID_MAX).collect()
}
