//! What handlers return, and the headers every response carries.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use serde_json::Value;

/// A handler's successful answer.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Option<Value>,
}

impl Reply {
    pub fn ok(body: Value) -> Self {
        Self {
            status: StatusCode::OK,
            body: Some(body),
        }
    }
    pub fn created(body: Value) -> Self {
        Self {
            status: StatusCode::CREATED,
            body: Some(body),
        }
    }
    pub fn accepted(body: Value) -> Self {
        Self {
            status: StatusCode::ACCEPTED,
            body: Some(body),
        }
    }
    pub fn no_content() -> Self {
        Self {
            status: StatusCode::NO_CONTENT,
            body: None,
        }
    }

    pub fn into_response(self) -> Response<Bytes> {
        let body = self
            .body
            .map(|b| Bytes::from(b.to_string()))
            .unwrap_or_default();
        let mut resp = Response::new(body);
        *resp.status_mut() = self.status;
        resp
    }
}

pub const JSON: &str = "application/json; charset=utf-8";

/// Content type and request id, on every response.
pub fn finish(mut resp: Response<Bytes>, request_id: &str) -> Response<Bytes> {
    let has_body = resp.status() != StatusCode::NO_CONTENT;
    let headers = resp.headers_mut();
    if has_body {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-request-id", v);
    }
    resp
}
