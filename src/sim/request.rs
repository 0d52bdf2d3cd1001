//! Reading requests defensively: every helper here returns an error for malformed input and never
//! panics, whatever the client sends.

use super::response::SimError;
use crate::proto::base64;
use crate::proto::http::HttpRequest;
use crate::proto::url::Url;
use std::collections::HashSet;

/// The request URL, parsed. A bare path (`/oauth/v2/oauth-token?x=1`) is accepted too.
pub(crate) fn request_url(request: &HttpRequest) -> Option<Url> {
    match Url::parse(&request.url) {
        Ok(url) => Some(url),
        Err(_) if request.url.starts_with('/') => Url::parse("http://simulator.invalid").ok()?.join(&request.url).ok(),
        Err(_) => None,
    }
}

/// Most parameters read from one form body or query (a token request has fewer than ten).
/// More is refused before anything is decoded, so the work a request causes stays linear in its
/// size and small.
pub(crate) const MAX_PARAMS: usize = 64;

/// The first name that occurs twice, found in one pass.
fn first_duplicate<'a>(names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut seen = HashSet::new();
    names.into_iter().find(|n| !seen.insert(*n))
}

/// The media type of the request body, lowercased, without parameters (RFC 9110 §8.3.1).
pub(crate) fn media_type(request: &HttpRequest) -> Option<String> {
    request.header("content-type").map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
}

/// Form parameters of a request body (`application/x-www-form-urlencoded`).
#[derive(Debug, Default)]
pub(crate) struct Form(Vec<(String, String)>);

impl Form {
    /// Parses the body of a form `POST`. The content type must be a form (RFC 6749 §3.2), and no
    /// parameter may appear twice (RFC 6749 §3.1, §3.2: "MUST NOT be included more than once").
    pub fn parse(request: &HttpRequest) -> Result<Form, SimError> {
        match media_type(request).as_deref() {
            Some(crate::proto::http::FORM) => {}
            Some(other) => return Err(SimError::invalid_request(format!("the body must be application/x-www-form-urlencoded (RFC 6749 §3.2), not {other}"))),
            None => return Err(SimError::invalid_request("no Content-Type: send the parameters as application/x-www-form-urlencoded (RFC 6749 §3.2)")),
        }
        let body = request.body.as_deref().unwrap_or("");
        let count = body.split('&').filter(|p| !p.is_empty()).count();
        if count > MAX_PARAMS {
            return Err(SimError::invalid_request(format!("the form has {count} parameters; this server reads at most {MAX_PARAMS}")));
        }
        let params: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes()).into_owned().collect();
        if let Some(name) = first_duplicate(params.iter().map(|(n, _)| n.as_str())) {
            return Err(SimError::invalid_request(format!("parameter {name:?} appears more than once; send each parameter once (RFC 6749 §3.2)")));
        }
        Ok(Form(params))
    }

    /// A parameter; an empty value counts as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, v)| n == name && !v.is_empty()).map(|(_, v)| v.as_str())
    }
}

/// The scheme and credentials of an `Authorization` header (RFC 9110 §11.6.2), scheme
/// lowercased. `None` if there is no such header.
pub(crate) fn authorization(request: &HttpRequest) -> Option<(String, String)> {
    let value = request.header("authorization")?.trim();
    let (scheme, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    Some((scheme.to_ascii_lowercase(), rest.trim().to_owned()))
}

/// Decodes HTTP Basic credentials as RFC 6749 §2.3.1 requires: base64 of
/// `urlencode(client_id) ":" urlencode(secret)`, each half form-urldecoded.
pub(crate) fn decode_basic(credentials: &str) -> Result<(String, String), String> {
    let bytes = base64::decode_standard(credentials.trim()).map_err(|e| format!("the Basic credentials are not base64 ({e})"))?;
    let text = String::from_utf8(bytes).map_err(|_| "the Basic credentials are not UTF-8".to_owned())?;
    let (id, secret) = text.split_once(':').ok_or("the Basic credentials have no ':' between client_id and secret")?;
    Ok((form_urldecode(id)?, form_urldecode(secret)?))
}

/// `application/x-www-form-urlencoded` decoding of one value: `+` is a space, `%XX` a byte.
/// Malformed percent escapes are an error rather than passed through, so the client learns that
/// it encoded wrongly.
pub(crate) fn form_urldecode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).filter(|h| h.iter().all(u8::is_ascii_hexdigit)).and_then(|h| std::str::from_utf8(h).ok());
                let byte = hex
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("malformed percent escape at position {i} of a Basic credential"))?;
                out.push(byte);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| "a Basic credential does not decode to UTF-8".to_owned())
}

/// True if `query` parameters contain `name` more than once.
pub(crate) fn duplicate_param(url: &Url) -> Option<String> {
    let pairs = url.query_pairs();
    first_duplicate(pairs.iter().map(|(n, _)| n.as_str())).map(str::to_owned)
}

/// A query parameter (the first of that name).
pub(crate) fn query_param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs().into_iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

/// A numeric JWT claim (RFC 7519 §2 NumericDate), as whole seconds.
pub(crate) fn numeric_claim(claims: &serde_json::Map<String, serde_json::Value>, name: &str) -> Result<Option<i64>, String> {
    match claims.get(name) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().filter(|f| f.is_finite() && f.abs() < 1e15).map(|f| f.floor() as i64))
            .map(Some)
            .ok_or_else(|| format!("claim \"{name}\" must be a NumericDate (seconds since the epoch, RFC 7519 §2)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_halves_are_form_urldecoded() {
        let header = base64::encode_standard(b"dyn%3Aclient:pa+ss%25word");
        assert_eq!(decode_basic(&header).unwrap(), ("dyn:client".into(), "pa ss%word".into()));
        assert!(decode_basic(&base64::encode_standard(b"a:%zz")).is_err());
        assert!(decode_basic(&base64::encode_standard(b"a:%")).is_err());
        assert!(decode_basic(&base64::encode_standard(b"a:%+1")).is_err());
        assert!(decode_basic("!!!").is_err());
        assert!(decode_basic(&base64::encode_standard(b"nocolon")).is_err());
    }
}
