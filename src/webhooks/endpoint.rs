//! Merchant endpoint URLs: http(s), no credentials, and (unless allowed) no loopback, private,
//! link-local or otherwise internal addresses, so that a webhook URL cannot reach our own network.

use std::net::{IpAddr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EndpointError {
    #[error("webhook URL is not a valid absolute URL")]
    NotAUrl,
    #[error("webhook URL must use http or https")]
    Scheme,
    #[error("webhook URL must not carry credentials")]
    Credentials,
    #[error("webhook URL has no host")]
    NoHost,
    #[error("webhook URL resolves to a loopback, private or internal address")]
    PrivateAddress,
    #[error("webhook URL host does not resolve")]
    Unresolvable,
}

/// Parses and checks the URL's form; a literal IP address is checked here too.
pub fn parse(text: &str, allow_private: bool) -> Result<Url, EndpointError> {
    let url = Url::parse(text).map_err(|_| EndpointError::NotAUrl)?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(EndpointError::Scheme);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(EndpointError::Credentials);
    }
    let ip = match url.host() {
        None => return Err(EndpointError::NoHost),
        Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        Some(Host::Domain(_)) => None,
    };
    if let Some(ip) = ip
        && !allow_private
        && !is_public(ip)
    {
        return Err(EndpointError::PrivateAddress);
    }
    Ok(url)
}

/// Parses, then resolves the host and refuses it if any address it resolves to is internal.
pub async fn check(text: &str, allow_private: bool) -> Result<Url, EndpointError> {
    let url = parse(text, allow_private)?;
    if allow_private {
        return Ok(url);
    }
    if let Some(Host::Domain(domain)) = url.host() {
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((domain, port))
            .await
            .map_err(|_| EndpointError::Unresolvable)?
            .collect();
        if addrs.is_empty() {
            return Err(EndpointError::Unresolvable);
        }
        if addrs.iter().any(|a| !is_public(a.ip())) {
            return Err(EndpointError::PrivateAddress);
        }
    }
    Ok(url)
}

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
                || (a == 198 && (b == 18 || b == 19)) // benchmarking
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80) // link local
        }
    }
}

/// A resolver for the delivery client that drops internal addresses at connection time, so a name
/// that resolved to a public address when it was set cannot later be pointed inside.
pub struct PublicOnlyResolver;

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err("webhook host resolves only to internal addresses".into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_forms() {
        assert_eq!(parse("not a url", true), Err(EndpointError::NotAUrl));
        assert_eq!(
            parse("ftp://example.com/x", true),
            Err(EndpointError::Scheme)
        );
        assert_eq!(
            parse("https://user:pw@example.com/x", true),
            Err(EndpointError::Credentials)
        );
        assert!(parse("https://example.com/hooks", false).is_ok());
    }

    #[test]
    fn refuses_internal_literals_unless_allowed() {
        for url in [
            "http://127.0.0.1:8080/x",
            "http://10.1.2.3/x",
            "http://192.168.0.1/x",
            "http://169.254.169.254/latest",
            "http://[::1]/x",
            "http://[fd00::1]/x",
            "http://[::ffff:127.0.0.1]/x",
            "http://0.0.0.0/x",
        ] {
            assert_eq!(
                parse(url, false),
                Err(EndpointError::PrivateAddress),
                "{url}"
            );
            assert!(parse(url, true).is_ok(), "{url}");
        }
        assert!(parse("http://93.184.216.34/x", false).is_ok());
    }

    #[tokio::test]
    async fn refuses_names_that_resolve_inside() {
        assert_eq!(
            check("http://localhost:9/x", false).await,
            Err(EndpointError::PrivateAddress)
        );
        assert!(check("http://localhost:9/x", true).await.is_ok());
    }
}
