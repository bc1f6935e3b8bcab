//! RFC 7807 problem responses: every error the simulator sends.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::domain::{FieldError, Problem};

/// An error a handler returns; it renders as `application/problem+json`.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// Boxed: handlers return `Result<_, ApiError>` on every path and the problem is big.
    pub problem: Box<Problem>,
    pub retry_after: Option<u64>,
    pub www_authenticate: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> ApiError {
        let title = status.canonical_reason().unwrap_or("Error").to_string();
        let slug = title.to_lowercase().replace(' ', "-");
        ApiError {
            problem: Box::new(Problem {
                kind: format!("https://relcon.dev/problems/{slug}"),
                title,
                status: status.as_u16(),
                detail: detail.into(),
                ..Problem::default()
            }),
            retry_after: None,
            www_authenticate: false,
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> ApiError {
        let mut e = ApiError::new(StatusCode::UNAUTHORIZED, detail);
        e.www_authenticate = true;
        e
    }

    pub fn forbidden(missing: &str, required: &[&str]) -> ApiError {
        let detail = if required.len() > 1 {
            format!(
                "the token lacks the scope {missing} (any of: {}) that this endpoint requires",
                required.join(", ")
            )
        } else {
            format!("the token lacks the scope {missing} that this endpoint requires")
        };
        let mut e = ApiError::new(StatusCode::FORBIDDEN, detail);
        e.problem.missing_scope = Some(missing.to_string());
        e.problem.required_scopes = required.iter().map(|s| s.to_string()).collect();
        e
    }

    pub fn not_found(what: &str, id: &str) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::NOT_FOUND,
            format!("{what} '{id}' does not exist"),
        );
        e.problem.instance = Some(id.to_string());
        e
    }

    pub fn conflict(detail: impl Into<String>, with: Option<String>) -> ApiError {
        let mut e = ApiError::new(StatusCode::CONFLICT, detail);
        e.problem.conflicts_with = with;
        e
    }

    pub fn invalid(errors: Vec<FieldError>) -> ApiError {
        let detail = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        let mut e = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, detail);
        e.problem.errors = errors;
        e
    }

    pub fn invalid_one(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::invalid(vec![FieldError {
            field: field.to_string(),
            message: message.into(),
        }])
    }

    pub fn too_many(detail: impl Into<String>, retry_after: u64) -> ApiError {
        let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, detail);
        e.problem.retry_after_seconds = Some(retry_after);
        e.retry_after = Some(retry_after);
        e
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::to_vec(&*self.problem).unwrap_or_default();
        let mut resp = (status, body).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            h.insert(header::RETRY_AFTER, v);
        }
        if self.www_authenticate {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        resp
    }
}

impl From<crate::sim::world::Refusal> for ApiError {
    fn from(r: crate::sim::world::Refusal) -> ApiError {
        use crate::sim::world::Refusal;
        match r {
            Refusal::NotFound { what, id } => ApiError::not_found(what, &id),
            Refusal::Invalid(errors) => ApiError::invalid(errors),
            Refusal::Conflict { message, with } => ApiError::conflict(message, with),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
