//! Which URLs a plugin's rendered requests may address: the endpoint's own
//! host, or a host the plugin's manifest declares (`slack.com`, or
//! `*.discord.com` for any subdomain). Address-level checks (private ranges,
//! DNS pinning) belong to egress; this is the plugin-level fence.

use url::Url;

/// Checks `url` against the endpoint URL and the manifest's allowed hosts.
/// The error says why the request is refused.
pub fn check_target(
    url: &str,
    endpoint_url: Option<&str>,
    allowed_hosts: &[String],
) -> Result<(), String> {
    // The endpoint's own URL, checked when it was registered (egress checks
    // every send again): nothing to parse.
    if endpoint_url == Some(url) {
        return Ok(());
    }
    let parsed = Url::parse(url).map_err(|e| format!("not a valid URL: {e}"))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(format!("scheme `{}` is not allowed", parsed.scheme()));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("credentials in the URL are not allowed".into());
    }
    let Some(host) = parsed.host_str() else {
        return Err("URL has no host".into());
    };
    if endpoint_url
        .and_then(|e| Url::parse(e).ok())
        .is_some_and(|e| same_origin_host(&e, &parsed))
    {
        return Ok(());
    }
    if allowed_hosts
        .iter()
        .any(|pattern| host_matches(pattern, host))
    {
        return Ok(());
    }
    Err(format!(
        "host `{host}` is neither the endpoint's host nor one of the plugin's allowed hosts {allowed_hosts:?}"
    ))
}

fn same_origin_host(a: &Url, b: &Url) -> bool {
    a.host_str().map(str::to_ascii_lowercase) == b.host_str().map(str::to_ascii_lowercase)
        && a.port_or_known_default() == b.port_or_known_default()
}

/// `example.com` matches only itself; `*.example.com` matches any subdomain
/// of it (not the apex). Case-insensitive.
fn host_matches(pattern: &str, host: &str) -> bool {
    let (pattern, host) = (pattern.to_ascii_lowercase(), host.to_ascii_lowercase());
    match pattern.strip_prefix("*.") {
        Some(suffix) => host
            .strip_suffix(suffix)
            .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
        None => pattern == host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn endpoint_host_is_allowed() {
        let ep = Some("https://hooks.example.com/a");
        assert!(check_target("https://hooks.example.com/a", ep, &[]).is_ok());
        assert!(check_target("https://hooks.example.com/other", ep, &[]).is_ok());
        assert!(check_target("https://HOOKS.example.com/x", ep, &[]).is_ok());
        assert!(check_target("https://hooks.example.com:8443/x", ep, &[]).is_err());
        assert!(check_target("https://evil.example.net/x", ep, &[]).is_err());
    }

    #[test]
    fn manifest_hosts_and_wildcards() {
        let allowed = hosts(&["slack.com", "*.discord.com"]);
        assert!(check_target("https://slack.com/api/chat.postMessage", None, &allowed).is_ok());
        assert!(check_target("https://api.slack.com/", None, &allowed).is_err());
        assert!(check_target("https://a.discord.com/", None, &allowed).is_ok());
        assert!(check_target("https://discord.com/", None, &allowed).is_err());
        assert!(check_target("https://evildiscord.com/", None, &allowed).is_err());
    }

    #[test]
    fn odd_urls_are_refused() {
        let ep = Some("https://hooks.example.com/a");
        assert!(check_target("file:///etc/passwd", ep, &[]).is_err());
        assert!(check_target("https://user:pw@hooks.example.com/", ep, &[]).is_err());
        assert!(check_target("not a url", ep, &[]).is_err());
    }
}
