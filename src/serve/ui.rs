//! The reviewers' web interface: one page and its scripts, built into the binary so it works
//! with no network. The page signs in with a service token and calls the JSON API.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// (file name, content type, bytes).
const FILES: [(&str, &str, &str); 5] = [
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../../assets/ui/index.html"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../assets/ui/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/ui/app.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/ui/api.js"),
    ),
    (
        "charts.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/ui/charts.js"),
    ),
];

/// Nothing but this origin: no scripts, styles or fonts from elsewhere.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

fn serve(name: &str) -> Option<Response> {
    let (_, kind, body) = FILES.iter().find(|(n, _, _)| *n == name)?;
    let mut resp = ([(header::CONTENT_TYPE, *kind)], *body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Some(resp)
}

pub async fn index() -> Response {
    serve("index.html").expect("the page is built in")
}

pub async fn asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    serve(&file).ok_or_else(|| ApiError::not_found(format!("no file {file:?} in the interface")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_files_that_are_built_in() {
        let page = FILES[0].2;
        for part in page.split("/ui/").skip(1) {
            let name: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '.')
                .collect();
            assert!(serve(&name).is_some(), "{name} is not built in");
        }
        assert!(!page.contains("http://") && !page.contains("https://"));
    }
}
