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
    #[error("webhook URL host must be a name of letters, digits and hyphens, or an IP address")]
    HostName,
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
        Some(Host::Domain(name)) if !is_dns_name(name) => return Err(EndpointError::HostName),
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

/// A name DNS could hold: labels of letters, digits and hyphens (an international name is already
/// in its `xn--` form here). The URL standard also lets through hosts such as `a*`.
fn is_dns_name(name: &str) -> bool {
    name.split('.').all(|label| {
        label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    })
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
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

/// IPv6 forms that embed an IPv4 address are judged by that address; forms that route to
/// addresses we cannot judge (local-use NAT64, Teredo) are refused; beyond those, only global
/// unicast (`2000::/3`) outside the ranges reserved for documentation, benchmarks and protocols.
fn is_public_v6(v6: std::net::Ipv6Addr) -> bool {
    use std::net::Ipv4Addr;
    let s = v6.segments();
    let embedded = |high: u16, low: u16| {
        is_public(IpAddr::V4(Ipv4Addr::from(
            (u32::from(high) << 16) | u32::from(low),
        )))
    };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return is_public(IpAddr::V4(v4));
    }
    match s {
        // ::/96, IPv4-compatible (deprecated), with :: and ::1.
        [0, 0, 0, 0, 0, 0, _, _] => false,
        // NAT64, well-known prefix 64:ff9b::/96.
        [0x64, 0xff9b, 0, 0, 0, 0, high, low] => embedded(high, low),
        // NAT64, local-use prefix 64:ff9b:1::/48.
        [0x64, 0xff9b, 1, ..] => false,
        // 6to4 2002::/16 carries its IPv4 relay in bits 16..48.
        [0x2002, high, low, ..] => embedded(high, low),
        // 2001::/23, IETF protocol assignments: Teredo 2001::/32, benchmarking, ORCHID, …
        [0x2001, second, ..] if second < 0x0200 => false,
        // Documentation: 2001:db8::/32 and 3fff::/20.
        [0x2001, 0x0db8, ..] => false,
        [0x3fff, second, ..] if second < 0x1000 => false,
        // Everything outside global unicast: unique local fc00::/7, link local fe80::/10, site
        // local fec0::/10, multicast ff00::/8, discard 100::/64, …
        [first, ..] => (first & 0xe000) == 0x2000,
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
    use std::str::FromStr;

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
        assert_eq!(parse("hTtp://A*/x", true), Err(EndpointError::HostName));
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
            "http://[::127.0.0.1]/x",
            "http://[::]/x",
            "http://[64:ff9b::7f00:1]/x",
            "http://[64:ff9b::a00:1]/x",
            "http://[64:ff9b:1::5db8:d822]/x",
            "http://[2002:7f00:1::1]/x",
            "http://[2002:c0a8:101::1]/x",
            "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/x",
            "http://[2001:2::1]/x",
            "http://[fec0::1]/x",
            "http://[fe80::1]/x",
            "http://[fd12:3456::1]/x",
            "http://[ff02::1]/x",
            "http://[100::1]/x",
            "http://[2001:db8::1]/x",
            "http://[3fff::1]/x",
        ] {
            assert_eq!(
                parse(url, false),
                Err(EndpointError::PrivateAddress),
                "{url}"
            );
            assert!(parse(url, true).is_ok(), "{url}");
        }
        for public in [
            "http://93.184.216.34/x",
            "http://[2606:2800:220:1:248:1893:25c8:1946]/x",
            "http://[::ffff:93.184.216.34]/x",
            "http://[64:ff9b::5db8:d822]/x",
            "http://[2002:5db8:d822::1]/x",
        ] {
            assert!(parse(public, false).is_ok(), "{public}");
        }
    }

    #[tokio::test]
    async fn refuses_names_that_resolve_inside() {
        assert_eq!(
            check("http://localhost:9/x", false).await,
            Err(EndpointError::PrivateAddress)
        );
        assert!(check("http://localhost:9/x", true).await.is_ok());
    }

    #[tokio::test]
    async fn the_delivery_resolver_never_hands_out_an_internal_address() {
        let resolved = PublicOnlyResolver
            .resolve(Name::from_str("localhost").unwrap())
            .await;
        assert!(resolved.is_err());
    }
}
