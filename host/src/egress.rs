//! Outbound HTTP: one pooled reqwest client, connect/total timeouts, no
//! redirects, response bodies truncated, and the SSRF guard.
//!
//! The guard refuses loopback, private, link-local (cloud metadata at
//! 169.254.169.254), CGNAT, multicast, reserved and documentation
//! addresses unless `security.allow_private_targets` is on or the address is
//! in `security.allowed_cidrs`. Literal IPs are checked before sending;
//! host names are resolved by the guard's own resolver, which drops refused
//! addresses, and the client connects only to what it returned: the checked
//! address is the address used (no DNS rebinding between check and connect).

use crate::config::{DeliverySettings, SecuritySettings};
use crate::plugin::wire::method_name;
use crate::plugin::{Header, HttpRequest, HttpResponse};
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use url::Url;

/// Most of a response body kept in the delivery log.
pub const MAX_RESPONSE_EXCERPT_BYTES: usize = 16 << 10;
/// The User-Agent of every request.
const USER_AGENT: &str = concat!("hookmesh/", env!("CARGO_PKG_VERSION"));

/// Why a request was not sent or got no answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EgressError {
    /// The URL is malformed or uses a refused scheme.
    #[error("url `{url}`: {reason}")]
    BadUrl {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The target address is refused by the SSRF guard.
    #[error("url `{url}`: {reason}")]
    Forbidden {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// Connection, TLS, timeout or protocol failure.
    #[error("request to `{url}` failed: {reason}")]
    Transport {
        /// The URL.
        url: String,
        /// What happened.
        reason: String,
    },
}

/// Decides which addresses may be contacted.
#[derive(Debug, Clone)]
pub struct SsrfGuard {
    https_only: bool,
    allow_private: bool,
    allowed_cidrs: Vec<IpNet>,
}

impl SsrfGuard {
    /// From `[security]`.
    pub fn new(settings: &SecuritySettings) -> Self {
        Self {
            https_only: settings.https_only,
            allow_private: settings.allow_private_targets,
            allowed_cidrs: settings.allowed_cidrs.clone(),
        }
    }

    /// Checks scheme, credentials and literal-IP hosts (no DNS).
    pub fn check_url(&self, raw: &str) -> Result<Url, EgressError> {
        let bad = |reason: &str| EgressError::BadUrl {
            url: raw.to_string(),
            reason: reason.to_string(),
        };
        let url = Url::parse(raw).map_err(|e| bad(&format!("not a valid URL ({e})")))?;
        match url.scheme() {
            "https" => {}
            "http" if !self.https_only => {}
            "http" => {
                return Err(bad(
                    "http:// is not allowed (security.https_only = true); use https://",
                ))
            }
            other => return Err(bad(&format!("scheme `{other}` is not allowed"))),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("credentials in the URL are not allowed"));
        }
        match url.host() {
            None => Err(bad("has no host")),
            Some(url::Host::Ipv4(ip)) => self.check_ip(raw, IpAddr::V4(ip)).map(|_| url),
            Some(url::Host::Ipv6(ip)) => self.check_ip(raw, IpAddr::V6(ip)).map(|_| url),
            Some(url::Host::Domain(_)) => Ok(url),
        }
    }

    /// Checks the URL, then resolves its host and checks every address. A
    /// name that does not resolve (yet) passes: DNS may be down for a
    /// moment, and every send is guarded again at connect time.
    pub async fn check_resolved(&self, raw: &str) -> Result<(), EgressError> {
        let url = self.check_url(raw)?;
        if let Some(url::Host::Domain(host)) = url.host() {
            let port = url.port_or_known_default().unwrap_or(443);
            let Ok(addrs) = tokio::net::lookup_host((host, port)).await else {
                tracing::debug!(%host, "registration: host does not resolve now; checked again at send time");
                return Ok(());
            };
            for addr in addrs {
                self.check_ip(raw, addr.ip())?;
            }
        }
        Ok(())
    }

    fn check_ip(&self, url: &str, ip: IpAddr) -> Result<(), EgressError> {
        if self.ip_allowed(ip) {
            return Ok(());
        }
        Err(EgressError::Forbidden {
            url: url.to_string(),
            reason: format!(
                "address {ip} is private, loopback, link-local or reserved (allow it with security.allowed_cidrs or security.allow_private_targets)"
            ),
        })
    }

    /// True when `ip` may be contacted.
    pub fn ip_allowed(&self, ip: IpAddr) -> bool {
        self.allow_private
            || is_public(ip)
            || self.allowed_cidrs.iter().any(|net| net.contains(&ip))
    }
}

/// True for globally routable unicast addresses.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking 198.18/15
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
        || (first == 0x0064 && ip.segments()[1] == 0xff9b)) // NAT64: may reach private v4
}

/// Resolves host names and keeps only addresses the guard allows.
struct GuardedResolver {
    guard: Arc<SsrfGuard>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = Arc::clone(&self.guard);
        Box::pin(async move {
            let host = name.as_str().to_string();
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = resolved
                .iter()
                .copied()
                .filter(|a| guard.ip_allowed(a.ip()))
                .collect();
            if allowed.is_empty() {
                let reason = if resolved.is_empty() {
                    format!("`{host}` has no addresses")
                } else {
                    format!(
                        "`{host}` resolves only to refused (private/loopback/reserved) addresses"
                    )
                };
                return Err(reason.into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// An answer, with the body cut to [`MAX_RESPONSE_EXCERPT_BYTES`].
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status, headers and (truncated) body.
    pub response: HttpResponse,
    /// Time to the full answer.
    pub duration: Duration,
}

/// How long an idle connection to a receiver is kept for the next delivery.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// The shared HTTP client.
#[derive(Clone)]
pub struct Egress {
    client: reqwest::Client,
    guard: Arc<SsrfGuard>,
}

impl Egress {
    /// A client with `[delivery]` timeouts and the `[security]` guard.
    pub fn new(
        delivery: &DeliverySettings,
        security: &SecuritySettings,
    ) -> Result<Self, EgressError> {
        let guard = Arc::new(SsrfGuard::new(security));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(delivery.connect_timeout)
            .timeout(delivery.timeout)
            // One process-wide pool: a connection outlives the endpoint
            // actor that opened it, and every connection a burst opened to
            // a receiver stays for the next one (a cap of 32 idle ones per
            // host made 100 endpoints on one host reconnect for 0.6 of
            // their deliveries).
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .user_agent(USER_AGENT)
            .dns_resolver(Arc::new(GuardedResolver {
                guard: Arc::clone(&guard),
            }))
            .build()
            .map_err(|e| EgressError::Transport {
                url: String::new(),
                reason: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(Self { client, guard })
    }

    /// The guard, for checks at registration.
    pub fn guard(&self) -> &SsrfGuard {
        &self.guard
    }

    /// Sends `request` (checked by the guard) and reads the answer.
    pub async fn send(&self, request: &HttpRequest) -> Result<Answer, EgressError> {
        let url = self.guard.check_url(&request.url)?;
        let transport = |e: reqwest::Error| EgressError::Transport {
            url: request.url.clone(),
            reason: describe(&e),
        };
        let method = reqwest::Method::from_bytes(method_name(request.method).as_bytes())
            .unwrap_or(reqwest::Method::POST);
        let mut builder = self.client.request(method, url).body(request.body.clone());
        for header in &request.headers {
            builder = builder.header(header.name.as_str(), header.value.as_str());
        }
        let started = Instant::now();
        let mut response = builder.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| Header {
                name: name.as_str().to_string(),
                value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
            })
            .collect();
        let mut body = Vec::new();
        while body.len() < MAX_RESPONSE_EXCERPT_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break,
                // The status is what counts; a broken body is logged as far as it came.
                Err(_) => break,
            }
        }
        body.truncate(MAX_RESPONSE_EXCERPT_BYTES);
        Ok(Answer {
            response: HttpResponse {
                status,
                headers,
                body,
            },
            duration: started.elapsed(),
        })
    }
}

/// reqwest's error with its causes, e.g. "error sending request: connection refused".
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_string()
    } else {
        error.to_string()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(https_only: bool, allow_private: bool, cidrs: &[&str]) -> SsrfGuard {
        SsrfGuard {
            https_only,
            allow_private,
            allowed_cidrs: cidrs.iter().map(|c| c.parse().unwrap()).collect(),
        }
    }

    #[test]
    fn private_and_special_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip} should be refused");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip} should be allowed");
        }
    }

    #[test]
    fn url_checks() {
        let g = guard(true, false, &["10.20.0.0/16"]);
        assert!(g.check_url("https://example.com/x").is_ok());
        assert!(matches!(
            g.check_url("http://example.com/x"),
            Err(EgressError::BadUrl { .. })
        ));
        assert!(matches!(
            g.check_url("https://127.0.0.1/"),
            Err(EgressError::Forbidden { .. })
        ));
        assert!(matches!(
            g.check_url("https://[::1]/"),
            Err(EgressError::Forbidden { .. })
        ));
        assert!(g.check_url("https://10.20.3.4/").is_ok());
        assert!(matches!(
            g.check_url("ftp://example.com"),
            Err(EgressError::BadUrl { .. })
        ));
        assert!(matches!(
            g.check_url("https://u:p@example.com"),
            Err(EgressError::BadUrl { .. })
        ));
        let open = guard(false, true, &[]);
        assert!(open.check_url("http://127.0.0.1:9/").is_ok());
    }

    #[tokio::test]
    async fn names_resolving_to_loopback_are_refused() {
        let g = guard(false, false, &[]);
        let err = g
            .check_resolved("http://localhost:9/hook")
            .await
            .unwrap_err();
        assert!(matches!(err, EgressError::Forbidden { .. }), "{err}");
    }
}
