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
    /// A page for people (the shared report, the consent pages).
    Html(String),
    /// A page that may show `https://` images: the partner's logo on the branded report and
    /// previews (nothing else loads; no script runs).
    BrandedHtml(String),
    /// A PDF document (the shared report's `?format=pdf`), served inline as `report.pdf`.
    Pdf(Vec<u8>),
    Empty,
    /// 303 See Other to this URL, no body (the questionnaire form after a post).
    SeeOther(String),
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

    /// A branded page (200): as [`Reply::html`], and `https://` images may load (the logo).
    pub fn branded_html(page: String) -> Self {
        Self { status: StatusCode::OK, body: Body::BrandedHtml(page) }
    }

    /// A branded page with another status (a refused questionnaire link is a 400).
    pub fn branded_html_with(status: StatusCode, page: String) -> Self {
        Self { status, body: Body::BrandedHtml(page) }
    }

    /// 303 See Other to `location`: where a browser goes after a form post (post/redirect/get).
    pub fn see_other(location: String) -> Self {
        Self { status: StatusCode::SEE_OTHER, body: Body::SeeOther(location) }
    }

    /// A PDF document (200).
    pub fn pdf(document: Vec<u8>) -> Self {
        Self { status: StatusCode::OK, body: Body::Pdf(document) }
    }

    pub fn into_response(self) -> Response<Bytes> {
        if let Body::SeeOther(location) = &self.body {
            let mut resp = Response::new(Bytes::new());
            *resp.status_mut() = self.status;
            if let Ok(v) = HeaderValue::from_str(location) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            resp.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
            // Not the router's JSON default: there is no body to read.
            resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(HTML));
            return resp;
        }
        if let Body::Pdf(document) = self.body {
            let mut resp = Response::new(Bytes::from(document));
            *resp.status_mut() = self.status;
            let h = resp.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(PDF));
            // The portal offers it as a download named report.pdf; a browser may still show it.
            h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("inline; filename=\"report.pdf\""));
            h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
            return resp;
        }
        let (bytes, csp) = match self.body {
            Body::Json(v) => (Bytes::from(v.to_string()), None),
            Body::Html(page) => (Bytes::from(page), Some(PAGE_CSP)),
            Body::BrandedHtml(page) => (Bytes::from(page), Some(BRANDED_PAGE_CSP)),
            Body::Empty | Body::SeeOther(_) => (Bytes::new(), None),
            Body::Pdf(_) => unreachable!("answered above"),
        };
        let mut resp = Response::new(bytes);
        *resp.status_mut() = self.status;
        if let Some(csp) = csp {
            let h = resp.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(HTML));
            // A page is a document: nothing may run in it, load into it, or frame it.
            h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
            h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        }
        resp
    }
}

/// The content type of every JSON answer (the router's default).
pub const JSON: &str = "application/json; charset=utf-8";
pub const HTML: &str = "text/html; charset=utf-8";
/// The content type of a PDF answer.
pub const PDF: &str = "application/pdf";

/// Every page's Content-Security-Policy: no script, no resource, no framing.
const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";
/// A branded page's: the same, and `https://` images (the partner's logo).
const BRANDED_PAGE_CSP: &str = "default-src 'none'; img-src https:; style-src 'unsafe-inline'; frame-ancestors 'none'";
