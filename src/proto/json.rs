//! JSON text to [`serde_json::Value`] (RFC 8259), written for this crate's WebAssembly modules:
//! one small non-generic parser instead of `serde_json`'s generic deserializer, with a nesting
//! limit so hostile input (a server's body, a pasted document) cannot exhaust the stack.
//!
//! `serde_json` still provides the `Value` type and writes JSON text (`Value::to_string`).

use serde_json::{Map, Number, Value};
use std::fmt;

/// Deepest nesting of arrays and objects accepted (serde_json's default recursion limit).
pub const MAX_DEPTH: usize = 128;

/// Why a text is not JSON, and where (1-based line and column, in characters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError {
    /// What is wrong.
    pub message: &'static str,
    /// The line.
    pub line: usize,
    /// The column.
    pub column: usize,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at line {} column {}", self.message, self.line, self.column)
    }
}

impl std::error::Error for JsonError {}

/// What kind of JSON value `v` is, as an error message says it: "a string", "an object", ….
pub fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A map built by inserting the pairs one at a time. `collect()` into a `BTreeMap` (or a
/// `serde_json::Map`, one underneath) sorts the pairs first with a stable sort compiled once per
/// pair type, about 3 KB of WebAssembly each; inserting needs nothing the map does not already
/// have. Later pairs replace earlier ones with the same key, as with `collect()`.
pub fn map_of<K: Ord, V>(pairs: impl IntoIterator<Item = (K, V)>) -> std::collections::BTreeMap<K, V> {
    let mut map = std::collections::BTreeMap::new();
    for (k, v) in pairs {
        map.insert(k, v);
    }
    map
}

/// A JSON object from its members, inserted one at a time (see [`map_of`]).
pub fn object_of(members: impl IntoIterator<Item = (String, Value)>) -> Value {
    let mut map = Map::new();
    for (k, v) in members {
        map.insert(k, v);
    }
    Value::Object(map)
}

/// Parses one JSON value (surrounding whitespace allowed, nothing else after it).
pub fn parse(text: &str) -> Result<Value, JsonError> {
    let mut p = Parser { s: text.as_bytes(), i: 0 };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.i < p.s.len() {
        return Err(p.error("trailing characters after the JSON value"));
    }
    Ok(v)
}

/// Parses a JSON object (`{…}`): its members, or an error that says what else it was.
pub fn parse_object(text: &str) -> Result<Map<String, Value>, JsonError> {
    match parse(text)? {
        Value::Object(m) => Ok(m),
        _ => Err(JsonError { message: "expected a JSON object", line: 1, column: 1 }),
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn error(&self, message: &'static str) -> JsonError {
        let before = &self.s[..self.i.min(self.s.len())];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let start = before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        let column = 1 + String::from_utf8_lossy(&before[start..]).chars().count();
        JsonError { message, line, column }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn literal(&mut self, word: &'static [u8], v: Value) -> Result<Value, JsonError> {
        if self.s[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(self.error("expected a JSON value"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        match self.peek() {
            None => Err(self.error("unexpected end of the text")),
            Some(b'n') => self.literal(b"null", Value::Null),
            Some(b't') => self.literal(b"true", Value::Bool(true)),
            Some(b'f') => self.literal(b"false", Value::Bool(false)),
            Some(b'"') => self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'[') => {
                let depth = self.nest(depth)?;
                let mut items = Vec::new();
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(Value::Array(items));
                }
                loop {
                    self.ws();
                    items.push(self.value(depth)?);
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Value::Array(items));
                        }
                        _ => return Err(self.error("expected , or ] in an array")),
                    }
                }
            }
            Some(b'{') => {
                let depth = self.nest(depth)?;
                let mut map = Map::new();
                self.ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(Value::Object(map));
                }
                loop {
                    self.ws();
                    if self.peek() != Some(b'"') {
                        return Err(self.error("expected a member name (a string) in an object"));
                    }
                    let key = self.string()?;
                    self.ws();
                    if self.peek() != Some(b':') {
                        return Err(self.error("expected : after a member name"));
                    }
                    self.i += 1;
                    self.ws();
                    let v = self.value(depth)?;
                    // A repeated member: the last one wins, as in serde_json and JavaScript.
                    map.insert(key, v);
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Value::Object(map));
                        }
                        _ => return Err(self.error("expected , or } in an object")),
                    }
                }
            }
            Some(_) => Err(self.error("expected a JSON value")),
        }
    }

    fn nest(&mut self, depth: usize) -> Result<usize, JsonError> {
        if depth >= MAX_DEPTH {
            return Err(self.error("nested too deeply (more than 128 levels)"));
        }
        self.i += 1;
        Ok(depth + 1)
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self.s.get(self.i..self.i + 4).ok_or_else(|| self.error("unexpected end of the text in a \\u escape"))?;
        let mut n = 0;
        for &d in digits {
            let v = (d as char).to_digit(16).ok_or_else(|| self.error("a \\u escape needs four hex digits"))?;
            n = n * 16 + v;
        }
        self.i += 4;
        Ok(n)
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.i += 1; // the opening quote
        let mut out = String::new();
        loop {
            let start = self.i;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.i += 1;
            }
            // The text is a &str, so any run between ASCII delimiters is valid UTF-8.
            out.push_str(std::str::from_utf8(&self.s[start..self.i]).map_err(|_| self.error("invalid UTF-8"))?);
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    let c = self.peek().ok_or_else(|| self.error("unterminated string"))?;
                    self.i += 1;
                    match c {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if !self.s[self.i..].starts_with(b"\\u") {
                                    return Err(self.error("a lone surrogate in a \\u escape"));
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.error("a lone surrogate in a \\u escape"));
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            out.push(char::from_u32(code).ok_or_else(|| self.error("a lone surrogate in a \\u escape"))?);
                        }
                        _ => return Err(self.error("an unknown escape in a string")),
                    }
                }
                Some(_) => return Err(self.error("a control character in a string (escape it)")),
            }
        }
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.i;
        let digits = |p: &mut Self| {
            let from = p.i;
            while matches!(p.peek(), Some(b'0'..=b'9')) {
                p.i += 1;
            }
            p.i - from
        };
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let int_start = self.i;
        if digits(self) == 0 || (self.s[int_start] == b'0' && self.i - int_start > 1) {
            return Err(self.error("an invalid number"));
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            self.i += 1;
            integer = false;
            if digits(self) == 0 {
                return Err(self.error("an invalid number"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            integer = false;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if digits(self) == 0 {
                return Err(self.error("an invalid number"));
            }
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("0");
        if integer {
            if let Ok(n) = text.parse::<u64>() {
                return Ok(Value::Number(n.into()));
            }
            if let Ok(n) = text.parse::<i64>() {
                return Ok(Value::Number(n.into()));
            }
        }
        Number::from_f64(decimal_to_f64(text)).map(Value::Number).ok_or_else(|| self.error("a number out of range"))
    }
}

/// A JSON number that is not a 64-bit integer, as the nearest `f64` within a few units in the
/// last place (RFC 8259 §6 leaves precision to implementations): the first 19 significant
/// digits times a power of ten. Exact decimal-to-binary conversion needs large tables that
/// this lab's values (lifetimes, counters) never need.
fn decimal_to_f64(text: &str) -> f64 {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let (digits, exp) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], rest[i + 1..].parse::<i32>().unwrap_or(if rest[i + 1..].starts_with('-') { -9999 } else { 9999 })),
        None => (rest, 0),
    };
    let (mut mantissa, mut scale, mut significant) = (0u64, exp, 0);
    let mut after_point = false;
    for c in digits.bytes() {
        match c {
            b'.' => after_point = true,
            b'0'..=b'9' => {
                if significant < 19 {
                    mantissa = mantissa * 10 + u64::from(c - b'0');
                    if mantissa > 0 {
                        significant += 1;
                    }
                    if after_point {
                        scale -= 1;
                    }
                } else if !after_point {
                    scale += 1;
                }
            }
            _ => {}
        }
    }
    let magnitude = if mantissa == 0 || scale < -340 {
        0.0
    } else if scale > 310 {
        f64::INFINITY
    } else if scale < 0 {
        // Dividing by an exact power of ten rounds once; 10^22 is the largest exact one.
        let mut v = mantissa as f64;
        let mut s = -scale;
        while s > 22 {
            v /= 1e22;
            s -= 22;
        }
        v / 10f64.powi(s)
    } else {
        mantissa as f64 * 10f64.powi(scale)
    };
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn agrees_with_serde_json_on_valid_documents() {
        for text in [
            r#"{"a":[1,-2,3.5,1e3,-0.25E-2,18446744073709551615,-9223372036854775808],"b":{"c":null,"d":true,"e":false}}"#,
            r#"  "x\"y\\z\/\b\f\n\r\t\u00e9\ud83d\ude00"  "#,
            "[]",
            "{}",
            r#"{"k":1,"k":2}"#,
            "0",
            "123456789012345678901234567890",
        ] {
            assert_eq!(parse(text).unwrap(), serde_json::from_str::<Value>(text).unwrap(), "{text}");
        }
    }

    #[test]
    fn decimals_are_within_a_few_ulps() {
        for text in ["3.5", "-0.25E-2", "1e3", "0.1", "123.456", "6.02214076e23", "1.5e308", "2.5e-300", "0.000001"] {
            let want: f64 = text.parse().unwrap();
            let got = parse(text).unwrap().as_f64().unwrap();
            let ulps = (got.to_bits() as i64 - want.to_bits() as i64).abs();
            assert!(ulps <= 4, "{text}: {got} vs {want} ({ulps} ulps)");
        }
        assert!(parse("1e400").is_err(), "out of range");
        assert_eq!(parse("1e-400").unwrap().as_f64(), Some(0.0));
    }

    #[test]
    fn refuses_what_json_does_not_allow() {
        for (text, why) in [
            ("", "unexpected end"),
            ("{", "member name"),
            ("[1,]", "expected a JSON value"),
            ("{\"a\" 1}", "expected :"),
            ("01", "invalid number"),
            ("1.", "invalid number"),
            ("-", "invalid number"),
            ("tru", "expected a JSON value"),
            ("\"a", "unterminated"),
            ("\"\\x\"", "unknown escape"),
            ("\"\\ud800\"", "lone surrogate"),
            ("\"a\nb\"", "control character"),
            ("1 2", "trailing"),
            ("<html>", "expected a JSON value"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.message.contains(why), "{text:?}: {e}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let deep = "[".repeat(100_000);
        assert!(parse(&deep).unwrap_err().message.contains("nested too deeply"));
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn errors_say_where() {
        let e = parse("{\n  \"a\": x\n}").unwrap_err();
        assert_eq!((e.line, e.column), (2, 8));
        assert_eq!(parse_object("[1]").unwrap_err().message, "expected a JSON object");
        assert_eq!(parse_object(r#"{"a":1}"#).unwrap(), json!({"a": 1}).as_object().unwrap().clone());
    }
}
