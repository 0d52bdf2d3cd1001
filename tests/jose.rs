//! JOSE against published vectors, and the crate's signatures checked by code it does not own:
//! the RustCrypto crates directly, and `jsonwebtoken`'s own `rust_crypto` provider.

use haapi_lab::proto::entropy::SeededEntropy;
use haapi_lab::proto::jose::keys::PrivateKey;
use haapi_lab::proto::jose::verify::{verify_jws, VerifyKey};
use haapi_lab::proto::jose::{self, Alg};
use p256::ecdsa::signature::Verifier;
use serde_json::json;

const RSA_PEM: &str = include_str!("fixtures/test-only-rsa2048.pem");

#[test]
fn rfc7638_section_3_1_thumbprint() {
    let jwk = json!({
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29"
    });
    assert_eq!(jose::thumbprint(&jwk).unwrap(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

const A3_JWS: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
const A3_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
const A3_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

#[test]
fn rfc7515_appendix_a3_es256_verifies() {
    let key = VerifyKey::from_jwk(&json!({"kty": "EC", "crv": "P-256", "x": A3_X, "y": A3_Y})).unwrap();
    let decoded = verify_jws(A3_JWS, &key, &[Alg::ES256]).unwrap();
    assert_eq!(decoded.claims["iss"], "joe");
    assert_eq!(decoded.claims["exp"], 1300819380);
    // Flip one bit of the signature: it must no longer verify.
    let mut tampered = A3_JWS.to_owned();
    tampered.replace_range(tampered.len() - 2..tampered.len() - 1, "V");
    assert_eq!(verify_jws(&tampered, &key, &[Alg::ES256]), Err(jose::JoseError::BadSignature));
    // And ES256 is refused when only RS256 is allowed, and an EC key never verifies HS256.
    assert!(matches!(verify_jws(A3_JWS, &key, &[Alg::RS256]), Err(jose::JoseError::UnsupportedAlg(_))));
}

#[test]
fn rfc7515_appendix_a3_with_p256_directly() {
    let vk = jose::p256::verifying_key_from_jwk(&json!({"kty": "EC", "crv": "P-256", "x": A3_X, "y": A3_Y})).unwrap();
    let (input, sig) = A3_JWS.rsplit_once('.').unwrap();
    let sig = p256::ecdsa::Signature::from_slice(&jose::b64url_decode(sig).unwrap()).unwrap();
    vk.verify(input.as_bytes(), &sig).unwrap();
}

/// `jsonwebtoken`'s own RustCrypto provider (not the crate's provider) verifies `jwt` with `jwk`.
fn jsonwebtoken_verifies(jwt: &str, jwk: &serde_json::Value, alg: jsonwebtoken::Algorithm) -> bool {
    let key = jsonwebtoken::DecodingKey::from_jwk(&serde_json::from_value(jwk.clone()).unwrap()).unwrap();
    let (input, sig) = jwt.rsplit_once('.').unwrap();
    let verifier = (jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.verifier_factory)(&alg, &key).unwrap();
    verifier.verify(input.as_bytes(), &jose::b64url_decode(sig).unwrap()).is_ok()
}

#[test]
fn every_asymmetric_algorithm_verifies_with_jsonwebtokens_own_provider() {
    use jsonwebtoken::Algorithm as J;
    let mut rng = SeededEntropy::new(1);
    let rsa = PrivateKey::parse(RSA_PEM).unwrap();
    let p256 = PrivateKey::generate_for(Alg::ES256, &mut rng).unwrap();
    let p384 = PrivateKey::generate_for(Alg::ES384, &mut rng).unwrap();
    for (key, alg, j) in [
        (&p256, Alg::ES256, J::ES256),
        (&p384, Alg::ES384, J::ES384),
        (&rsa, Alg::RS256, J::RS256),
        (&rsa, Alg::RS384, J::RS384),
        (&rsa, Alg::RS512, J::RS512),
        (&rsa, Alg::PS256, J::PS256),
        (&rsa, Alg::PS384, J::PS384),
        (&rsa, Alg::PS512, J::PS512),
    ] {
        let jwt = key.sign_jwt(alg, Some("k1"), None, &json!({"sub": "a"}), &mut rng).unwrap();
        assert!(jsonwebtoken_verifies(&jwt, &key.public_jwk(), j), "{alg}");
        // And the crate's own verifier agrees, and refuses a tampered input.
        let vk = VerifyKey::from_jwk(&key.public_jwk()).unwrap();
        verify_jws(&jwt, &vk, &[alg]).unwrap();
        let forged = jwt.replacen(".eyJ", ".eyK", 1);
        assert!(verify_jws(&forged, &vk, &[alg]).is_err(), "{alg}");
    }
}

#[test]
fn hs256_signatures_verify_with_hmac() {
    use hmac::Mac;
    let jwt = jose::sign_jwt_hmac(Alg::HS256, b"Password1", &json!({"sub": "a"})).unwrap();
    let (input, sig) = jwt.rsplit_once('.').unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"Password1").unwrap();
    mac.update(input.as_bytes());
    mac.verify_slice(&jose::b64url_decode(sig).unwrap()).unwrap();
    // An HMAC key never verifies an RS256 token, and a public key never becomes an HMAC secret.
    let secret = VerifyKey::from_secret(b"Password1");
    assert!(verify_jws(&jwt, &secret, &[Alg::HS256]).is_ok());
    let rsa = VerifyKey::from_jwk(&PrivateKey::parse(RSA_PEM).unwrap().public_jwk()).unwrap();
    assert!(matches!(verify_jws(&jwt, &rsa, &[Alg::HS256]), Err(jose::JoseError::UnsupportedAlg(_))));
}

#[test]
fn keys_round_trip_through_pem_and_jwk() {
    let mut rng = SeededEntropy::new(3);
    for key in
        [PrivateKey::generate_for(Alg::ES256, &mut rng).unwrap(), PrivateKey::generate_for(Alg::ES384, &mut rng).unwrap(), PrivateKey::parse(RSA_PEM).unwrap()]
    {
        let from_pem = PrivateKey::parse(key.to_pkcs8_pem().expose()).unwrap();
        let from_jwk = PrivateKey::parse(key.to_private_jwk().expose()).unwrap();
        assert_eq!(from_pem.public_jwk(), key.public_jwk());
        assert_eq!(from_jwk.public_jwk(), key.public_jwk());
        assert!(key.public_key_pem().starts_with("-----BEGIN PUBLIC KEY-----"));
        assert!(key.public_jwk().get("d").is_none());
        assert!(!format!("{key:?}").contains(&key.to_pkcs8_pem().expose()[40..60]));
    }
}

#[test]
fn key_errors_say_what_to_do() {
    let mut rng = SeededEntropy::new(4);
    let public = PrivateKey::generate_for(Alg::ES256, &mut rng).unwrap().public_key_pem();
    assert!(PrivateKey::parse(&public).unwrap_err().to_string().contains("private key is needed"));
    assert!(PrivateKey::parse("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"a\",\"y\":\"b\"}").unwrap_err().to_string().contains("private key is needed"));
    assert!(PrivateKey::parse("hello").is_err());
    let p256 = PrivateKey::generate_for(Alg::ES256, &mut rng).unwrap();
    assert!(p256.sign_jwt(Alg::RS256, None, None, &json!({}), &mut rng).is_err());
    assert!(Alg::parse("ES512").unwrap_err().to_string().contains("ES256 or ES384"));
    assert!(Alg::parse("none").is_err());
}
