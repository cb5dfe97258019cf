//! The API's error type and the one place it becomes the HTTP error envelope.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};

use crate::auth::AuthError;
use crate::billing::BillingError;
use crate::domain::account::Surface;
use crate::store::StoreError;
use crate::usecases::UseCaseError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    #[error("payload too large")]
    PayloadTooLarge { limit: usize },
    #[error("missing key")]
    MissingKey(Surface),
    #[error("invalid key")]
    InvalidKey(Surface),
    #[error("inactive account")]
    Inactive(Surface),
    #[error("rate limited")]
    RateLimited { retry_after: i64 },
    #[error("{0}")]
    InvalidJson(String),
    #[error("{0}")]
    MissingField(String),
    #[error("{0}")]
    InvalidField(String),
    #[error("{0}")]
    InvalidProduct(String),
    #[error("{0}")]
    ProductNotAllowed(String),
    #[error("{0}")]
    RunLimitReached(String),
    #[error("max keys")]
    MaxKeys,
    #[error("last key")]
    LastKey,
    #[error("{0}")]
    CustomerExists(String),
    #[error("{0}")]
    PartnerExists(String),
    #[error("{0}")]
    TooMany(String),
    #[error("{0}")]
    PlanChangeFailed(String),
    #[error("{0}")]
    PartnerInactive(String),
    /// A trigger while the partner's subscription is `unpaid` or `canceled` (403).
    #[error("{0}")]
    SubscriptionInactive(String),
    /// `POST /stripe/webhook` whose `Stripe-Signature` does not verify (400).
    #[error("{0}")]
    InvalidSignature(String),
    #[error("{0}")]
    ReportNotReady(String),
    #[error("idempotency key reused")]
    IdempotencyMismatch,
    #[error("idempotency key in progress")]
    IdempotencyInProgress,
    /// The detail is logged, never shown.
    #[error("internal: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::NotFound(format!("No {what} with id {id:?}."))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::MissingKey(_) | Self::InvalidKey(_) => StatusCode::UNAUTHORIZED,
            Self::Inactive(_)
            | Self::ProductNotAllowed(_)
            | Self::RunLimitReached(_)
            | Self::PartnerInactive(_)
            | Self::SubscriptionInactive(_) => StatusCode::FORBIDDEN,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::InvalidJson(_)
            | Self::MissingField(_)
            | Self::InvalidField(_)
            | Self::InvalidProduct(_)
            | Self::TooMany(_)
            | Self::PlanChangeFailed(_)
            | Self::InvalidSignature(_) => StatusCode::BAD_REQUEST,
            Self::MaxKeys
            | Self::LastKey
            | Self::CustomerExists(_)
            | Self::PartnerExists(_)
            | Self::ReportNotReady(_)
            | Self::IdempotencyInProgress => StatusCode::CONFLICT,
            Self::IdempotencyMismatch => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "NOT_FOUND",
            Self::MethodNotAllowed { .. } => "METHOD_NOT_ALLOWED",
            Self::PayloadTooLarge { .. } => "PAYLOAD_TOO_LARGE",
            Self::MissingKey(_) => "MISSING_KEY",
            Self::InvalidKey(_) => "INVALID_KEY",
            Self::Inactive(Surface::Partner) | Self::PartnerInactive(_) => "PARTNER_INACTIVE",
            Self::Inactive(Surface::Distributor) => "DISTRIBUTOR_INACTIVE",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::InvalidJson(_) => "INVALID_JSON",
            Self::MissingField(_) => "MISSING_FIELD",
            Self::InvalidField(_) => "INVALID_FIELD",
            Self::InvalidProduct(_) => "INVALID_PRODUCT",
            Self::ProductNotAllowed(_) => "PRODUCT_NOT_ALLOWED",
            Self::RunLimitReached(_) => "RUN_LIMIT_REACHED",
            Self::MaxKeys => "MAX_KEYS",
            Self::LastKey => "LAST_KEY",
            Self::CustomerExists(_) => "CUSTOMER_EXISTS",
            Self::PartnerExists(_) => "PARTNER_EXISTS",
            Self::TooMany(_) => "TOO_MANY",
            Self::PlanChangeFailed(_) => "PLAN_CHANGE_FAILED",
            Self::ReportNotReady(_) => "REPORT_NOT_READY",
            Self::SubscriptionInactive(_) => "SUBSCRIPTION_INACTIVE",
            Self::InvalidSignature(_) => "INVALID_SIGNATURE",
            Self::IdempotencyMismatch => "IDEMPOTENCY_MISMATCH",
            Self::IdempotencyInProgress => "IDEMPOTENCY_IN_PROGRESS",
            Self::Internal(_) => "INTERNAL",
        }
    }

    pub fn message(&self) -> String {
        match self {
            Self::MethodNotAllowed { allow } => {
                format!("Method not allowed on this path. Allowed: {allow}.")
            }
            Self::PayloadTooLarge { limit } => {
                format!("Request body is larger than the limit of {} KiB.", limit / 1024)
            }
            Self::MissingKey(s) => {
                format!("No API key: send it in the {} header.", s.header_display())
            }
            Self::InvalidKey(s) => format!("The {} is malformed, expired, or revoked.", s.header_display()),
            Self::Inactive(Surface::Partner) => "The partner account is suspended or pending activation.".into(),
            Self::Inactive(Surface::Distributor) => {
                "The distributor account is suspended or pending activation.".into()
            }
            Self::RateLimited { retry_after } => {
                format!("Rate limit exceeded. Retry after {retry_after} seconds.")
            }
            Self::MaxKeys => "You already have the maximum number of API keys (2). Revoke one first.".into(),
            Self::LastKey => "You cannot revoke the only active API key. Generate a new key first.".into(),
            Self::IdempotencyMismatch => "This Idempotency-Key was already used with a different request.".into(),
            Self::IdempotencyInProgress => {
                "A request with this Idempotency-Key is still being processed. Retry shortly.".into()
            }
            Self::Internal(_) => {
                "An unexpected error occurred. Retry later or contact support with the request id.".into()
            }
            other => other.to_string(),
        }
    }

    /// The error as the HTTP envelope: `{"error":{"code","message"}}`.
    pub fn to_response(&self) -> Response<Bytes> {
        let body = serde_json::json!({ "error": { "code": self.code(), "message": self.message() } });
        let mut resp = Response::new(Bytes::from(body.to_string()));
        *resp.status_mut() = self.status();
        let headers = resp.headers_mut();
        match self {
            Self::MethodNotAllowed { allow } => {
                if let Ok(v) = HeaderValue::from_str(allow) {
                    headers.insert(header::ALLOW, v);
                }
            }
            Self::RateLimited { retry_after } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            _ => {}
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::LastKey => Self::LastKey,
            other => Self::Internal(format!("store: {other}")),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::MissingKey(s) => Self::MissingKey(s),
            AuthError::InvalidKey(s) => Self::InvalidKey(s),
            AuthError::Inactive(s) => Self::Inactive(s),
            AuthError::Store(s) => s.into(),
        }
    }
}

impl From<BillingError> for ApiError {
    fn from(e: BillingError) -> Self {
        match e {
            BillingError::Rejected(m) => Self::PlanChangeFailed(m),
            other => Self::Internal(format!("billing: {other}")),
        }
    }
}

impl From<UseCaseError> for ApiError {
    fn from(e: UseCaseError) -> Self {
        match e {
            UseCaseError::NotFound(m) => Self::NotFound(m),
            UseCaseError::Invalid(m) => Self::InvalidField(m),
            UseCaseError::InvalidProduct(m) => Self::InvalidProduct(m),
            UseCaseError::ProductNotAllowed(m) => Self::ProductNotAllowed(m),
            UseCaseError::RunLimitReached(m) => Self::RunLimitReached(m),
            UseCaseError::MaxKeys => Self::MaxKeys,
            UseCaseError::LastKey => Self::LastKey,
            UseCaseError::CustomerExists(m) => Self::CustomerExists(m),
            UseCaseError::PartnerExists(m) => Self::PartnerExists(m),
            UseCaseError::TooMany(m) => Self::TooMany(m),
            UseCaseError::PlanChangeFailed(m) => Self::PlanChangeFailed(m),
            UseCaseError::PartnerInactive(m) => Self::PartnerInactive(m),
            UseCaseError::SubscriptionInactive(m) => Self::SubscriptionInactive(m),
            UseCaseError::ReportNotReady(m) => Self::ReportNotReady(m),
            UseCaseError::RateLimited { retry_after } => Self::RateLimited { retry_after },
            UseCaseError::Store(e) => Self::Internal(format!("store: {e}")),
            UseCaseError::Internal(m) => Self::Internal(m),
        }
    }
}
