//! The customer portal's page, served under `/portal/`: three assets
//! compiled into the binary (no CDN, nothing fetched at run time), each
//! with a Content-Security-Policy that allows only this origin's script
//! and style (no inline script, no third-party origin), no framing but by
//! the configured `frame_ancestors`, no referrer, no sniffing. The page
//! talks to the public API only, with the session token from its URL
//! fragment as a bearer credential.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use std::sync::Arc;

const INDEX_HTML: &str = include_str!("../portal/index.html");
const PORTAL_JS: &str = include_str!("../portal/portal.js");
const PORTAL_CSS: &str = include_str!("../portal/portal.css");

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

/// Registers `/portal/` and its assets.
pub fn configure(cfg: &mut web::ServiceConfig, framing: Framing) {
    let framing = Arc::new(framing);
    for (path, body, kind) in [
        ("/portal/", INDEX_HTML, "text/html; charset=utf-8"),
        ("/portal/index.html", INDEX_HTML, "text/html; charset=utf-8"),
        (
            "/portal/portal.js",
            PORTAL_JS,
            "text/javascript; charset=utf-8",
        ),
        ("/portal/portal.css", PORTAL_CSS, "text/css; charset=utf-8"),
    ] {
        let framing = Arc::clone(&framing);
        cfg.route(
            path,
            web::get().to(move || asset(body, kind, Arc::clone(&framing))),
        );
    }
    cfg.route(
        "/portal",
        web::get().to(|| async {
            HttpResponse::PermanentRedirect()
                .insert_header((header::LOCATION, "/portal/"))
                .finish()
        }),
    );
}

async fn asset(body: &'static str, kind: &'static str, framing: Arc<Framing>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(kind)
        .insert_header((header::CONTENT_SECURITY_POLICY, framing.policy()))
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
        assert!(!PORTAL_JS.contains("innerHTML"), "values are set as text");
    }
}
