//! Who is calling, as far as the network can tell: the client IP (for rate limits and audit) and the user agent.
//!
//! The IP comes only from what the platform itself observed, never from a header the client can set
//! (ASVS 15.3.4): API Gateway's request context (`requestContext.http.sourceIp`, the peer of API Gateway's own
//! TCP connection) on Lambda, else the socket peer in the dev server (served with
//! `into_make_service_with_connect_info::<SocketAddr>()`). `X-Forwarded-For`, `X-Real-IP` and `Forwarded` are
//! ignored on purpose: anyone can send them. If a CDN is ever put in front of API Gateway, the source IP becomes
//! the CDN's and this module must learn that CDN's trusted hop, not start trusting headers in general.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, header};
use lambda_http::request::RequestContext;

/// Longest user agent kept (characters); longer ones are cut, so logs and audit records stay bounded.
pub const MAX_USER_AGENT_CHARS: usize = 512;

/// The caller's network identity. Extracting it never fails: unknown parts are `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client IP as observed by API Gateway or the dev server's socket; `None` when neither is known
    /// (in-process tests).
    pub ip: Option<IpAddr>,
    /// The `User-Agent` header, at most [`MAX_USER_AGENT_CHARS`] characters, control characters removed.
    /// Client-controlled: fine for display and audit, never for decisions.
    pub user_agent: Option<String>,
}

impl ClientInfo {
    /// Reads the client information out of a request's extensions and headers.
    pub fn from_parts(extensions: &Extensions, headers: &HeaderMap) -> Self {
        Self {
            ip: client_ip(extensions),
            user_agent: user_agent(headers),
        }
    }
}

/// The client IP: API Gateway's request context first, then the dev server's socket peer.
pub fn client_ip(extensions: &Extensions) -> Option<IpAddr> {
    if let Some(RequestContext::ApiGatewayV2(ctx)) = extensions.get::<RequestContext>() {
        // On Lambda the context is authoritative: if it has no parseable IP, nothing else is trustworthy either.
        return ctx
            .http
            .source_ip
            .as_deref()
            .and_then(|ip| ip.trim().parse::<IpAddr>().ok())
            .map(|ip| ip.to_canonical());
    }
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_canonical())
}

/// The user agent, cut to [`MAX_USER_AGENT_CHARS`] characters with control characters removed (they could
/// forge log lines or break CSV exports of audit records).
pub fn user_agent(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get(header::USER_AGENT)?;
    // Header values may hold obs-text bytes; decode leniently rather than dropping the whole value.
    let text = String::from_utf8_lossy(raw.as_bytes());
    let clean: String = text
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_USER_AGENT_CHARS)
        .collect();
    let clean = clean.trim();
    (!clean.is_empty()).then(|| clean.to_string())
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(&parts.extensions, &parts.headers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderValue, Request};
    use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;

    fn api_gateway(ip: &str) -> RequestContext {
        let mut ctx = ApiGatewayV2httpRequestContext::default();
        ctx.http.source_ip = Some(ip.to_string());
        RequestContext::ApiGatewayV2(ctx)
    }

    async fn extract(request: Request<()>) -> ClientInfo {
        let (mut parts, ()) = request.into_parts();
        match ClientInfo::from_request_parts(&mut parts, &()).await {
            Ok(info) => info,
            Err(never) => match never {},
        }
    }

    fn spoofed() -> axum::http::request::Builder {
        Request::builder()
            .header("x-forwarded-for", "6.6.6.6")
            .header("x-real-ip", "6.6.6.7")
            .header("forwarded", "for=6.6.6.8")
    }

    #[tokio::test]
    async fn spoofed_forwarding_headers_are_ignored() {
        let info = extract(spoofed().body(()).unwrap()).await;
        assert_eq!(info.ip, None);
        let mut request = spoofed().body(()).unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 9], 5555))));
        assert_eq!(extract(request).await.ip, Some("10.0.0.9".parse().unwrap()));
    }

    #[tokio::test]
    async fn api_gateway_context_wins_over_socket_and_headers() {
        let mut request = spoofed().body(()).unwrap();
        request.extensions_mut().insert(api_gateway("203.0.113.7"));
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 9], 5555))));
        assert_eq!(
            extract(request).await.ip,
            Some("203.0.113.7".parse().unwrap())
        );
    }

    #[tokio::test]
    async fn api_gateway_context_without_ip_does_not_fall_back() {
        let mut request = spoofed().body(()).unwrap();
        request.extensions_mut().insert(api_gateway("not an ip"));
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 9], 5555))));
        assert_eq!(extract(request).await.ip, None);
    }

    #[tokio::test]
    async fn dev_server_socket_peer_is_used_and_mapped_v4_is_canonical() {
        let mut request = Request::builder().body(()).unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(mapped, 4000)));
        assert_eq!(
            extract(request).await.ip,
            Some("192.0.2.1".parse().unwrap())
        );
    }

    #[tokio::test]
    async fn user_agent_is_cleaned_and_bounded() {
        let long = format!("Mozilla/5.0 {}", "x".repeat(2000));
        let info = extract(
            Request::builder()
                .header(header::USER_AGENT, long)
                .body(())
                .unwrap(),
        )
        .await;
        assert_eq!(
            info.user_agent.as_ref().map(|u| u.chars().count()),
            Some(MAX_USER_AGENT_CHARS)
        );

        let mut headers = HeaderMap::new();
        headers.insert(
            header::USER_AGENT,
            HeaderValue::from_bytes(b"app/1.0\tfake\xffline").unwrap(),
        );
        assert_eq!(
            user_agent(&headers).as_deref(),
            Some("app/1.0fake\u{fffd}line")
        );

        headers.insert(header::USER_AGENT, HeaderValue::from_static("   "));
        assert_eq!(user_agent(&headers), None);
        assert_eq!(user_agent(&HeaderMap::new()), None);
    }
}
