//! What handlers return.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use serde_json::Value;

/// A handler's successful answer.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Body,
}

#[derive(Debug)]
pub enum Body {
    Json(Value),
    /// A page for people (the shared report).
    Html(String),
    Empty,
}

impl Reply {
    pub fn ok(body: Value) -> Self {
        Self { status: StatusCode::OK, body: Body::Json(body) }
    }
    pub fn created(body: Value) -> Self {
        Self { status: StatusCode::CREATED, body: Body::Json(body) }
    }
    pub fn accepted(body: Value) -> Self {
        Self { status: StatusCode::ACCEPTED, body: Body::Json(body) }
    }
    pub fn no_content() -> Self {
        Self { status: StatusCode::NO_CONTENT, body: Body::Empty }
    }
    pub fn html(page: String) -> Self {
        Self::html_with(StatusCode::OK, page)
    }
    /// A page for people with another status (a consent callback that was refused is a 400).
    pub fn html_with(status: StatusCode, page: String) -> Self {
        Self { status, body: Body::Html(page) }
    }

    pub fn into_response(self) -> Response<Bytes> {
        let (bytes, html) = match self.body {
            Body::Json(v) => (Bytes::from(v.to_string()), false),
            Body::Html(page) => (Bytes::from(page), true),
            Body::Empty => (Bytes::new(), false),
        };
        let mut resp = Response::new(bytes);
        *resp.status_mut() = self.status;
        if html {
            let h = resp.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(HTML));
            // The report is a document: nothing may run in it, load into it (but the partner's
            // logo, an https:// image from its branding), or frame it.
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; img-src https:; style-src 'unsafe-inline'; frame-ancestors 'none'",
                ),
            );
            h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        }
        resp
    }
}

/// The content type of every JSON answer (the router's default).
pub const JSON: &str = "application/json; charset=utf-8";
pub const HTML: &str = "text/html; charset=utf-8";
