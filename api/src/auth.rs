//! Who is calling: OAuth2 bearer JWTs (RS256 and ES256 against a JWKS, HS256 with a shared secret
//! for local use) and API keys for services, each carrying one tenant and one role.

use std::{collections::HashSet, sync::RwLock};

use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

/// What a caller may do; each role includes the ones before it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything of its tenant.
    Viewer,
    /// Also maintains replenishment rules, suppliers, items and locations.
    Planner,
    /// Also approves and cancels purchase orders.
    Admin,
}

impl Role {
    /// The role named `s` (`viewer`, `planner`, `admin`).
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "planner" => Some(Role::Planner),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The one tenant it acts for.
    pub tenant: String,
    /// Token subject or API key id.
    pub subject: String,
    /// Its highest role.
    pub role: Role,
}

/// Why credentials were refused; the message is safe to return.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    /// No Authorization or X-Api-Key header.
    #[error("credentials required: a bearer token or an X-Api-Key header")]
    Missing,
    /// Both a bearer token and an API key: which one speaks is ambiguous.
    #[error("send either a bearer token or an X-Api-Key header, not both")]
    Both,
    /// The token is not acceptable: bad signature, expired, wrong audience, issuer or algorithm.
    #[error("invalid token: {0}")]
    Token(String),
    /// The API key is unknown, revoked or wrong.
    #[error("invalid API key")]
    ApiKey,
    /// Valid credentials without a Composerp role or tenant.
    #[error("the credentials carry no tenant or no Composerp role")]
    NoRole,
}

/// Why the authentication settings are unusable (the API refuses to start).
#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    /// Neither a JWKS nor an HS256 secret.
    #[error("no way to verify tokens: set a JWKS (file or URL) or an HS256 secret")]
    NoKeys,
    /// The JWKS does not parse.
    #[error("JWKS: {0}")]
    Jwks(String),
    /// The HS256 secret is too short to be safe.
    #[error("the HS256 secret must have at least 32 bytes")]
    WeakSecret,
}

/// How tokens are verified.
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    /// Shared secret for HS256 tokens (local use); None refuses HS256.
    pub hs256_secret: Option<Vec<u8>>,
    /// Public keys for RS256 and ES256 tokens.
    pub jwks: Option<String>,
    /// Required `aud`.
    pub audience: String,
    /// Required `iss`, if set.
    pub issuer: Option<String>,
}

/// Verifies bearer tokens.
pub struct Authenticator {
    hs256: Option<DecodingKey>,
    jwks: RwLock<JwkSet>,
    audience: String,
    issuer: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    tenant_id: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
}

impl Authenticator {
    /// Checks the settings once, at start.
    pub fn new(cfg: &AuthConfig) -> Result<Self, AuthConfigError> {
        let jwks = match &cfg.jwks {
            Some(text) => serde_json::from_str::<JwkSet>(text)
                .map_err(|e| AuthConfigError::Jwks(e.to_string()))?,
            None => JwkSet { keys: Vec::new() },
        };
        let hs256 = match &cfg.hs256_secret {
            Some(s) if s.len() < 32 => return Err(AuthConfigError::WeakSecret),
            Some(s) => Some(DecodingKey::from_secret(s)),
            None => None,
        };
        if hs256.is_none() && jwks.keys.is_empty() {
            return Err(AuthConfigError::NoKeys);
        }
        Ok(Authenticator {
            hs256,
            jwks: RwLock::new(jwks),
            audience: cfg.audience.clone(),
            issuer: cfg.issuer.clone(),
        })
    }

    /// Replaces the public keys (a key rotation); a JWKS that does not parse or holds no key
    /// leaves the current keys in place.
    pub fn replace_jwks(&self, text: &str) -> Result<usize, AuthConfigError> {
        let jwks: JwkSet =
            serde_json::from_str(text).map_err(|e| AuthConfigError::Jwks(e.to_string()))?;
        if jwks.keys.is_empty() {
            return Err(AuthConfigError::Jwks("no keys".into()));
        }
        let n = jwks.keys.len();
        *self.jwks.write().unwrap_or_else(|p| p.into_inner()) = jwks;
        Ok(n)
    }

    /// The caller of a bearer token.
    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let bad = |m: &str| AuthError::Token(m.to_owned());
        let header = jsonwebtoken::decode_header(token).map_err(|_| bad("malformed"))?;
        let key = match header.alg {
            Algorithm::HS256 => self
                .hs256
                .clone()
                .ok_or_else(|| bad("HS256 is not accepted here"))?,
            Algorithm::RS256 | Algorithm::ES256 => {
                let jwks = self.jwks.read().unwrap_or_else(|p| p.into_inner());
                let jwk = match &header.kid {
                    Some(kid) => jwks.find(kid),
                    None if jwks.keys.len() == 1 => jwks.keys.first(),
                    None => None,
                }
                .ok_or_else(|| bad("unknown signing key"))?;
                // A key is used only with the algorithm it declares (no RSA key as HMAC secret).
                if let Some(alg) = jwk.common.key_algorithm
                    && format!("{alg:?}") != format!("{:?}", header.alg)
                {
                    return Err(bad("algorithm does not match the key"));
                }
                DecodingKey::from_jwk(jwk).map_err(|_| bad("unusable signing key"))?
            }
            _ => return Err(bad("algorithm not accepted")),
        };
        let mut validation = Validation::new(header.alg);
        validation.set_audience(&[&self.audience]);
        if let Some(iss) = &self.issuer {
            validation.set_issuer(&[iss]);
        }
        validation.required_spec_claims = HashSet::from(["exp", "sub", "aud"].map(str::to_owned));
        validation.leeway = 30;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            bad(match e.kind() {
                K::ExpiredSignature => "expired",
                K::InvalidAudience => "wrong audience",
                K::InvalidIssuer => "wrong issuer",
                K::InvalidSignature => "bad signature",
                K::MissingRequiredClaim(_) => "missing claim",
                K::InvalidAlgorithm => "algorithm does not match the key",
                _ => "not acceptable",
            })
        })?;
        let c = data.claims;
        let tenant = c
            .tenant_id
            .filter(|t| valid_tenant(t))
            .ok_or(AuthError::NoRole)?;
        let role = c
            .roles
            .iter()
            .filter_map(|r| Role::parse(r))
            .max()
            .ok_or(AuthError::NoRole)?;
        Ok(Principal {
            tenant,
            subject: c.sub,
            role,
        })
    }
}

/// Whether `t` is a tenant id: 1 to 64 of `[A-Za-z0-9_-]`.
pub fn valid_tenant(t: &str) -> bool {
    (1..=64).contains(&t.len())
        && t.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

/// An API key as presented: `ck_<key id>.<secret>`.
pub fn split_api_key(key: &str) -> Option<(&str, &str)> {
    let (id, secret) = key.strip_prefix("ck_")?.split_once('.')?;
    (!id.is_empty() && secret.len() >= 32).then_some((id, secret))
}

/// Whether `secret` hashes to `stored_sha256`, compared in constant time.
pub fn api_key_matches(secret: &str, stored_sha256: &[u8]) -> bool {
    let digest = Sha256::digest(secret.as_bytes());
    digest.len() == stored_sha256.len()
        && digest
            .iter()
            .zip(stored_sha256)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn auth() -> Authenticator {
        Authenticator::new(&AuthConfig {
            hs256_secret: Some(SECRET.to_vec()),
            audience: "composerp".into(),
            ..Default::default()
        })
        .expect("valid config")
    }

    fn token(claims: serde_json::Value, secret: &[u8]) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret),
        )
        .expect("encodes")
    }

    fn exp(from_now: i64) -> i64 {
        chrono::Utc::now().timestamp() + from_now
    }

    #[test]
    fn a_valid_token_gives_its_tenant_and_highest_role() {
        let t = token(
            serde_json::json!({"sub": "ann", "aud": "composerp", "exp": exp(60),
                               "tenant_id": "acme", "roles": ["viewer", "planner", "other"]}),
            SECRET,
        );
        assert_eq!(
            auth().verify(&t),
            Ok(Principal {
                tenant: "acme".into(),
                subject: "ann".into(),
                role: Role::Planner
            })
        );
    }

    #[test]
    fn forged_expired_and_wrong_audience_tokens_are_refused() {
        let claims = |aud: &str, e: i64| serde_json::json!({"sub": "ann", "aud": aud, "exp": e, "tenant_id": "acme", "roles": ["admin"]});
        let a = auth();
        let forged = token(
            claims("composerp", exp(60)),
            b"another secret of 32 bytes length",
        );
        assert_eq!(
            a.verify(&forged),
            Err(AuthError::Token("bad signature".into()))
        );
        let expired = token(claims("composerp", exp(-120)), SECRET);
        assert_eq!(a.verify(&expired), Err(AuthError::Token("expired".into())));
        let other = token(claims("someone-else", exp(60)), SECRET);
        assert_eq!(
            a.verify(&other),
            Err(AuthError::Token("wrong audience".into()))
        );
        let no_role = token(
            serde_json::json!({"sub": "ann", "aud": "composerp", "exp": exp(60), "tenant_id": "acme"}),
            SECRET,
        );
        assert_eq!(a.verify(&no_role), Err(AuthError::NoRole));
        let odd_tenant = token(
            serde_json::json!({"sub": "ann", "aud": "composerp", "exp": exp(60),
                               "tenant_id": "acme'; --", "roles": ["admin"]}),
            SECRET,
        );
        assert_eq!(a.verify(&odd_tenant), Err(AuthError::NoRole));
        assert!(a.verify("not.a.token").is_err());
    }

    fn signed(alg: Algorithm, kid: &str, key: &EncodingKey, tenant: &str) -> String {
        let mut header = Header::new(alg);
        header.kid = Some(kid.into());
        let claims = serde_json::json!({"sub": "svc", "aud": "composerp", "exp": exp(60),
                                        "tenant_id": tenant, "roles": ["viewer"]});
        jsonwebtoken::encode(&header, &claims, key).expect("encodes")
    }

    #[test]
    fn rs256_and_es256_tokens_verify_against_the_jwks_and_nothing_else() {
        let jwks = Authenticator::new(&AuthConfig {
            jwks: Some(include_str!("../tests/fixtures/jwks.json").into()),
            audience: "composerp".into(),
            ..Default::default()
        })
        .expect("valid JWKS");
        let rsa = EncodingKey::from_rsa_pem(include_bytes!("../tests/fixtures/rs256.pem"))
            .expect("RSA key");
        let ec = EncodingKey::from_ec_pem(include_bytes!("../tests/fixtures/es256.pem"))
            .expect("EC key");
        let ok = |t: &str| jwks.verify(t).map(|p| p.tenant);
        assert_eq!(
            ok(&signed(Algorithm::RS256, "rsa1", &rsa, "acme")),
            Ok("acme".into())
        );
        assert_eq!(
            ok(&signed(Algorithm::ES256, "ec1", &ec, "globex")),
            Ok("globex".into())
        );
        // Signed by one key but naming the other, or claiming another algorithm for a key.
        assert!(ok(&signed(Algorithm::RS256, "ec1", &rsa, "acme")).is_err());
        assert!(ok(&signed(Algorithm::RS256, "nope", &rsa, "acme")).is_err());
        // A rotation that drops the RSA key refuses its tokens from then on.
        let only_ec = serde_json::json!({"keys": [serde_json::from_str::<serde_json::Value>(
            include_str!("../tests/fixtures/jwks.json")
        )
        .expect("JSON")["keys"][1]]});
        assert_eq!(jwks.replace_jwks(&only_ec.to_string()).expect("valid"), 1);
        assert!(ok(&signed(Algorithm::RS256, "rsa1", &rsa, "acme")).is_err());
        assert!(ok(&signed(Algorithm::ES256, "ec1", &ec, "acme")).is_ok());
        assert!(jwks.replace_jwks("{\"keys\": []}").is_err());
        // HS256 is refused when no secret is configured, even "signed" with a public key.
        let public = include_str!("../tests/fixtures/jwks.json");
        let hs = signed(
            Algorithm::HS256,
            "rsa1",
            &EncodingKey::from_secret(public.as_bytes()),
            "acme",
        );
        assert_eq!(
            ok(&hs),
            Err(AuthError::Token("HS256 is not accepted here".into()))
        );
    }

    #[test]
    fn api_keys_split_and_match_their_hash() {
        let secret = "s".repeat(40);
        let key = format!("ck_k1.{secret}");
        assert_eq!(split_api_key(&key), Some(("k1", secret.as_str())));
        assert_eq!(split_api_key("ck_k1.short"), None);
        let stored = Sha256::digest(secret.as_bytes());
        assert!(api_key_matches(&secret, &stored));
        assert!(!api_key_matches("t".repeat(40).as_str(), &stored));
    }
}
