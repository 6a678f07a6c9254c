//! Who is calling an approval endpoint. A provider's signer (ChainUp Co-Signer) posts plaintext
//! with no proof of origin, and its answer decides whether money leaves: so each such account has
//! a shared secret (`Authorization: Bearer …` or `?token=…`) and, optionally, the networks it may
//! call from. A forwarded-for header counts only when the peer is a trusted proxy.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};

use crate::config::{Settings, SettingsError, resolve_secret};
use crate::providers::crypto::constant_time_eq;
use crate::providers::{ApprovalEndpoint, Registry};

/// The credentials one account's approval endpoint accepts.
pub struct ApprovalGuard {
    /// `None` only in simulator mode: every call is then refused.
    token: Option<SecretString>,
    allow_from: Vec<IpNet>,
}

/// Why a call was not let in; said to ops, never to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallerRefusal {
    #[error("this account has no approval token configured")]
    NoTokenConfigured,
    #[error("no approval token given")]
    MissingToken,
    #[error("wrong approval token")]
    WrongToken,
    #[error("source address {0} is not in the account's allow_from")]
    SourceNotAllowed(String),
}

impl ApprovalGuard {
    pub fn new(token: Option<SecretString>, allow_from: Vec<IpNet>) -> ApprovalGuard {
        ApprovalGuard { token, allow_from }
    }

    /// Lets the call in when its source is allowed and it carries the account's token.
    pub fn check(
        &self,
        source: Option<IpAddr>,
        headers: &HeaderMap,
        query: Option<&str>,
    ) -> Result<(), CallerRefusal> {
        if !self.allow_from.is_empty() {
            let allowed = source.is_some_and(|ip| self.allow_from.iter().any(|n| n.contains(&ip)));
            if !allowed {
                let shown = source.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
                return Err(CallerRefusal::SourceNotAllowed(shown));
            }
        }
        let expected = self
            .token
            .as_ref()
            .ok_or(CallerRefusal::NoTokenConfigured)?;
        let given = bearer_token(headers)
            .or_else(|| query.and_then(query_token))
            .ok_or(CallerRefusal::MissingToken)?;
        if constant_time_eq(&given, expected.expose_secret()) {
            Ok(())
        } else {
            Err(CallerRefusal::WrongToken)
        }
    }
}

fn bearer_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
}

fn query_token(query: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == "token")
        .map(|(_, value)| value.into_owned())
        .filter(|t| !t.is_empty())
}

/// The caller's address: the peer, or, when the peer is a trusted proxy, the last address in
/// `X-Forwarded-For` that is not itself a trusted proxy. `None` when that header is unreadable.
pub fn source_address(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    let peer = peer.ip().to_canonical();
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let mut hops = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        for hop in value.to_str().ok()?.split(',') {
            hops.push(hop.trim().parse::<IpAddr>().ok()?.to_canonical());
        }
    }
    Some(
        hops.iter()
            .rev()
            .find(|ip| !is_trusted(ip))
            .or(hops.first())
            .copied()
            .unwrap_or(peer),
    )
}

/// One guard per account that takes approval calls. Outside simulator mode such an account
/// without a token stops the gateway from starting.
pub fn approval_guards(
    settings: &Settings,
    registry: &Registry,
) -> Result<HashMap<String, ApprovalGuard>, SettingsError> {
    let mut guards = HashMap::new();
    for provider in registry
        .all()
        .filter(|p| p.approvals() == ApprovalEndpoint::Token)
    {
        let id = provider.account_id();
        let Some(account) = settings.providers.iter().find(|a| a.id == id) else {
            continue;
        };
        let approvals = account.approvals.clone().unwrap_or_default();
        let token = match (&approvals.token, &approvals.token_env) {
            (None, None) => None,
            _ => Some(resolve_secret(
                approvals.token.as_ref(),
                approvals.token_env.as_deref(),
                None,
                &format!("account {id:?} approvals token"),
            )?),
        };
        if token.is_none() {
            if !account.uses_simulator() {
                return Err(SettingsError::Invalid(format!(
                    "account {id:?} takes withdrawal approvals, which need a secret: set \
                     [providers.approvals] token_env to an environment variable holding a long \
                     random token, and give the signer the callback URL \
                     /callbacks/{id}/approvals?token=<that token>"
                )));
            }
            tracing::warn!(
                account = id,
                "no approval token set: every approval call to this account will be refused"
            );
        }
        guards.insert(
            id.to_owned(),
            ApprovalGuard::new(token, approvals.allow_from),
        );
    }
    Ok(guards)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    fn net(text: &str) -> IpNet {
        text.parse().unwrap()
    }

    #[test]
    fn a_token_is_taken_from_the_header_or_the_query() {
        let guard = ApprovalGuard::new(Some("s3cret".into()), Vec::new());
        let local = Some("127.0.0.1".parse().unwrap());
        assert_eq!(
            guard.check(local, &headers(&[("authorization", "Bearer s3cret")]), None),
            Ok(())
        );
        assert_eq!(
            guard.check(local, &HeaderMap::new(), Some("a=1&token=s3cret")),
            Ok(())
        );
        assert_eq!(
            guard.check(local, &HeaderMap::new(), Some("token=s3cre")),
            Err(CallerRefusal::WrongToken)
        );
        assert_eq!(
            guard.check(local, &HeaderMap::new(), None),
            Err(CallerRefusal::MissingToken)
        );
        let unset = ApprovalGuard::new(None, Vec::new());
        assert_eq!(
            unset.check(local, &HeaderMap::new(), Some("token=")),
            Err(CallerRefusal::NoTokenConfigured)
        );
    }

    #[test]
    fn the_source_must_be_allowed_even_with_the_token() {
        let guard = ApprovalGuard::new(Some("t".into()), vec![net("10.0.0.0/8")]);
        let query = Some("token=t");
        assert_eq!(
            guard.check(Some("10.2.3.4".parse().unwrap()), &HeaderMap::new(), query),
            Ok(())
        );
        assert_eq!(
            guard.check(
                Some("192.168.1.1".parse().unwrap()),
                &HeaderMap::new(),
                query
            ),
            Err(CallerRefusal::SourceNotAllowed("192.168.1.1".into()))
        );
        assert!(guard.check(None, &HeaderMap::new(), query).is_err());
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let forwarded = headers(&[("x-forwarded-for", "10.9.9.9, 10.1.1.1")]);
        assert_eq!(
            source_address(peer, &forwarded, &[]),
            Some("127.0.0.1".parse().unwrap()),
            "an untrusted peer's header is ignored"
        );
        assert_eq!(
            source_address(peer, &forwarded, &[net("127.0.0.1/32")]),
            Some("10.1.1.1".parse().unwrap()),
            "the nearest hop that is not a proxy"
        );
        assert_eq!(
            source_address(peer, &forwarded, &[net("127.0.0.1/32"), net("10.1.1.1/32")]),
            Some("10.9.9.9".parse().unwrap())
        );
        assert_eq!(
            source_address(
                peer,
                &headers(&[("x-forwarded-for", "garbage")]),
                &[net("127.0.0.1/32")]
            ),
            None
        );
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:5000".parse().unwrap();
        assert_eq!(
            source_address(mapped, &HeaderMap::new(), &[]),
            Some("127.0.0.1".parse().unwrap())
        );
    }
}
