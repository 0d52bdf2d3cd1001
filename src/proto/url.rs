//! Absolute `http` and `https` URLs, as this protocol needs them: parsed strictly, compared by
//! origin (RFC 6454), stripped of their query for DPoP `htu` (RFC 9449 §4.2), and used to
//! resolve the relative `href`s of HAAPI representations (RFC 3986 §5.2).
//!
//! Deliberately narrower than a browser's URL parser, in the direction of safety: a URL with
//! user information (`https://good.example@evil.example/`), a non-ASCII or percent-encoded
//! host, whitespace or control characters is refused rather than guessed at.

use std::fmt;

/// An absolute `http` or `https` URL, normalised: lower-case scheme and host, no default port,
/// a path that is at least `/`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Url {
    scheme: String,
    host: String,
    port: Option<u16>,
    path: String,
    query: Option<String>,
    fragment: Option<String>,
}

/// Why a text is not a URL this crate accepts.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UrlError(pub String);

fn err(text: &str, why: &str) -> UrlError {
    UrlError(format!("{text:?} is not an absolute http(s) URL: {why}"))
}

impl Url {
    /// Parses an absolute `http://` or `https://` URL.
    pub fn parse(text: &str) -> Result<Url, UrlError> {
        if let Some(c) = text.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(err(text, &format!("it contains {c:?}")));
        }
        let (scheme, rest) = text.split_once("://").ok_or_else(|| err(text, "it has no scheme (https://…)"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(UrlError(format!("{text:?} must be an http(s) URL, not {scheme}:")));
        }
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.contains('@') {
            return Err(err(text, "user information (user@host) is not accepted: it hides the real host"));
        }
        let (host, port) = split_host_port(authority).map_err(|why| err(text, &why))?;
        let default = if scheme == "https" { 443 } else { 80 };
        let mut url = Url { scheme, host, port: port.filter(|p| *p != default), path: String::new(), query: None, fragment: None };
        url.set_tail(tail).map_err(|why| err(text, &why))?;
        Ok(url)
    }

    fn set_tail(&mut self, tail: &str) -> Result<(), String> {
        let (rest, fragment) = match tail.split_once('#') {
            Some((r, f)) => (r, Some(f.to_owned())),
            None => (tail, None),
        };
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q.to_owned())),
            None => (rest, None),
        };
        if let Some(bad) = path.chars().find(|c| matches!(c, '\\' | '"' | '<' | '>' | '^' | '`' | '{' | '|' | '}')) {
            return Err(format!("the path contains {bad:?}"));
        }
        self.path = if path.is_empty() { "/".to_owned() } else { remove_dot_segments(path) };
        self.query = query;
        self.fragment = fragment;
        Ok(())
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }
    /// The host, lower-case (an IPv6 address keeps its brackets).
    pub fn host(&self) -> &str {
        &self.host
    }
    /// The port, when it is not the scheme's default.
    pub fn port(&self) -> Option<u16> {
        self.port
    }
    /// The path, at least `/`.
    pub fn path(&self) -> &str {
        &self.path
    }
    /// The query, without `?`.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }
    /// The fragment, without `#`.
    pub fn fragment(&self) -> Option<&str> {
        self.fragment.as_deref()
    }

    /// The ASCII serialisation of the origin (RFC 6454 §6.2): `https://host[:port]`.
    pub fn origin(&self) -> String {
        match self.port {
            Some(p) => format!("{}://{}:{p}", self.scheme, self.host),
            None => format!("{}://{}", self.scheme, self.host),
        }
    }

    /// The URL without query and fragment: a DPoP `htu` (RFC 9449 §4.2).
    pub fn without_query(&self) -> String {
        format!("{}{}", self.origin(), self.path)
    }

    /// The path and query (what a request line carries).
    pub fn path_and_query(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.clone(),
        }
    }

    /// The query's `application/x-www-form-urlencoded` pairs, decoded.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.query.as_deref().unwrap_or("").as_bytes()).into_owned().collect()
    }

    /// Resolves a reference against this URL (RFC 3986 §5.2): an absolute URL, a
    /// network-path (`//host/…`), an absolute path (`/authn/…`), a query (`?…`) or a relative
    /// path. A reference with another scheme is refused.
    pub fn join(&self, reference: &str) -> Result<Url, UrlError> {
        if let Some(c) = reference.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(UrlError(format!("the reference {reference:?} contains {c:?}")));
        }
        if let Some(rest) = reference.strip_prefix("//") {
            return Url::parse(&format!("{}://{rest}", self.scheme));
        }
        // A scheme is letters, digits, + - . before a ':' that comes before any / ? # (§3.1).
        let first = reference.find(['/', '?', '#', ':']);
        if let Some(colon) = first.filter(|&i| reference.as_bytes()[i] == b':') {
            let scheme = &reference[..colon];
            let valid =
                scheme.starts_with(|c: char| c.is_ascii_alphabetic()) && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
            if valid && (scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
                return Url::parse(reference);
            }
            return Err(UrlError(format!("the reference {reference:?} is not an http(s) URL or a relative reference")));
        }
        let mut out = Url { fragment: None, ..self.clone() };
        let tail = if reference.starts_with('/') {
            reference.to_owned()
        } else if reference.starts_with('?') {
            format!("{}{reference}", self.path)
        } else if reference.starts_with('#') || reference.is_empty() {
            format!("{}{reference}", self.path_and_query())
        } else {
            let dir = &self.path[..self.path.rfind('/').map_or(0, |i| i + 1)];
            format!("{dir}{reference}")
        };
        out.set_tail(&tail).map_err(|why| UrlError(format!("the reference {reference:?}: {why}")))?;
        Ok(out)
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.origin(), self.path_and_query())?;
        if let Some(fr) = &self.fragment {
            write!(f, "#{fr}")?;
        }
        Ok(())
    }
}

fn split_host_port(authority: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let close = rest.find(']').ok_or("an IPv6 address without its closing ]")?;
        let (addr, after) = (&rest[..close], &rest[close + 1..]);
        if addr.is_empty() || !addr.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.') {
            return Err(format!("[{addr}] is not an IPv6 address"));
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or("text after the IPv6 address")?),
        };
        (format!("[{}]", addr.to_ascii_lowercase()), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_ascii_lowercase(), Some(p)),
            None => (authority.to_ascii_lowercase(), None),
        }
    };
    if host.is_empty() {
        return Err("it has no host".into());
    }
    if !host.starts_with('[') {
        if let Some(c) = host.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))) {
            return Err(if c.is_ascii() {
                format!("the host contains {c:?}")
            } else {
                "the host is not ASCII: write an internationalised name in its xn-- (punycode) form".into()
            });
        }
    }
    let port = match port {
        None => None,
        Some("") => None,
        Some(p) if p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => Some(p.parse::<u16>().map_err(|_| format!("port {p} is out of range"))?),
        Some(p) => return Err(format!("port {p:?} is not a number")),
    };
    Ok((host, port))
}

/// RFC 3986 §5.2.4.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len() - 1;
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    if joined.starts_with('/') {
        joined
    } else {
        format!("/{joined}")
    }
}

/// The origin of `url` (RFC 6454 §6.2), or `url` itself when it does not parse (so that a bad
/// URL never equals a good one's origin).
pub fn origin_of(url: &str) -> String {
    Url::parse(url).map(|u| u.origin()).unwrap_or_else(|_| url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        let u = Url::parse("HTTPS://Curity.Example:443/oauth/v2/oauth-token?x=1#f").unwrap();
        assert_eq!(
            (u.scheme(), u.host(), u.port(), u.path(), u.query(), u.fragment()),
            ("https", "curity.example", None, "/oauth/v2/oauth-token", Some("x=1"), Some("f"))
        );
        assert_eq!(u.origin(), "https://curity.example");
        assert_eq!(u.without_query(), "https://curity.example/oauth/v2/oauth-token");
        assert_eq!(Url::parse("http://127.0.0.1:8080").unwrap().to_string(), "http://127.0.0.1:8080/");
        assert_eq!(Url::parse("http://[::1]:9000/a").unwrap().origin(), "http://[::1]:9000");
    }

    #[test]
    fn refuses_what_could_deceive() {
        for bad in [
            "https://good.example@evil.example/",
            "https://exa mple.com/",
            "ftp://x/",
            "https://",
            "https://h:99999/",
            "https://xn--bcher-kva.example\u{0}/",
            "https://bücher.example/",
            "/relative",
            "https://a%2eb/",
        ] {
            assert!(Url::parse(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn resolves_references_rfc3986() {
        let base = Url::parse("https://as.example/dev/authn/authenticate?x=1").unwrap();
        let j = |r: &str| base.join(r).unwrap().to_string();
        assert_eq!(j("/authn/authenticate/htmlSql"), "https://as.example/authn/authenticate/htmlSql");
        assert_eq!(j("htmlSql"), "https://as.example/dev/authn/htmlSql");
        assert_eq!(j("../oauth/authorize?a=b"), "https://as.example/dev/oauth/authorize?a=b");
        assert_eq!(j("?y=2"), "https://as.example/dev/authn/authenticate?y=2");
        assert_eq!(j("https://other.example/p"), "https://other.example/p");
        assert_eq!(j("//other.example/p"), "https://other.example/p");
        assert!(base.join("javascript:alert(1)").is_err());
        assert!(base.join("data:text/html,x").is_err());
    }
}
