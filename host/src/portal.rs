//! The customer portal's page, served under `/portal/`, and the operator
//! dashboard under `/dashboard/`: assets compiled into the binary (no
//! CDN, nothing fetched at run time), each
//! with a Content-Security-Policy that allows only this origin's script
//! and style (no inline script, no third-party origin), no framing but by
//! the configured `frame_ancestors` (the dashboard: none), no referrer,
//! no sniffing. The pages talk to the public API only: the portal with the
//! session token from its URL fragment, the dashboard with the admin token
//! typed into it, each as a bearer credential kept in memory.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use std::sync::Arc;

const INDEX_HTML: &str = include_str!("../portal/index.html");
const PORTAL_JS: &str = include_str!("../portal/portal.js");
const PORTAL_CSS: &str = include_str!("../portal/portal.css");
const COMMON_JS: &str = include_str!("../portal/common.js");
const DASHBOARD_HTML: &str = include_str!("../portal/dashboard.html");
const DASHBOARD_JS: &str = include_str!("../portal/dashboard.js");

/// Who may frame the portal: `frame-ancestors` sources (`'none'` when empty).
#[derive(Debug, Clone, Default)]
pub struct Framing {
    ancestors: Vec<String>,
}

impl Framing {
    /// Framing by these origins only (e.g. `https://app.example.com`).
    pub fn new(ancestors: Vec<String>) -> Self {
        Self { ancestors }
    }

    /// The page's Content-Security-Policy.
    fn policy(&self) -> String {
        let ancestors = match self.ancestors.is_empty() {
            true => "'none'".to_string(),
            false => self.ancestors.join(" "),
        };
        format!(
            "default-src 'none'; script-src 'self'; style-src 'self'; \
             img-src 'self' https: data:; connect-src 'self'; base-uri 'none'; \
             form-action 'none'; frame-ancestors {ancestors}"
        )
    }
}

/// Registers `/portal/`, `/dashboard/` and their assets.
pub fn configure(cfg: &mut web::ServiceConfig, framing: Framing) {
    const HTML: &str = "text/html; charset=utf-8";
    const JS: &str = "text/javascript; charset=utf-8";
    let portal = Arc::new(framing.policy());
    let dashboard = Arc::new(Framing::default().policy());
    for (path, body, kind, policy) in [
        ("/portal/", INDEX_HTML, HTML, &portal),
        ("/portal/index.html", INDEX_HTML, HTML, &portal),
        ("/portal/portal.js", PORTAL_JS, JS, &portal),
        (
            "/portal/portal.css",
            PORTAL_CSS,
            "text/css; charset=utf-8",
            &portal,
        ),
        ("/portal/common.js", COMMON_JS, JS, &portal),
        ("/dashboard/", DASHBOARD_HTML, HTML, &dashboard),
        ("/dashboard/dashboard.js", DASHBOARD_JS, JS, &dashboard),
    ] {
        let policy = Arc::clone(policy);
        cfg.route(
            path,
            web::get().to(move || asset(body, kind, Arc::clone(&policy))),
        );
    }
    for (bare, page) in [("/portal", "/portal/"), ("/dashboard", "/dashboard/")] {
        cfg.route(
            bare,
            web::get().to(move || async move {
                HttpResponse::PermanentRedirect()
                    .insert_header((header::LOCATION, page))
                    .finish()
            }),
        );
    }
}

async fn asset(body: &'static str, kind: &'static str, policy: Arc<String>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(kind)
        .insert_header((header::CONTENT_SECURITY_POLICY, policy.as_str()))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_only_this_origin_and_the_configured_framers() {
        let none = Framing::default().policy();
        assert!(none.contains("frame-ancestors 'none'"), "{none}");
        assert!(none.contains("script-src 'self';"), "{none}");
        assert!(!none.contains("unsafe-inline"), "{none}");
        let app = Framing::new(vec!["https://app.example.com".into()]).policy();
        assert!(
            app.ends_with("frame-ancestors https://app.example.com"),
            "{app}"
        );
    }

    #[test]
    fn the_page_has_no_inline_script_or_style() {
        assert!(
            !INDEX_HTML.contains("<script>"),
            "scripts come from portal.js"
        );
        assert!(
            !INDEX_HTML.contains("style="),
            "styles come from portal.css"
        );
        assert!(!DASHBOARD_HTML.contains("<script>") && !DASHBOARD_HTML.contains("style="));
        for script in [PORTAL_JS, DASHBOARD_JS, COMMON_JS] {
            assert!(!script.contains("innerHTML"), "values are set as text");
        }
    }
}
