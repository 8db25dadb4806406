//! Which URLs this server calls on a tenant's behalf: the SSRF defence of sign-in (identity
//! providers, workload issuers) and of audit sinks ([`Addresses`], with their own opt-ins).
//!
//! An SSO connection's issuer (or `endpoint_override`) is chosen by whoever holds `admin:sso` in
//! a tenant workspace, and the discovery document it serves names the token endpoint and the
//! JWKS, which we then call too (the token endpoint with the client secret). Anyone can make us
//! call them: `GET /v1/sso/login` is unauthenticated. Without limits, a tenant administrator
//! could make our server call our own loopback services, the cloud metadata endpoint
//! (169.254.169.254) or hosts of our private network, and read the outcome in the refusal.
//!
//! So a production server ([`Reach::Public`]) calls only `https` URLs whose host is, and
//! resolves to, a public address: IP literals are checked before the request, names in the
//! resolver ([`Resolver`]), so the address checked is the address connected to (no DNS
//! rebinding between a check and the connection). Redirects are never followed (`oidc.rs`).
//!
//! Plain `http` and loopback addresses are for development and tests only, and only with the
//! explicit opt-in `--allow-loopback-idps` (`STATUSPULSE_ALLOW_LOOPBACK_IDPS`; [`Reach::of`]):
//! then, as the connection rules say (`statuspulse_api::validate::https_url`), plain `http` is
//! allowed on a loopback address, for discovered endpoints too; private and link-local
//! addresses stay refused even so. (An opt-in, not an inference from the public URL: a
//! production server bound to loopback behind a proxy must not expose its own loopback.)

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Where sign-in may reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Production: `https` to public addresses only.
    Public,
    /// A development or test server (its public URL is plain `http` on loopback): also
    /// loopback addresses, there plain `http` too.
    Local,
}

impl Reach {
    /// Whether a connection to `ip` is allowed.
    pub fn allows(self, ip: IpAddr) -> bool {
        self.addresses().allows(ip)
    }

    /// The addresses this reach may connect to.
    pub fn addresses(self) -> Addresses {
        Addresses {
            loopback: self == Reach::Local,
            private: false,
        }
    }

    /// The reach the server's settings give: [`Reach::Local`] only with the explicit
    /// development opt-in (`--allow-loopback-idps`), [`Reach::Public`] otherwise.
    pub fn of(settings: &crate::platform::config::Settings) -> Reach {
        if settings.allow_loopback_idps {
            Reach::Local
        } else {
            Reach::Public
        }
    }
}

/// Why a URL is not called.
pub const REFUSED_CODE: &str = "idp_url_refused";

/// Checks a URL sign-in is about to call or send a browser to. The detail names the URL (it
/// is the IdP's, never a secret) and why.
pub fn check(url: &str, reach: Reach) -> Result<reqwest::Url, String> {
    check_addresses(url, reach.addresses())
}

/// Which addresses an outbound call may connect to beyond the public internet. Audit sinks
/// take theirs from their own operator opt-ins (`--allow-loopback-sinks`,
/// `--allow-private-sinks`); link-local addresses (the cloud metadata endpoint) are never
/// reachable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Addresses {
    /// Loopback addresses, and plain `http` there (development and tests).
    pub loopback: bool,
    /// Private networks: RFC 1918, shared (CGNAT) and IPv6 unique local addresses.
    pub private: bool,
}

impl Addresses {
    /// Whether a connection to `ip` is allowed.
    pub fn allows(self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        is_public(ip) || (self.loopback && ip.is_loopback()) || (self.private && is_private(ip))
    }
}

/// RFC 1918, shared address space (CGNAT) and IPv6 unique local addresses.
fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private() || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

/// [`check`] for any [`Addresses`].
pub fn check_addresses(url: &str, addresses: Addresses) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url).map_err(|_| format!("`{url}` is not an absolute URL"))?;
    if parsed.host().is_none() {
        return Err(format!("`{url}` names no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!("`{url}` carries credentials"));
    }
    match parsed.scheme() {
        "https" => {}
        "http" if addresses.loopback && host_is_loopback(&parsed) => {}
        "http" if addresses.loopback => {
            return Err(format!("`{url}` uses plain http off loopback; use https"))
        }
        _ => return Err(format!("`{url}` does not use https")),
    }
    let host = parsed.host_str().unwrap_or_default();
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    let local_name = name == "localhost" || name.ends_with(".localhost");
    let refused_literal = ip_literal(&parsed).is_some_and(|ip| !addresses.allows(ip));
    if refused_literal || (local_name && !addresses.loopback) {
        return Err(not_public(url));
    }
    Ok(parsed)
}

fn not_public(what: &str) -> String {
    format!("{what} is on a loopback, private, link-local or otherwise internal address")
}

/// The host of `url` when it is an IP address (the URL parser has already normalised forms
/// such as `127.1` or `0x7f000001` into dotted quads; IPv6 comes in brackets).
fn ip_literal(url: &reqwest::Url) -> Option<IpAddr> {
    let host = url.host_str()?;
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().ok()
}

fn host_is_loopback(url: &reqwest::Url) -> bool {
    match ip_literal(url) {
        Some(ip) => ip.is_loopback(),
        None => url
            .host_str()
            .is_some_and(|h| h.eq_ignore_ascii_case("localhost")),
    }
}

/// Whether `ip` is an address of the public internet: not loopback, private (RFC 1918, IPv6
/// unique local), link-local (the cloud metadata endpoint among them), shared (CGNAT),
/// unspecified, multicast, broadcast, documentation, benchmarking or reserved; IPv4 in IPv6
/// (mapped, NAT64, 6to4) is judged by the IPv4 address it carries.
pub fn is_public(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if ip.is_loopback() || ip.is_unspecified() || ip.is_multicast() {
        return false;
    }
    if (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8)
    // documentation
    {
        return false;
    }
    let embedded = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach the IPv4 address they carry.
    if s[0] == 0x0064 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return is_public_v4(embedded(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return is_public_v4(embedded(s[1], s[2]));
    }
    true
}

/// The resolver of the IdP clients: a name resolves to the addresses its [`Reach`] allows (public
/// ones; and loopback on a development server), and to an error when it has none, so the
/// connection is made to an address that was checked.
#[derive(Debug)]
pub struct Resolver(pub Addresses);

/// The resolver's refusal, recognised in a reqwest error's sources ([`is_refusal`]).
#[derive(Debug)]
pub struct NotPublic(String);

impl std::fmt::Display for NotPublic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&not_public(&self.0))
    }
}

impl std::error::Error for NotPublic {}

impl Resolve for Resolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let addresses = self.0;
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| addresses.allows(a.ip()))
                .collect();
            if public.is_empty() {
                return Err(Box::new(NotPublic(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// Whether a request failed because the resolver refused the host's addresses.
pub fn is_refusal(error: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<NotPublic>() {
            return true;
        }
        source = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_explicit_opt_in_reaches_loopback() {
        let mut settings = crate::platform::config::Settings::for_database("sqlite::memory:");
        settings.public_url = Some("http://127.0.0.1:8080".into());
        assert_eq!(
            Reach::of(&settings),
            Reach::Public,
            "a loopback public URL is no opt-in"
        );
        settings.allow_loopback_idps = true;
        assert_eq!(Reach::of(&settings), Reach::Local);
    }

    #[test]
    fn production_calls_https_on_public_addresses_only() {
        for ok in [
            "https://idp.example.com/.well-known/openid-configuration",
            "https://8.8.8.8/jwks",
            "https://[2606:4700::1111]/token",
        ] {
            assert!(check(ok, Reach::Public).is_ok(), "{ok}");
        }
        for bad in [
            "http://idp.example.com/token",
            "http://127.0.0.1:5432/",
            "https://127.0.0.1:5432/",
            "https://127.1/",
            "https://0x7f000001/",
            "https://localhost/",
            "https://LOCALHOST./",
            "https://foo.localhost/",
            "https://[::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:a9fe:a9fe]/",
            "https://169.254.169.254/latest/meta-data/",
            "https://10.1.2.3/",
            "https://172.16.0.1/",
            "https://192.168.1.1/",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://[fd00::1]/",
            "https://[fe80::1]/",
            "https://[64:ff9b::a9fe:a9fe]/",
            "https://[2002:7f00:1::]/",
            "https://user:pw@idp.example.com/",
            "file:///etc/passwd",
            "gopher://idp.example.com/",
            "/relative",
        ] {
            assert!(check(bad, Reach::Public).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_development_server_reaches_loopback_but_plain_http_only_there() {
        for ok in [
            "http://127.0.0.1:9000/jwks",
            "http://localhost:9000/",
            "https://[::1]:9000/",
            "https://idp.example.com/",
        ] {
            assert!(check(ok, Reach::Local).is_ok(), "{ok}");
        }
        for bad in [
            "http://169.254.169.254/latest/meta-data/",
            "https://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/",
            "https://10.0.0.1/",
            "https://[fd00::1]/",
            "http://idp.example.com/",
            "ftp://127.0.0.1/",
        ] {
            assert!(check(bad, Reach::Local).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn names_resolve_to_public_addresses_only() {
        let refused = Resolver(Reach::Public.addresses())
            .resolve("localhost".parse().unwrap())
            .await
            .err()
            .unwrap();
        assert!(refused.is::<NotPublic>(), "{refused}");
        let local: Vec<SocketAddr> = Resolver(Reach::Local.addresses())
            .resolve("localhost".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert!(local.iter().all(|a| a.ip().is_loopback()) && !local.is_empty());
    }
}
