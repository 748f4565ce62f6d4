//! `[portal]`: who may embed the customer portal. `frame_ancestors` lists
//! the origins allowed to put `/portal/` in a frame (the page's
//! `Content-Security-Policy: frame-ancestors`); empty, nobody may.

use super::Check;
use serde::Deserialize;

/// `[portal]`
#[derive(Debug, Clone, Default)]
pub struct PortalSettings {
    /// Origins (`https://app.example.com`, `https://*.example.com`) or
    /// `'self'` that may frame the portal.
    pub frame_ancestors: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPortal {
    frame_ancestors: Vec<String>,
}

/// Whether `source` is a CSP source this setting takes: `'self'`, or a
/// scheme, a host (a leading `*.` allowed) and an optional port, nothing
/// after.
fn is_origin(source: &str) -> bool {
    if source == "'self'" {
        return true;
    }
    let Some((scheme, rest)) = source.split_once("://") else {
        return false;
    };
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (rest, None),
    };
    let host = host.strip_prefix("*.").unwrap_or(host);
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    matches!(scheme, "https" | "http") && host_ok && port_ok
}

pub(super) fn validate_portal(check: &mut Check, raw: RawPortal) -> PortalSettings {
    for (i, source) in raw.frame_ancestors.iter().enumerate() {
        if !is_origin(source) {
            check.problem(
                &format!("portal.frame_ancestors[{i}]"),
                format!("`{source}` is not an origin: use `https://app.example.com` (a port and a leading `*.` are allowed) or `'self'`"),
            );
        }
    }
    PortalSettings {
        frame_ancestors: raw.frame_ancestors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_origins_may_frame_the_portal() {
        for good in [
            "'self'",
            "https://app.example.com",
            "https://*.example.com",
            "http://localhost:3000",
        ] {
            assert!(is_origin(good), "{good}");
        }
        for bad in [
            "*",
            "app.example.com",
            "https://app.example.com/path",
            "javascript://x",
            "https://a b",
            "https://x;script-src *",
            "'none'",
        ] {
            assert!(!is_origin(bad), "{bad}");
        }
    }
}
