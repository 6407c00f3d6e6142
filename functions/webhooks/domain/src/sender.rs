//! The SSRF-safe sender. A webhook URL is chosen by an integrator, so every delivery is a request Lectern makes on
//! someone else's behalf from inside its own network; the guard:
//!
//! - `https` only (plain `http` only with the development switch, `LECTERN_WEBHOOKS_ALLOW_INSECURE`), no user
//!   info in the URL;
//! - the host is resolved here, and **every** A/AAAA address must be public: loopback, private, link-local
//!   (including the cloud metadata address 169.254.169.254), CGNAT (100.64.0.0/10), unspecified (0.0.0.0, ::),
//!   multicast, broadcast, documentation, benchmarking and reserved ranges, IPv6 unique-local (including AWS's
//!   metadata address fd00:ec2::254) and link-local, and IPv6 forms that carry an IPv4 address (mapped,
//!   compatible, NAT64, 6to4) judged by that address — one bad address refuses the URL, so a name that resolves
//!   to a public and a private address cannot win a race;
//! - the connection goes to the vetted addresses (`ClientBuilder::resolve_to_addrs`): reqwest does not resolve
//!   the name again, so a DNS answer that changes between the check and the connect (rebinding) is never used;
//! - no redirects (a 3xx is a failed attempt), no proxy from the environment, connect and total timeouts, and at
//!   most [`MAX_RESPONSE_BYTES`] of the answer read.
//!
//! The resolver is a trait so tests prove each refusal with a resolver that answers what they need.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use url::{Host, Url};

/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a whole attempt may take (connect, send, answer).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Most bytes of an answer read; the rest is dropped with the connection.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Longest URL accepted.
pub const MAX_URL_CHARS: usize = 2000;

/// Resolves a host name to its addresses.
#[async_trait]
pub trait Resolver: Send + Sync + 'static {
    async fn resolve(&self, host: &str, port: u16) -> std::io::Result<Vec<IpAddr>>;
}

/// The system resolver (tokio's `lookup_host`).
pub struct SystemResolver;

#[async_trait]
impl Resolver for SystemResolver {
    async fn resolve(&self, host: &str, port: u16) -> std::io::Result<Vec<IpAddr>> {
        Ok(tokio::net::lookup_host((host, port))
            .await?
            .map(|a| a.ip())
            .collect())
    }
}

/// Why a URL is not delivered to. Safe to show its owner and to log (no secrets in it).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("not a valid absolute URL")]
    Malformed,
    #[error("the URL must use https")]
    Scheme,
    #[error("the URL must not carry a user name or password")]
    Credentials,
    #[error("the URL is longer than {MAX_URL_CHARS} characters")]
    TooLong,
    #[error("the host could not be resolved")]
    Unresolvable,
    /// The address is kept for tests and logs; the message (shown to the endpoint's owner in its history) names
    /// only the kind of address, so the history cannot be used to read what internal names resolve to.
    #[error("the host resolves to a {1} address, which webhooks never reach")]
    Address(IpAddr, &'static str),
}

/// Why `ip` is not a public unicast address, if it is not.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match () {
        _ if ip == Ipv4Addr::new(169, 254, 169, 254) => "cloud metadata",
        _ if ip.is_unspecified() || a == 0 => "unspecified",
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_private() => "private",
        _ if ip.is_link_local() => "link-local",
        _ if a == 100 && (b & 0xc0) == 64 => "shared (CGNAT)",
        _ if ip.is_broadcast() => "broadcast",
        _ if ip.is_multicast() => "multicast",
        _ if ip.is_documentation() => "documentation",
        _ if a == 198 && (b & 0xfe) == 18 => "benchmarking",
        _ if a == 192 && b == 0 && c == 0 => "protocol assignment",
        _ if a >= 240 => "reserved",
        _ => return None,
    })
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    // Forms that carry an IPv4 address are as public as that address: `::ffff:127.0.0.1` is loopback.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return non_public_v4(v4);
    }
    if s[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_unspecified() && !ip.is_loopback() {
        return non_public_v4(embedded_v4(s[6], s[7])); // IPv4-compatible (deprecated)
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return non_public_v4(embedded_v4(s[6], s[7])); // NAT64
    }
    if s[0] == 0x2002 {
        return non_public_v4(embedded_v4(s[1], s[2])); // 6to4
    }
    Some(match () {
        _ if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) => "cloud metadata",
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_unique_local() => "private (unique local)",
        _ if ip.is_unicast_link_local() => "link-local",
        _ if (s[0] & 0xffc0) == 0xfec0 => "site-local",
        _ if ip.is_multicast() => "multicast",
        _ if s[0] == 0x2001 && s[1] == 0x0db8 => "documentation",
        _ if s[0] == 0x0100 && s[1..4] == [0, 0, 0] => "discard",
        _ => return None,
    })
}

fn embedded_v4(high: u16, low: u16) -> Ipv4Addr {
    let [a, b] = high.to_be_bytes();
    let [c, d] = low.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

/// Checks what can be checked without resolving: the scheme, credentials, length, and an IP literal host.
pub fn check_url(raw: &str, allow_insecure: bool) -> Result<Url, Refused> {
    if raw.chars().count() > MAX_URL_CHARS {
        return Err(Refused::TooLong);
    }
    let url = Url::parse(raw).map_err(|_| Refused::Malformed)?;
    match url.scheme() {
        "https" => {}
        "http" if allow_insecure => {}
        _ => return Err(Refused::Scheme),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refused::Credentials);
    }
    let literal = match url.host() {
        None => return Err(Refused::Malformed),
        Some(Host::Domain(_)) => None,
        Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
    };
    if let Some(ip) = literal
        && !allow_insecure
        && let Some(why) = non_public(ip)
    {
        return Err(Refused::Address(ip, why));
    }
    Ok(url)
}

/// A URL whose addresses were all vetted: where the connection goes.
#[derive(Clone, Debug)]
pub struct Target {
    pub url: Url,
    pub addrs: Vec<SocketAddr>,
}

/// What one attempt got back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver answered with this status (a 3xx is not followed).
    Answered(u16),
    /// No answer: connection refused, TLS failure, timeout (the reason, for the owner).
    NoAnswer(String),
    /// The URL was refused before any connection.
    Refused(Refused),
}

/// Sends deliveries; one per process.
#[derive(Clone)]
pub struct Sender {
    resolver: Arc<dyn Resolver>,
    allow_insecure: bool,
}

impl Sender {
    /// A sender over `resolver`. `allow_insecure` is the development switch: http and non-public addresses.
    pub fn new(resolver: Arc<dyn Resolver>, allow_insecure: bool) -> Self {
        Self {
            resolver,
            allow_insecure,
        }
    }

    /// Checks a URL and resolves its host: every address must be public (unless the development switch is on).
    pub async fn vet(&self, raw: &str) -> Result<Target, Refused> {
        let url = check_url(raw, self.allow_insecure)?;
        let port = url.port_or_known_default().ok_or(Refused::Malformed)?;
        let ips = match url.host() {
            Some(Host::Ipv4(ip)) => vec![IpAddr::V4(ip)],
            Some(Host::Ipv6(ip)) => vec![IpAddr::V6(ip)],
            Some(Host::Domain(name)) => self
                .resolver
                .resolve(name, port)
                .await
                .map_err(|_| Refused::Unresolvable)?,
            None => return Err(Refused::Malformed),
        };
        if ips.is_empty() {
            return Err(Refused::Unresolvable);
        }
        if !self.allow_insecure {
            for ip in &ips {
                if let Some(why) = non_public(*ip) {
                    return Err(Refused::Address(*ip, why));
                }
            }
        }
        Ok(Target {
            addrs: ips
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect(),
            url,
        })
    }

    /// One attempt: vets the URL, then POSTs `body` with `headers` to the vetted addresses only.
    pub async fn post(&self, raw_url: &str, headers: &[(&str, String)], body: String) -> Outcome {
        let target = match self.vet(raw_url).await {
            Ok(target) => target,
            Err(refused) => return Outcome::Refused(refused),
        };
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent("Lectern-Webhooks/1");
        if let Some(Host::Domain(name)) = target.url.host() {
            // Pins the name to what was vetted: reqwest connects to these and never asks DNS again.
            builder = builder.resolve_to_addrs(name, &target.addrs);
        }
        let client = match builder.build() {
            Ok(client) => client,
            Err(e) => return Outcome::NoAnswer(format!("client: {e}")),
        };
        let mut request = client
            .post(target.url.clone())
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(e) => return Outcome::NoAnswer(describe(&e)),
        };
        let status = response.status().as_u16();
        // Read a bounded part of the answer (a receiver that streams forever costs at most this and the timeout).
        let mut read = 0usize;
        while read < MAX_RESPONSE_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                Ok(None) | Err(_) => break,
            }
        }
        Outcome::Answered(status)
    }
}

/// A failed request's reason, without the URL (it may hold a token the owner put in its query).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        "the request failed".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A resolver that answers from a map: the "local resolver" the refusal tests use.
    struct FixedResolver(HashMap<&'static str, Vec<IpAddr>>);

    #[async_trait]
    impl Resolver for FixedResolver {
        async fn resolve(&self, host: &str, _port: u16) -> std::io::Result<Vec<IpAddr>> {
            self.0
                .get(host)
                .cloned()
                .ok_or_else(|| std::io::Error::other("no such host"))
        }
    }

    fn sender(names: &[(&'static str, &[&str])]) -> Sender {
        let map = names
            .iter()
            .map(|(host, ips)| (*host, ips.iter().map(|ip| ip.parse().unwrap()).collect()))
            .collect();
        Sender::new(Arc::new(FixedResolver(map)), false)
    }

    async fn refused(sender: &Sender, url: &str) -> Refused {
        match sender.vet(url).await {
            Err(refused) => refused,
            Ok(target) => panic!("{url} was accepted: {target:?}"),
        }
    }

    #[tokio::test]
    async fn plain_http_is_refused_unless_in_development() {
        let s = sender(&[("hooks.example.com", &["93.184.216.34"])]);
        assert_eq!(
            refused(&s, "http://hooks.example.com/in").await,
            Refused::Scheme
        );
        assert_eq!(
            refused(&s, "ftp://hooks.example.com/").await,
            Refused::Scheme
        );
        let dev = Sender::new(s.resolver.clone(), true);
        assert!(dev.vet("http://hooks.example.com/in").await.is_ok());
    }

    #[tokio::test]
    async fn credentials_long_and_malformed_urls_are_refused() {
        let s = sender(&[]);
        assert_eq!(
            refused(&s, "https://user:pw@hooks.example.com/").await,
            Refused::Credentials
        );
        assert_eq!(refused(&s, "not a url").await, Refused::Malformed);
        let long = format!("https://hooks.example.com/{}", "a".repeat(MAX_URL_CHARS));
        assert_eq!(refused(&s, &long).await, Refused::TooLong);
        assert_eq!(
            refused(&s, "https://nowhere.example/").await,
            Refused::Unresolvable
        );
    }

    #[tokio::test]
    async fn every_non_public_literal_is_refused() {
        let s = sender(&[]);
        for (url, why) in [
            ("https://127.0.0.1/", "loopback"),
            ("https://127.8.9.10:8443/", "loopback"),
            ("https://[::1]/", "loopback"),
            ("https://10.1.2.3/", "private"),
            ("https://172.16.0.1/", "private"),
            ("https://192.168.1.1/", "private"),
            (
                "https://169.254.169.254/latest/meta-data/",
                "cloud metadata",
            ),
            ("https://[fd00:ec2::254]/", "cloud metadata"),
            ("https://169.254.10.10/", "link-local"),
            ("https://[fe80::1]/", "link-local"),
            ("https://100.64.0.1/", "shared (CGNAT)"),
            ("https://100.127.255.254/", "shared (CGNAT)"),
            ("https://0.0.0.0/", "unspecified"),
            ("https://[::]/", "unspecified"),
            ("https://224.0.0.1/", "multicast"),
            ("https://[ff02::1]/", "multicast"),
            ("https://255.255.255.255/", "broadcast"),
            ("https://192.0.2.10/", "documentation"),
            ("https://[2001:db8::1]/", "documentation"),
            ("https://[fc00::1]/", "private (unique local)"),
            ("https://[::ffff:127.0.0.1]/", "loopback"),
            ("https://[::ffff:169.254.169.254]/", "cloud metadata"),
            ("https://[64:ff9b::a00:1]/", "private"),
            ("https://[2002:c0a8:101::1]/", "private"),
            ("https://198.18.0.1/", "benchmarking"),
            ("https://240.0.0.1/", "reserved"),
            // Decimal and hex spellings are IPv4 literals to a URL parser, and refused as what they are.
            ("https://2130706433/", "loopback"),
            ("https://0x7f.1/", "loopback"),
        ] {
            match refused(&s, url).await {
                Refused::Address(_, reason) => assert_eq!(reason, why, "{url}"),
                other => panic!("{url}: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_name_resolving_to_any_non_public_address_is_refused() {
        let s = sender(&[
            ("internal.example.com", &["10.0.0.5"]),
            ("metadata.example.com", &["169.254.169.254"]),
            ("cgnat.example.com", &["100.100.100.200"]),
            ("mapped.example.com", &["::ffff:10.0.0.1"]),
            ("v6local.example.com", &["fd00:ec2::254"]),
            // One public and one private answer: refused, or a race could pick the private one.
            ("mixed.example.com", &["93.184.216.34", "127.0.0.1"]),
            (
                "public.example.com",
                &["93.184.216.34", "2606:2800:220:1::1"],
            ),
        ]);
        for host in [
            "internal", "metadata", "cgnat", "mapped", "v6local", "mixed",
        ] {
            let url = format!("https://{host}.example.com/hook");
            assert!(
                matches!(refused(&s, &url).await, Refused::Address(..)),
                "{url}"
            );
        }
        let target = s.vet("https://public.example.com:8443/hook").await.unwrap();
        assert_eq!(
            target.addrs,
            vec![
                "93.184.216.34:8443".parse().unwrap(),
                "[2606:2800:220:1::1]:8443".parse().unwrap()
            ]
        );
    }

    #[tokio::test]
    async fn the_connection_goes_to_the_vetted_address_and_redirects_are_not_followed() {
        // In development mode a loopback receiver is allowed; the name resolves (in the fixed resolver only) to
        // it, so reaching it proves the connection used the vetted address, not a second lookup.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(|| async {
                (
                    axum::http::StatusCode::FOUND,
                    [("location", "http://169.254.169.254/")],
                )
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        let mut map = HashMap::new();
        map.insert("receiver.invalid", vec![addr.ip()]);
        let dev = Sender::new(Arc::new(FixedResolver(map)), true);
        let url = format!("http://receiver.invalid:{}/hook", addr.port());
        assert_eq!(
            dev.post(&url, &[], "{}".into()).await,
            Outcome::Answered(302)
        );
        // The same receiver with the guard on: refused before any connection.
        let guarded = Sender::new(dev.resolver.clone(), false);
        assert!(matches!(
            guarded
                .post(&url.replace("http:", "https:"), &[], "{}".into())
                .await,
            Outcome::Refused(Refused::Address(..))
        ));
    }
}
