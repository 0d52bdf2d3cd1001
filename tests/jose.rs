//! JOSE against published vectors, and the crate's signatures checked by a second code path.

use haapi_lab::entropy::SeededEntropy;
use haapi_lab::jose::{self, Alg, Jwk, PrivateKey, SigningKeyRef};
use p256::ecdsa::signature::Verifier;
use serde_json::json;

const RSA_PEM: &str = include_str!("fixtures/test-only-rsa2048.pem");

#[test]
fn rfc7638_section_3_1_thumbprint() {
    let jwk: Jwk = serde_json::from_value(json!({
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29"
    }))
    .unwrap();
    assert_eq!(jose::thumbprint(&jwk).unwrap(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

const A3_JWS: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
const A3_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
const A3_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

#[test]
fn rfc7515_appendix_a3_es256_verifies() {
    let key = jsonwebtoken::DecodingKey::from_ec_components(A3_X, A3_Y).unwrap();
    let decoded = jose::verify_jwt(A3_JWS, &key, &[Alg::ES256]).unwrap();
    assert_eq!(decoded.claims["iss"], "joe");
    assert_eq!(decoded.claims["exp"], 1300819380);
    // Flip one bit of the signature: it must no longer verify.
    let mut tampered = A3_JWS.to_owned();
    tampered.replace_range(tampered.len() - 2..tampered.len() - 1, "V");
    assert_eq!(jose::verify_jwt(&tampered, &key, &[Alg::ES256]), Err(jose::JoseError::BadSignature));
    // And ES256 is refused when only RS256 is allowed.
    assert!(matches!(jose::verify_jwt(A3_JWS, &key, &[Alg::RS256]), Err(jose::JoseError::UnsupportedAlg(_))));
}

#[test]
fn rfc7515_appendix_a3_with_p256_directly() {
    let jwk = json!({"kty": "EC", "crv": "P-256", "x": A3_X, "y": A3_Y}).to_string();
    let vk = p256::ecdsa::VerifyingKey::from(p256::PublicKey::from_jwk_str(&jwk).unwrap());
    let (input, sig) = A3_JWS.rsplit_once('.').unwrap();
    let sig = p256::ecdsa::Signature::from_slice(&jose::b64url_decode(sig).unwrap()).unwrap();
    vk.verify(input.as_bytes(), &sig).unwrap();
}

fn split(jwt: &str) -> (&str, Vec<u8>) {
    let (input, sig) = jwt.rsplit_once('.').unwrap();
    (input, jose::b64url_decode(sig).unwrap())
}

#[test]
fn es256_signatures_verify_with_p256_not_jsonwebtoken() {
    let key = PrivateKey::generate_p256(&mut SeededEntropy::new(1));
    let jwt = jose::sign_jwt(Alg::ES256, Some("k1"), None, &json!({"sub": "a"}), SigningKeyRef::Private(&key)).unwrap();
    let (input, sig) = split(&jwt);
    let vk = p256::ecdsa::VerifyingKey::from(p256::PublicKey::from_jwk_str(&key.public_jwk_value().to_string()).unwrap());
    vk.verify(input.as_bytes(), &p256::ecdsa::Signature::from_slice(&sig).unwrap()).unwrap();
    assert!(vk.verify(b"other input", &p256::ecdsa::Signature::from_slice(&sig).unwrap()).is_err());
    assert_eq!(jose::decode_unverified(&jwt).unwrap().header["kid"], "k1");
}

#[test]
fn es384_signatures_verify_with_p384() {
    let key = PrivateKey::generate_p384(&mut SeededEntropy::new(2));
    let jwt = jose::sign_jwt(Alg::ES384, None, None, &json!({"sub": "a"}), SigningKeyRef::Private(&key)).unwrap();
    let (input, sig) = split(&jwt);
    let vk = p384::ecdsa::VerifyingKey::from(p384::PublicKey::from_jwk_str(&key.public_jwk_value().to_string()).unwrap());
    vk.verify(input.as_bytes(), &p384::ecdsa::Signature::from_slice(&sig).unwrap()).unwrap();
}

#[test]
fn rs256_and_ps256_signatures_verify_with_the_rsa_crate() {
    use rsa::pkcs8::DecodePublicKey;
    use rsa::signature::Verifier as _;
    let key = PrivateKey::from_pem(RSA_PEM).unwrap();
    let public = rsa::RsaPublicKey::from_public_key_pem(&key.public_key_pem()).unwrap();
    let jwt = jose::sign_jwt(Alg::RS256, None, None, &json!({"sub": "a"}), SigningKeyRef::Private(&key)).unwrap();
    let (input, sig) = split(&jwt);
    let vk = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(public.clone());
    vk.verify(input.as_bytes(), &rsa::pkcs1v15::Signature::try_from(sig.as_slice()).unwrap()).unwrap();
    let jwt = jose::sign_jwt(Alg::PS256, None, None, &json!({"sub": "a"}), SigningKeyRef::Private(&key)).unwrap();
    let (input, sig) = split(&jwt);
    let vk = rsa::pss::VerifyingKey::<sha2::Sha256>::new(public);
    vk.verify(input.as_bytes(), &rsa::pss::Signature::try_from(sig.as_slice()).unwrap()).unwrap();
}

#[test]
fn hs256_signatures_verify_with_hmac() {
    use hmac::Mac;
    let jwt = jose::sign_jwt(Alg::HS256, None, None, &json!({"sub": "a"}), SigningKeyRef::Secret(b"Password1")).unwrap();
    let (input, sig) = split(&jwt);
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"Password1").unwrap();
    mac.update(input.as_bytes());
    mac.verify_slice(&sig).unwrap();
}

#[test]
fn keys_round_trip_through_pem_and_jwk() {
    let mut rng = SeededEntropy::new(3);
    for key in [PrivateKey::generate_p256(&mut rng), PrivateKey::generate_p384(&mut rng), PrivateKey::from_pem(RSA_PEM).unwrap()] {
        let from_pem = PrivateKey::parse(key.to_pkcs8_pem().expose()).unwrap();
        let from_jwk = PrivateKey::parse(key.to_private_jwk().expose()).unwrap();
        assert_eq!(from_pem.public_jwk_value(), key.public_jwk_value());
        assert_eq!(from_jwk.public_jwk_value(), key.public_jwk_value());
        assert!(key.public_key_pem().starts_with("-----BEGIN PUBLIC KEY-----"));
        assert!(key.public_jwk_value().get("d").is_none());
        assert!(!format!("{key:?}").contains(&key.to_pkcs8_pem().expose()[40..60]));
    }
}

#[test]
fn key_errors_say_what_to_do() {
    let public = PrivateKey::generate_p256(&mut SeededEntropy::new(4)).public_key_pem();
    assert!(PrivateKey::parse(&public).unwrap_err().to_string().contains("private key is needed"));
    assert!(PrivateKey::parse("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"a\",\"y\":\"b\"}").unwrap_err().to_string().contains("public JWK"));
    assert!(PrivateKey::parse("hello").is_err());
    let p256 = PrivateKey::generate_p256(&mut SeededEntropy::new(5));
    assert!(jose::sign_jwt(Alg::RS256, None, None, &json!({}), SigningKeyRef::Private(&p256)).is_err());
    assert!(Alg::parse("ES512").unwrap_err().to_string().contains("ES256 or ES384"));
    assert!(Alg::parse("none").is_err());
}
