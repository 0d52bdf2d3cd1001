//! PEM (RFC 7468): labelled base64 blocks, read leniently (CRLF line ends, surrounding
//! whitespace, text around the blocks) and written strictly (64-column lines, LF).

use super::base64;

/// One PEM block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PemBlock {
    /// The label, e.g. `PRIVATE KEY`.
    pub label: String,
    /// The decoded DER.
    pub der: Vec<u8>,
}

/// Why a text is not PEM.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PemError(pub String);

/// Every block in `text`, in order. Lines outside blocks (explanatory text, as `openssl` writes
/// before certificates) are ignored; a block without its end line is an error.
pub fn parse_all(text: &str) -> Result<Vec<PemBlock>, PemError> {
    let mut blocks = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(label) = line.strip_prefix("-----BEGIN ").and_then(|l| l.strip_suffix("-----")) else { continue };
        let end = format!("-----END {label}-----");
        let mut body = String::new();
        let mut closed = false;
        for line in lines.by_ref() {
            if line == end {
                closed = true;
                break;
            }
            if line.contains(':') {
                // RFC 1421 headers (Proc-Type, DEK-Info): an encrypted legacy key.
                return Err(PemError(format!(
                    "the {label} block has headers ({line}): it is encrypted; decrypt it first (for example openssl pkey -in key.pem -out plain.pem)"
                )));
            }
            body.push_str(line);
        }
        if !closed {
            return Err(PemError(format!("the {label} block has no \"{end}\" line")));
        }
        let der = base64::decode_standard(&body).map_err(|e| PemError(format!("the {label} block is not base64: {e}")))?;
        blocks.push(PemBlock { label: label.to_owned(), der });
    }
    Ok(blocks)
}

/// The text as one PEM block of an expected kind.
pub fn parse_one(text: &str) -> Result<PemBlock, PemError> {
    let mut blocks = parse_all(text)?;
    match blocks.len() {
        0 => Err(PemError("no PEM block (-----BEGIN …-----) found".into())),
        1 => Ok(blocks.remove(0)),
        n => Err(PemError(format!("{n} PEM blocks found where one was expected"))),
    }
}

/// Writes `der` as a PEM block with `label`.
pub fn encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::encode_standard(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_lenient_reading() {
        let pem = encode("TEST", &[1, 2, 3, 250]);
        assert_eq!(parse_one(&pem).unwrap(), PemBlock { label: "TEST".into(), der: vec![1, 2, 3, 250] });
        let crlf = format!("  some text\r\n{}\r\n", pem.replace('\n', "\r\n"));
        assert_eq!(parse_one(&crlf).unwrap().der, vec![1, 2, 3, 250]);
        assert_eq!(parse_all(&format!("{pem}{pem}")).unwrap().len(), 2);
        assert!(parse_one("-----BEGIN X-----\nAAAA\n").is_err());
        assert!(parse_one("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nAAAA\n-----END RSA PRIVATE KEY-----").unwrap_err().0.contains("encrypted"));
    }
}
