//! What the Cognigy dialect's route modules share: its problem documents (RFC 7807 with
//! `traceId` and a Cognigy `code`), the API key check, JSON bodies and queries that fail as
//! problem documents, and the list envelope's paging.

use axum::body::{Bytes, to_bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::cognigy::{ErrorCode, List, Problem, code};
use crate::sim::Shared;

/// Where the dialect serves, as the official client calls it (docs/cognigy-api.md §1).
pub const PREFIX: &str = "/new/v2.0";

/// An error of the Cognigy dialect; it renders as the platform's problem document.
#[derive(Debug, Clone)]
pub struct CgError {
    pub status: StatusCode,
    pub code: i64,
    pub detail: String,
}

pub type CgResult<T> = Result<T, CgError>;

impl CgError {
    pub fn new(status: StatusCode, code: i64, detail: impl Into<String>) -> CgError {
        CgError {
            status,
            code,
            detail: detail.into(),
        }
    }

    /// `ResourceNotFoundError` (404, code 1002).
    pub fn not_found(what: &str, id: &str) -> CgError {
        CgError::new(
            StatusCode::NOT_FOUND,
            code::RESOURCE_NOT_FOUND,
            format!("The {what} with id '{id}' could not be found."),
        )
    }

    /// `InvalidArgumentError` (400, code 1005).
    pub fn invalid(detail: impl Into<String>) -> CgError {
        CgError::new(StatusCode::BAD_REQUEST, code::INVALID_ARGUMENT, detail)
    }

    /// `MissingArgumentError` (400, code 1000).
    pub fn missing(field: &str) -> CgError {
        CgError::new(
            StatusCode::BAD_REQUEST,
            code::MISSING_ARGUMENT,
            format!("The argument '{field}' is missing."),
        )
    }

    /// `ConflictError` (409, code 1004).
    pub fn conflict(detail: impl Into<String>) -> CgError {
        CgError::new(StatusCode::CONFLICT, code::CONFLICT, detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> CgError {
        CgError::new(StatusCode::UNAUTHORIZED, code::UNAUTHORIZED, detail)
    }

    pub fn problem(&self) -> Problem {
        let title = match self.status {
            // The platform's own title for 429 (`TooManyRequestsError.httpStatusText`).
            StatusCode::TOO_MANY_REQUESTS => "Too Many Requests Error",
            s => s.canonical_reason().unwrap_or("Error"),
        };
        Problem {
            kind: "about:blank".into(),
            title: title.into(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            instance: None,
            trace_id: Some(format!("api--{}", uuid::Uuid::new_v4())),
            code: Some(ErrorCode::Number(self.code)),
            details: serde_json::json!({}),
        }
    }
}

/// The problem a response carries, for [`fill_instance`] to complete with the request path.
#[derive(Debug, Clone)]
struct CarriedProblem(Problem);

fn problem_response(status: StatusCode, problem: &Problem) -> Response {
    let body = serde_json::to_vec(problem).unwrap_or_default();
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    resp
}

impl IntoResponse for CgError {
    fn into_response(self) -> Response {
        let problem = self.problem();
        let mut resp = problem_response(self.status, &problem);
        resp.extensions_mut().insert(CarriedProblem(problem));
        resp
    }
}

/// Middleware: a problem document's `instance` is the request path, as the platform's are.
pub async fn fill_instance(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let resp = next.run(req).await;
    match resp.extensions().get::<CarriedProblem>().cloned() {
        Some(CarriedProblem(mut p)) if p.instance.is_none() => {
            p.instance = Some(path);
            let status = resp.status();
            let mut out = problem_response(status, &p);
            out.extensions_mut().insert(CarriedProblem(p));
            for (k, v) in resp.headers() {
                if k != header::CONTENT_LENGTH && k != header::CONTENT_TYPE {
                    out.headers_mut().insert(k.clone(), v.clone());
                }
            }
            out
        }
        _ => resp,
    }
}

/// Middleware, outside the request pipeline: what the pipeline itself refuses (injected
/// 503s, 502s and 429 storms) leaves as the platform's problem document too, its Cognigy
/// `code` the HTTP status (as the platform's 429/502/503 codes are), `Retry-After` kept.
pub async fn translate_problems(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let resp = next.run(req).await;
    let is_problem = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/problem+json");
    if !is_problem || resp.extensions().get::<CarriedProblem>().is_some() {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let bytes = to_bytes(body, 1024 * 1024).await.unwrap_or_default();
    let detail = serde_json::from_slice::<crate::domain::Problem>(&bytes)
        .map(|p| p.detail)
        .unwrap_or_default();
    let mut p = CgError::new(parts.status, i64::from(parts.status.as_u16()), detail).problem();
    p.instance = Some(path);
    let mut out = problem_response(parts.status, &p);
    for (k, v) in &parts.headers {
        if k != header::CONTENT_LENGTH && k != header::CONTENT_TYPE {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out
}

/// A 404 for a path the dialect does not serve.
pub fn no_route(method: &axum::http::Method, path: &str) -> Response {
    let mut p = CgError::new(
        StatusCode::NOT_FOUND,
        code::RESOURCE_NOT_FOUND,
        format!("no route {method} {path}; the Cognigy dialect serves {PREFIX}/projects, /snapshots, /tasks and /endpoints"),
    )
    .problem();
    p.instance = Some(path.to_string());
    problem_response(StatusCode::NOT_FOUND, &p)
}

/// The API key of a request: the `X-API-Key` header or the `api_key` query parameter.
pub fn authorize(app: &Shared, headers: &HeaderMap, query: Option<&str>) -> CgResult<()> {
    let from_header = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let from_query = query.and_then(|q| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(q)
            .ok()?
            .into_iter()
            .find(|(k, _)| k == "api_key")
            .map(|(_, v)| v)
    });
    let Some(key) = from_header.or(from_query) else {
        return Err(CgError::unauthorized(
            "No API key: send the header 'X-API-Key: <key>' or the query parameter 'api_key'.",
        ));
    };
    if !app.lock().auth.api_keys.contains_key(key.trim()) {
        return Err(CgError::unauthorized("The API key is not valid."));
    }
    charge(app, key.trim())
}

/// `403` when the fault `forbiddenProjects` holds `bot`: the key's user has no role in it.
pub fn allowed(faults: &crate::sim::faults::Faults, bot: &str, project: &str) -> CgResult<()> {
    if faults.forbidden_projects.iter().any(|b| b == bot) {
        return Err(CgError::new(
            StatusCode::FORBIDDEN,
            403,
            format!("The user of this API key has no access to the Project '{project}'."),
        ));
    }
    Ok(())
}

/// Count one request against the key's rate limit: `rate_limit` requests per five simulator
/// minutes, then `429` with no `Retry-After` (the platform documents none).
pub fn charge(app: &Shared, key: &str) -> CgResult<()> {
    let limit = app.config.rate_limit.max(1);
    app.charge_rate(format!("cognigy:{key}"), limit)
        .map_err(|_| {
            CgError::new(
                StatusCode::TOO_MANY_REQUESTS,
                429,
                format!(
                    "Too many requests: more than {limit} in 5 minutes for this API key. Try again later."
                ),
            )
        })
}

/// Query parameters, refused as a problem document when they do not parse.
pub fn query<T: DeserializeOwned>(raw: Option<&str>) -> CgResult<T> {
    serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| CgError::invalid(format!("invalid query parameters: {e}")))
}

/// A JSON body: malformed JSON and a wrong shape are both `400` (code 1005), as the
/// platform's schema validation answers (the status is an inference, docs/cognigy-api.md §7).
pub struct CgJson<T>(pub T);

impl<S, T> FromRequest<S> for CgJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = CgError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes: Bytes = to_bytes(req.into_body(), 64 * 1024)
            .await
            .map_err(|e| CgError::invalid(format!("cannot read the request body: {e}")))?;
        let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(text)
            .map(CgJson)
            .map_err(|e| CgError::invalid(format!("invalid request body: {e}")))
    }
}

/// The paging parameters of every index call (`IRestPagination`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    pub limit: Option<usize>,
    pub skip: Option<usize>,
    /// A cursor: the `_id` of the first item of the page wanted (`nextCursor` or
    /// `previousCursor` of another page).
    pub next: Option<String>,
    pub previous: Option<String>,
    /// Free text, matched against names (case-insensitive).
    pub filter: Option<String>,
    pub project_id: Option<String>,
}

/// The platform's page size when none is asked for (inferred: not in the package).
pub const DEFAULT_LIMIT: usize = 25;
/// The largest page (Cognigy's CLI never asks for more; a larger `limit` is cut to it).
pub const MAX_LIMIT: usize = 100;

/// One page of `items` (each with its `_id` and name) in the list envelope. The cursors are
/// the `_id`s of the first items of the next and previous pages.
pub fn page<T>(items: Vec<(String, String, T)>, q: &ListQuery) -> CgResult<List<T>> {
    let limit = match q.limit {
        Some(0) => return Err(CgError::invalid("'limit' must be at least 1")),
        Some(n) => n.min(MAX_LIMIT),
        None => DEFAULT_LIMIT,
    };
    let items: Vec<(String, String, T)> = match q.filter.as_deref().map(str::to_lowercase) {
        Some(f) if !f.is_empty() => items
            .into_iter()
            .filter(|(_, name, _)| name.to_lowercase().contains(&f))
            .collect(),
        _ => items,
    };
    let start = match (q.next.as_deref(), q.previous.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(CgError::invalid("send 'next' or 'previous', not both"));
        }
        (Some(c), None) | (None, Some(c)) => {
            if q.skip.is_some() {
                return Err(CgError::invalid("a cursor does not combine with 'skip'"));
            }
            items
                .iter()
                .position(|(id, _, _)| id == c)
                .ok_or_else(|| CgError::invalid(format!("the cursor '{c}' is not in this list")))?
        }
        (None, None) => q.skip.unwrap_or(0),
    };
    let total = items.len() as u64;
    let next_cursor = items.get(start + limit).map(|(id, _, _)| id.clone());
    let previous_cursor =
        (start > 0 && start <= items.len()).then(|| items[start.saturating_sub(limit)].0.clone());
    let items = items
        .into_iter()
        .skip(start)
        .take(limit)
        .map(|(_, _, t)| t)
        .collect();
    Ok(List {
        items,
        total,
        next_cursor,
        previous_cursor,
    })
}

/// Middleware: every answer's `Date` is the simulator's clock (an HTTP-date), so clients that
/// reckon in server time (OData windows) follow the simulated world, not the wall.
pub async fn server_date(
    axum::extract::State(app): axum::extract::State<crate::sim::App>,
    req: Request,
    next: Next,
) -> Response {
    let mut resp = next.run(req).await;
    let now = app.clock.now();
    let text = app
        .clock
        .date(now)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    if let Ok(v) = HeaderValue::from_str(&text) {
        resp.headers_mut().insert(header::DATE, v);
    }
    resp
}
