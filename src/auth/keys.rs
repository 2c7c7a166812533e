//! Key material: private keys read from PKCS#8 PEM (EC P-384 for ES384, RSA for RS384) or
//! generated (EC P-384), their public JWKs, and key ids that are the RFC 7638 thumbprint of the
//! public key, so the same key always has the same `kid` wherever it is registered.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
    EllipticCurveKeyType, Jwk, KeyAlgorithm, PublicKeyUse, RSAKeyParameters, RSAKeyType,
};
use jsonwebtoken::{Algorithm, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair};

/// Why a key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Not PEM, or not a PKCS#8 private key of a supported kind.
    #[error("not a PKCS#8 PEM private key for ES384 (EC P-384) or RS384 (RSA 2048 bits or more)")]
    Unsupported,
    /// The random source failed while generating a key.
    #[error("key generation failed")]
    Generation,
}

/// A private key that signs JWTs, with its public half as a JWK.
#[derive(Clone)]
pub struct PrivateKey {
    algorithm: Algorithm,
    encoding: EncodingKey,
    public: Jwk,
    pem: String,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key itself.
        f.debug_struct("PrivateKey")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid())
            .finish_non_exhaustive()
    }
}

fn pkcs8_der(pem_text: &str) -> Result<Vec<u8>, KeyError> {
    let block = pem::parse(pem_text).map_err(|_| KeyError::Unsupported)?;
    if block.tag() != "PRIVATE KEY" {
        return Err(KeyError::Unsupported);
    }
    Ok(block.into_contents())
}

impl PrivateKey {
    /// Reads a PKCS#8 PEM private key: EC P-384 (signs ES384) or RSA of at least 2048 bits
    /// (signs RS384).
    pub fn from_pem(pem_text: &str) -> Result<Self, KeyError> {
        let der = pkcs8_der(pem_text)?;
        let rng = SystemRandom::new();
        if let Ok(pair) =
            EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P384_SHA384_FIXED_SIGNING, &der, &rng)
        {
            let public = ec_public_jwk(pair.public_key().as_ref())?;
            return Ok(Self {
                algorithm: Algorithm::ES384,
                encoding: EncodingKey::from_ec_der(&der),
                public,
                pem: pem_text.to_owned(),
            });
        }
        let pair = RsaKeyPair::from_pkcs8(&der).map_err(|_| KeyError::Unsupported)?;
        if pair.public().modulus_len() < 256 {
            return Err(KeyError::Unsupported);
        }
        let components = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
        let public = finish_jwk(
            AlgorithmParameters::RSA(RSAKeyParameters {
                key_type: RSAKeyType::RSA,
                n: URL_SAFE_NO_PAD.encode(&components.n),
                e: URL_SAFE_NO_PAD.encode(&components.e),
            }),
            KeyAlgorithm::RS384,
        );
        Ok(Self {
            algorithm: Algorithm::RS384,
            encoding: EncodingKey::from_rsa_pem(pem_text.as_bytes())
                .map_err(|_| KeyError::Unsupported)?,
            public,
            pem: pem_text.to_owned(),
        })
    }

    /// A new EC P-384 key (ES384).
    pub fn generate_es384() -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        let document =
            EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P384_SHA384_FIXED_SIGNING, &rng)
                .map_err(|_| KeyError::Generation)?;
        let pem_text = pem::encode(&pem::Pem::new("PRIVATE KEY", document.as_ref().to_vec()));
        Self::from_pem(&pem_text)
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The key id: the RFC 7638 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        self.public.common.key_id.as_deref().unwrap_or_default()
    }

    /// The public key as a JWK (with `kid`, `alg` and `use: sig`).
    pub fn public_jwk(&self) -> &Jwk {
        &self.public
    }

    /// The key for signing.
    pub fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }

    /// The private key as PKCS#8 PEM (to write a newly generated key to its file).
    pub fn to_pem(&self) -> &str {
        &self.pem
    }
}

/// The JWK of an uncompressed P-384 point (`04 || x || y`).
fn ec_public_jwk(point: &[u8]) -> Result<Jwk, KeyError> {
    let coordinates = point.strip_prefix(&[4u8]).ok_or(KeyError::Unsupported)?;
    if coordinates.len() != 96 {
        return Err(KeyError::Unsupported);
    }
    let (x, y) = coordinates.split_at(48);
    Ok(finish_jwk(
        AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
            key_type: EllipticCurveKeyType::EC,
            curve: EllipticCurve::P384,
            x: URL_SAFE_NO_PAD.encode(x),
            y: URL_SAFE_NO_PAD.encode(y),
        }),
        KeyAlgorithm::ES384,
    ))
}

fn finish_jwk(parameters: AlgorithmParameters, algorithm: KeyAlgorithm) -> Jwk {
    let mut jwk = Jwk {
        common: CommonParameters {
            public_key_use: Some(PublicKeyUse::Signature),
            key_algorithm: Some(algorithm),
            ..CommonParameters::default()
        },
        algorithm: parameters,
    };
    jwk.common.key_id = thumbprint(&jwk);
    jwk
}

/// The RFC 7638 SHA-256 thumbprint of a public RSA or EC key, base64url; `None` for other
/// kinds.
pub fn thumbprint(jwk: &Jwk) -> Option<String> {
    // The required members in lexicographic order, no whitespace (RFC 7638 §3.2).
    let canonical = match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(ec) => {
            let curve = match ec.curve {
                EllipticCurve::P256 => "P-256",
                EllipticCurve::P384 => "P-384",
                EllipticCurve::P521 => "P-521",
                EllipticCurve::Ed25519 => return None,
            };
            format!(
                r#"{{"crv":"{curve}","kty":"EC","x":"{}","y":"{}"}}"#,
                ec.x, ec.y
            )
        }
        AlgorithmParameters::RSA(rsa) => {
            format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, rsa.e, rsa.n)
        }
        _ => return None,
    };
    let digest = ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes());
    Some(URL_SAFE_NO_PAD.encode(digest.as_ref()))
}

/// Whether a public JWK may verify `algorithm`: RS384 only with an RSA key of 2048 bits or
/// more, ES384 only with a P-384 key. This is the guard against algorithm confusion (an HMAC
/// "signed" with a public key, or `none`): nothing else is ever paired.
pub fn key_fits(jwk: &Jwk, algorithm: Algorithm) -> bool {
    let declared_ok = match jwk.common.key_algorithm {
        None => true,
        Some(KeyAlgorithm::RS384) => algorithm == Algorithm::RS384,
        Some(KeyAlgorithm::ES384) => algorithm == Algorithm::ES384,
        Some(_) => false,
    };
    let use_ok = !matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption));
    let kind_ok = match (&jwk.algorithm, algorithm) {
        (AlgorithmParameters::RSA(rsa), Algorithm::RS384) => URL_SAFE_NO_PAD
            .decode(&rsa.n)
            .map(|n| n.iter().skip_while(|b| **b == 0).count() >= 256)
            .unwrap_or(false),
        (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES384) => {
            ec.curve == EllipticCurve::P384
        }
        _ => false,
    };
    declared_ok && use_ok && kind_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/fixtures/auth/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn reads_ec_and_rsa_pkcs8_keys() {
        let ec = PrivateKey::from_pem(&fixture("test-client-es384.key.pem")).unwrap();
        assert_eq!(ec.algorithm(), Algorithm::ES384);
        assert!(key_fits(ec.public_jwk(), Algorithm::ES384));
        assert!(!key_fits(ec.public_jwk(), Algorithm::RS384));
        let rsa = PrivateKey::from_pem(&fixture("test-client-rs384.key.pem")).unwrap();
        assert_eq!(rsa.algorithm(), Algorithm::RS384);
        assert!(key_fits(rsa.public_jwk(), Algorithm::RS384));
        assert!(!key_fits(rsa.public_jwk(), Algorithm::HS256));
        assert_ne!(ec.kid(), rsa.kid());
        assert_eq!(ec.kid().len(), 43);
    }

    #[test]
    fn the_kid_is_the_rfc7638_thumbprint() {
        // RFC 7638 §3.1's example key and its thumbprint.
        let jwk: Jwk = serde_json::from_str(
            r#"{"kty":"RSA","e":"AQAB","alg":"RS256","kid":"2011-04-29","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}"#,
        )
        .unwrap();
        assert_eq!(
            thumbprint(&jwk).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
    }

    #[test]
    fn generated_keys_round_trip_through_pem() {
        let key = PrivateKey::generate_es384().unwrap();
        let again = PrivateKey::from_pem(key.to_pem()).unwrap();
        assert_eq!(key.kid(), again.kid());
        assert!(!format!("{key:?}").contains("PRIVATE"));
    }

    #[test]
    fn other_keys_are_refused() {
        assert!(PrivateKey::from_pem("not a key").is_err());
        let public_only = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
        assert!(PrivateKey::from_pem(public_only).is_err());
        let hmac: Jwk = serde_json::from_str(r#"{"kty":"oct","k":"c2VjcmV0"}"#).unwrap();
        assert!(!key_fits(&hmac, Algorithm::HS256));
        assert!(!key_fits(&hmac, Algorithm::ES384));
        let p256: Jwk = serde_json::from_str(
            r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#,
        )
        .unwrap();
        assert!(!key_fits(&p256, Algorithm::ES384));
    }
}
