//! Where `fetch` may go: the allow and deny lists, and the refusal of internal addresses
//! (loopback, private, link-local, cloud metadata...) checked on the URL, after DNS
//! resolution (the HTTP client connects only to the addresses this module's resolver
//! returns) and at every redirect.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::host::OpError;

/// Most redirects one `fetch` follows (as browsers and Node's fetch do).
const MAX_REDIRECTS: usize = 20;

/// One entry of the `fetch` allowlist: a host (or `*.` and a domain, for its subdomains)
/// and the one port it opens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AllowEntry {
    /// Lower-case host name or address; for a wildcard, the domain after `*.`.
    host: String,
    wildcard: bool,
    /// The port the entry names; `None`: the URL's scheme's default port only.
    port: Option<u16>,
}

impl AllowEntry {
    /// Parses `host`, `host:port`, `*.domain`, `*.domain:port` or `[v6]:port`; `None` for
    /// anything else (an entry that cannot be read allows nothing).
    pub(crate) fn parse(entry: &str) -> Option<AllowEntry> {
        let entry = entry.trim().to_ascii_lowercase();
        let (wildcard, rest) = match entry.strip_prefix("*.") {
            Some(r) => (true, r.to_owned()),
            None => (false, entry),
        };
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (addr, after) = v6.split_once(']')?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p.parse::<u16>().ok()?),
                None if after.is_empty() => None,
                None => return None,
            };
            (format!("[{addr}]"), port)
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p.parse::<u16>().ok()?)),
                None => (rest, None),
            }
        };
        if host.is_empty() || host.contains(['/', '@', '*', ' ']) {
            return None;
        }
        Some(AllowEntry {
            host,
            wildcard,
            port,
        })
    }

    /// Whether the entry names `host` (lower case), whatever the port.
    fn names_host(&self, host: &str) -> bool {
        if self.wildcard {
            host.strip_suffix(self.host.as_str())
                .is_some_and(|prefix| prefix.ends_with('.') && prefix.len() > 1)
        } else {
            host == self.host
        }
    }

    fn allows(&self, host: &str, port: Option<u16>, default_port: Option<u16>) -> bool {
        let host_ok = self.names_host(host);
        let port_ok = match self.port {
            Some(p) => port.or(default_port) == Some(p),
            None => port.is_none() || port == default_port,
        };
        host_ok && port_ok
    }
}

/// Whether `ip` is an address a sandboxed `fetch` must not reach unless the allowlist names
/// its host: loopback, private (RFC 1918, unique local), link-local (cloud metadata at
/// 169.254.169.254 included), shared (CGNAT), unspecified, multicast, broadcast, reserved and
/// documentation ranges, and IPv6 forms that embed such an IPv4 address.
pub(crate) fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return internal_v4(v4);
            }
            let s = v6.segments();
            let embedded = |hi: u16, lo: u16| {
                internal_v4(Ipv4Addr::new(
                    (hi >> 8) as u8,
                    hi as u8,
                    (lo >> 8) as u8,
                    lo as u8,
                ))
            };
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address.
                || (s[0] == 0x64 && s[1] == 0xff9b && embedded(s[6], s[7]))
                || (s[0] == 0x2002 && embedded(s[1], s[2]))
                // IPv4-compatible (deprecated) ::a.b.c.d.
                || (s[..6].iter().all(|&x| x == 0) && embedded(s[6], s[7]))
        }
    }
}

fn internal_v4(v4: Ipv4Addr) -> bool {
    let o = v4.octets();
    v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64)
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
        || (o[0] == 198 && (o[1] & 0xfe) == 18)
        || o[0] >= 240
}

/// The lists `fetch` obeys.
#[derive(Debug, Default)]
struct Lists {
    /// Whether an allowlist was configured: then only its hosts (even when none of its
    /// entries could be read, which allows nothing rather than everything).
    restricted: bool,
    /// The hosts of the allowlist (internal addresses included, when an entry names them).
    allowed: Vec<AllowEntry>,
    /// Hosts `fetch` never reaches.
    denied: Vec<AllowEntry>,
}

impl Lists {
    fn names(entries: &[AllowEntry], url: &reqwest::Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host.to_ascii_lowercase();
        let default_port = match url.scheme() {
            "http" => Some(80),
            "https" => Some(443),
            _ => None,
        };
        entries
            .iter()
            .any(|e| e.allows(&host, url.port(), default_port))
    }

    /// Whether an allowlist entry names `host` (whatever the port): its addresses are then
    /// not filtered.
    fn names_host(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        self.allowed.iter().any(|e| e.names_host(&host))
    }

    fn check(&self, url: &reqwest::Url) -> Result<(), OpError> {
        let refuse = |why: &str| {
            Err(OpError::new(
                "FETCH_NOT_ALLOWED",
                format!(
                    "fetch to {} is not allowed: {why}",
                    url.host_str().unwrap_or("")
                ),
            ))
        };
        if !matches!(url.scheme(), "http" | "https") {
            return refuse("only http and https URLs can be fetched");
        }
        if Self::names(&self.denied, url) {
            return refuse("the host is in the runtime's deny list");
        }
        let named = Self::names(&self.allowed, url);
        if self.restricted && !named {
            return refuse("the host is not in the runtime's allowlist");
        }
        // The URL parser writes every IPv4 spelling (`2130706433`, `0x7f.1`) in dotted form
        // and IPv6 addresses in brackets.
        let literal = url.host_str().and_then(|h| {
            h.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .ok()
        });
        if literal.is_some_and(is_internal) && !named {
            return refuse("the address is internal (loopback, private, link-local or metadata)");
        }
        Ok(())
    }
}

/// Where `fetch` may go, and the HTTP clients that obey it.
#[derive(Debug)]
pub(crate) struct FetchPolicy {
    /// The allowlist as configured (for `Debug` output).
    pub(crate) allowed: Vec<String>,
    lists: Arc<Lists>,
    pub(crate) client: Option<reqwest::Client>,
    /// The client of Node's `http`/`https`, which follow no redirect (the script sees the
    /// 3xx and its `Location`) and never decode a body (the script sees the bytes sent).
    pub(crate) manual_client: Option<reqwest::Client>,
}

impl FetchPolicy {
    /// A policy for these allowlist and deny list entries (see [`AllowEntry::parse`]; an
    /// entry that cannot be read is dropped from the allowlist, which then allows less, and
    /// makes the deny list refuse nothing more). With an empty allowlist, any public address.
    pub(crate) fn new(allowed: Vec<String>, denied: Vec<String>) -> Self {
        let parse = |l: &[String]| l.iter().filter_map(|a| AllowEntry::parse(a)).collect();
        let lists = Arc::new(Lists {
            restricted: !allowed.is_empty(),
            allowed: parse(&allowed),
            denied: parse(&denied),
        });
        let client = client(lists.clone());
        let manual_client = manual_client(lists.clone());
        FetchPolicy {
            allowed,
            lists,
            client,
            manual_client,
        }
    }

    /// Whether `url` may be requested (scheme, lists, and an address written in the URL);
    /// the addresses a host name resolves to are checked when the client connects.
    pub(crate) fn check(&self, url: &reqwest::Url) -> Result<(), OpError> {
        self.lists.check(url)
    }
}

/// The HTTP client of `fetch`: no proxy (it would connect on the script's behalf), redirects
/// checked hop by hop, host names resolved by [`PublicResolver`]. Like Node's `fetch`, it
/// asks for gzip and deflate bodies and decodes them (the decoded body is what the run's
/// body bound counts).
fn client(lists: Arc<Lists>) -> Option<reqwest::Client> {
    let for_redirects = lists.clone();
    reqwest::Client::builder()
        .no_proxy()
        .gzip(true)
        .deflate(true)
        .redirect(reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                return attempt.error("too many redirects");
            }
            match for_redirects.check(attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(e) => attempt.error(e.message),
            }
        }))
        .dns_resolver(Arc::new(PublicResolver { lists }))
        .timeout(Duration::from_secs(60))
        .build()
        .ok()
}

/// The client of Node's `http`: the same resolver, no proxy, no redirect followed (the one
/// URL requested is checked by [`FetchPolicy::check`]), and no content decoding, even if a
/// dependency turned on reqwest's decompression features.
fn manual_client(lists: Arc<Lists>) -> Option<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .no_gzip()
        .no_brotli()
        .no_deflate()
        .no_zstd()
        .dns_resolver(Arc::new(PublicResolver { lists }))
        .timeout(Duration::from_secs(60))
        .build()
        .ok()
}

/// Resolves host names with the system resolver and keeps only the addresses `fetch` may
/// reach: internal ones are dropped unless the allowlist names the host, so a public name
/// that resolves to a private address (or is rebound to one) leads nowhere.
struct PublicResolver {
    lists: Arc<Lists>,
}

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let lists = self.lists.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let open = lists.names_host(&host);
            let allowed: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| open || !is_internal(a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(format!(
                    "fetch to {host} is not allowed: it resolves only to internal addresses"
                )
                .into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(entries: &[&str], url: &str) -> bool {
        let p = FetchPolicy::new(entries.iter().map(|e| e.to_string()).collect(), Vec::new());
        p.check(&reqwest::Url::parse(url).unwrap()).is_ok()
    }

    #[test]
    fn allowlist_entries_open_one_port() {
        let table = [
            (&["api.example.com"][..], "https://api.example.com/x", true),
            (&["api.example.com"], "https://api.example.com:443/x", true),
            (&["api.example.com"], "http://api.example.com/x", true),
            (
                &["api.example.com"],
                "https://api.example.com:8443/x",
                false,
            ),
            (&["api.example.com"], "http://api.example.com:6379/", false),
            (
                &["api.example.com:8443"],
                "https://api.example.com:8443/",
                true,
            ),
            (&["api.example.com:8443"], "https://api.example.com/", false),
            (&["*.example.com"], "https://a.example.com/", true),
            (&["*.example.com"], "https://a.b.example.com/", true),
            (&["*.example.com"], "https://example.com/", false),
            (&["*.example.com"], "https://evilexample.com/", false),
            (&["*.example.com"], "https://a.example.com:22/", false),
            (&["*.example.com:8080"], "http://a.example.com:8080/", true),
            (&["127.0.0.1:3000"], "http://127.0.0.1:3000/", true),
            (&["127.0.0.1:3000"], "http://127.0.0.1:3001/", false),
            (&["127.0.0.1"], "http://127.0.0.1:3000/", false),
            (&["[::1]:3000"], "http://[::1]:3000/", true),
            (
                &["api.example.com:notaport"],
                "https://api.example.com/",
                false,
            ),
            (&["API.Example.com"], "https://api.EXAMPLE.com/", true),
        ];
        for (entries, url, expect) in table {
            assert_eq!(allows(entries, url), expect, "{entries:?} {url}");
        }
    }

    #[test]
    fn internal_addresses_are_recognized() {
        let internal = [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
        ];
        for ip in internal {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "8.8.8.8",
            "2606:4700:4700::1111",
            "172.32.0.1",
        ] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn without_an_allowlist_only_public_addresses_and_no_denied_host() {
        let p = FetchPolicy::new(Vec::new(), vec!["evil.example.com".into()]);
        let check = |u: &str| p.check(&reqwest::Url::parse(u).unwrap()).is_ok();
        assert!(check("https://api.example.com/x"));
        assert!(check("http://93.184.216.34/"));
        assert!(!check("https://evil.example.com/"));
        for u in [
            "http://127.0.0.1:8080/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://10.0.0.1/",
            "ftp://example.com/",
            "file:///etc/passwd",
        ] {
            assert!(!check(u), "{u}");
        }
        // An allowlist entry naming a private address opens it (a local service on purpose).
        let p = FetchPolicy::new(vec!["127.0.0.1:8080".into()], Vec::new());
        assert!(p
            .check(&reqwest::Url::parse("http://127.0.0.1:8080/").unwrap())
            .is_ok());
        assert!(p
            .check(&reqwest::Url::parse("https://api.example.com/").unwrap())
            .is_err());
    }
}
