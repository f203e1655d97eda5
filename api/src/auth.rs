//! Who is calling: OAuth2 bearer JWTs (RS256 and ES256 against a JWKS, HS256 with a shared secret
//! for local use) and API keys for services, each carrying one tenant and one role.
//!
//! A token must be current (`exp`, `nbf`, `iat` within [`LEEWAY_SECS`]) and live no longer than
//! the configured maximum; with a JWKS an issuer is required and HS256 is off unless enabled.

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
    #[error("no way to verify tokens: set a JWKS (file or https URL) or an HS256 secret")]
    NoKeys,
    /// The JWKS does not parse.
    #[error("JWKS: {0}")]
    Jwks(String),
    /// The JWKS is to be fetched over plain http, where anyone on the path can swap the keys.
    #[error("COMPOSERP_JWKS must be a file path or an https:// URL, not {0:?}")]
    InsecureJwks(String),
    /// The HS256 secret is too short to be safe.
    #[error("the HS256 secret must have at least 32 bytes")]
    WeakSecret,
    /// A JWKS without an issuer would accept any issuer's tokens signed by those keys.
    #[error("COMPOSERP_JWT_ISSUER is required when a JWKS is set")]
    IssuerRequired,
    /// HS256 next to a JWKS makes the shared secret a master key for every tenant.
    #[error(
        "an HS256 secret and a JWKS together need COMPOSERP_JWT_ALLOW_HS256_WITH_JWKS=true \
         (the shared secret can sign for every tenant)"
    )]
    Hs256WithJwks,
    /// A claim name that is empty.
    #[error("the {0} claim name must not be empty")]
    ClaimName(&'static str),
    /// A maximum token lifetime of zero.
    #[error("COMPOSERP_JWT_MAX_TTL must be at least 1 second")]
    MaxTtl,
}

/// Where the JWKS comes from: a local file, or an https URL (read at start and refreshed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// A file path.
    File(String),
    /// An `https://` URL.
    Https(String),
}

impl JwksSource {
    /// The source named by `s`; plain `http://` is refused.
    pub fn parse(s: &str) -> Result<Self, AuthConfigError> {
        let lower = s.to_ascii_lowercase();
        if lower.starts_with("https://") {
            Ok(JwksSource::Https(s.to_owned()))
        } else if lower.contains("://") {
            Err(AuthConfigError::InsecureJwks(s.to_owned()))
        } else {
            Ok(JwksSource::File(s.to_owned()))
        }
    }
}

/// The longest token lifetime accepted by default: 12 hours.
pub const DEFAULT_MAX_TTL_SECS: u64 = 12 * 3600;

/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY_SECS: u64 = 30;

/// How tokens are verified.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Shared secret for HS256 tokens (local use); None refuses HS256.
    pub hs256_secret: Option<Vec<u8>>,
    /// Public keys for RS256 and ES256 tokens.
    pub jwks: Option<String>,
    /// Accept HS256 even though a JWKS is set (off: the secret would be a master key).
    pub allow_hs256_with_jwks: bool,
    /// Required `aud`.
    pub audience: String,
    /// Required `iss`; mandatory with a JWKS.
    pub issuer: Option<String>,
    /// Claim holding the tenant id (a dotted path reaches into objects).
    pub tenant_claim: String,
    /// Claim holding the Composerp roles (an array of strings, or one space-separated string).
    pub roles_claim: String,
    /// Longest accepted lifetime, from `iat` (or from now without one) to `exp`, in seconds.
    pub max_ttl_secs: u64,
}

impl Default for AuthConfig {
    /// No keys, audience `composerp`, claims `tenant_id` and `roles`, at most 12 hours.
    fn default() -> Self {
        AuthConfig {
            hs256_secret: None,
            jwks: None,
            allow_hs256_with_jwks: false,
            audience: "composerp".into(),
            issuer: None,
            tenant_claim: "tenant_id".into(),
            roles_claim: "roles".into(),
            max_ttl_secs: DEFAULT_MAX_TTL_SECS,
        }
    }
}

/// Verifies bearer tokens.
pub struct Authenticator {
    hs256: Option<DecodingKey>,
    jwks: RwLock<JwkSet>,
    audience: String,
    issuer: Option<String>,
    tenant_claim: String,
    roles_claim: String,
    max_ttl_secs: i64,
}

/// The registered claims checked here; the tenant and roles are read from `rest` by name.
#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(flatten)]
    rest: serde_json::Map<String, serde_json::Value>,
}

/// The claim named `path`, or else at the dotted `path` (`realm_access.roles`): namespaced
/// claims such as `https://example.com/tenant` hold dots of their own.
fn claim<'a>(
    claims: &'a serde_json::Map<String, serde_json::Value>,
    path: &str,
) -> Option<&'a serde_json::Value> {
    if let Some(v) = claims.get(path) {
        return Some(v);
    }
    let mut parts = path.split('.');
    let mut at = claims.get(parts.next()?)?;
    for part in parts {
        at = at.get(part)?;
    }
    Some(at)
}

/// The Composerp roles a roles claim names: an array of strings or a space-separated string.
fn roles(value: Option<&serde_json::Value>) -> Option<Role> {
    match value? {
        serde_json::Value::Array(a) => a
            .iter()
            .filter_map(|r| r.as_str())
            .filter_map(Role::parse)
            .max(),
        serde_json::Value::String(s) => s.split_whitespace().filter_map(Role::parse).max(),
        _ => None,
    }
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
        if cfg.jwks.is_some() {
            if cfg.issuer.as_deref().is_none_or(str::is_empty) {
                return Err(AuthConfigError::IssuerRequired);
            }
            if hs256.is_some() && !cfg.allow_hs256_with_jwks {
                return Err(AuthConfigError::Hs256WithJwks);
            }
        }
        if cfg.tenant_claim.trim().is_empty() {
            return Err(AuthConfigError::ClaimName("tenant"));
        }
        if cfg.roles_claim.trim().is_empty() {
            return Err(AuthConfigError::ClaimName("roles"));
        }
        if cfg.max_ttl_secs == 0 {
            return Err(AuthConfigError::MaxTtl);
        }
        Ok(Authenticator {
            hs256,
            jwks: RwLock::new(jwks),
            audience: cfg.audience.clone(),
            issuer: cfg.issuer.clone(),
            tenant_claim: cfg.tenant_claim.trim().to_owned(),
            roles_claim: cfg.roles_claim.trim().to_owned(),
            max_ttl_secs: i64::try_from(cfg.max_ttl_secs).unwrap_or(i64::MAX),
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
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            bad(match e.kind() {
                K::ExpiredSignature => "expired",
                K::ImmatureSignature => "not valid yet (nbf)",
                K::InvalidAudience => "wrong audience",
                K::InvalidIssuer => "wrong issuer",
                K::InvalidSignature => "bad signature",
                K::MissingRequiredClaim(_) => "missing claim",
                K::InvalidAlgorithm => "algorithm does not match the key",
                _ => "not acceptable",
            })
        })?;
        let c = data.claims;
        self.check_lifetime(&c, chrono::Utc::now().timestamp())?;
        let tenant = claim(&c.rest, &self.tenant_claim)
            .and_then(|t| t.as_str())
            .filter(|t| valid_tenant(t))
            .ok_or(AuthError::NoRole)?
            .to_owned();
        let role = roles(claim(&c.rest, &self.roles_claim)).ok_or(AuthError::NoRole)?;
        Ok(Principal {
            tenant,
            subject: c.sub,
            role,
        })
    }

    /// Refuses a token issued in the future or living longer than the maximum: a leaked
    /// long-lived token would otherwise stay a key for as long as its issuer chose.
    fn check_lifetime(&self, c: &Claims, now: i64) -> Result<(), AuthError> {
        let bad = |m: &str| AuthError::Token(m.to_owned());
        let leeway = LEEWAY_SECS as i64;
        if c.iat.is_some_and(|iat| iat > now + leeway) {
            return Err(bad("issued in the future (iat)"));
        }
        let start = c.iat.unwrap_or(now).min(now);
        if c.exp.saturating_sub(start) > self.max_ttl_secs.saturating_add(leeway) {
            return Err(bad("lifetime over the maximum"));
        }
        Ok(())
    }
}

/// Whether `t` is a tenant id: 1 to 64 of `[A-Za-z0-9_-]`.
pub fn valid_tenant(t: &str) -> bool {
    (1..=64).contains(&t.len())
        && t.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

/// Who a refused credential claims to be, unverified, for counting failures per identity: the
/// API key id, or a token's `kid` and `sub` (at most 128 bytes, so it cannot grow memory).
pub fn presented_identity(bearer: Option<&str>, api_key: Option<&str>) -> Option<String> {
    use base64::Engine;
    let id = if let Some(key) = api_key {
        format!("key:{}", split_api_key(key).map_or(key, |(id, _)| id))
    } else {
        let token = bearer?;
        let kid = jsonwebtoken::decode_header(token).ok().and_then(|h| h.kid);
        let sub = token
            .split('.')
            .nth(1)
            .and_then(|p| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(p)
                    .ok()
            })
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v.get("sub").and_then(|s| s.as_str()).map(str::to_owned));
        if kid.is_none() && sub.is_none() {
            return None;
        }
        format!(
            "jwt:{}:{}",
            kid.unwrap_or_default(),
            sub.unwrap_or_default()
        )
    };
    let mut end = id.len().min(128);
    while !id.is_char_boundary(end) {
        end -= 1;
    }
    Some(id[..end].to_owned())
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

    const ISSUER: &str = "https://idp.example";

    fn signed(alg: Algorithm, kid: &str, key: &EncodingKey, tenant: &str) -> String {
        let mut header = Header::new(alg);
        header.kid = Some(kid.into());
        let claims = serde_json::json!({"sub": "svc", "aud": "composerp", "exp": exp(60),
                                        "iss": ISSUER, "tenant_id": tenant, "roles": ["viewer"]});
        jsonwebtoken::encode(&header, &claims, key).expect("encodes")
    }

    #[test]
    fn rs256_and_es256_tokens_verify_against_the_jwks_and_nothing_else() {
        let jwks = Authenticator::new(&AuthConfig {
            jwks: Some(include_str!("../tests/fixtures/jwks.json").into()),
            issuer: Some(ISSUER.into()),
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

    fn claims_at(nbf: Option<i64>, iat: Option<i64>, exp_in: i64) -> serde_json::Value {
        let mut c = serde_json::json!({"sub": "ann", "aud": "composerp", "exp": exp(exp_in),
                                       "tenant_id": "acme", "roles": ["admin"]});
        if let Some(nbf) = nbf {
            c["nbf"] = exp(nbf).into();
        }
        if let Some(iat) = iat {
            c["iat"] = exp(iat).into();
        }
        c
    }

    #[test]
    fn a_token_valid_only_later_or_issued_in_the_future_is_refused() {
        let a = auth();
        let later = token(claims_at(Some(3600), None, 7200), SECRET);
        assert_eq!(
            a.verify(&later),
            Err(AuthError::Token("not valid yet (nbf)".into()))
        );
        let future = token(claims_at(None, Some(600), 3600), SECRET);
        assert_eq!(
            a.verify(&future),
            Err(AuthError::Token("issued in the future (iat)".into()))
        );
        // A few seconds of clock skew are tolerated.
        let skewed = token(claims_at(Some(10), Some(10), 600), SECRET);
        assert!(a.verify(&skewed).is_ok());
    }

    #[test]
    fn a_token_living_longer_than_the_maximum_is_refused() {
        let a = auth();
        let year = token(claims_at(None, Some(0), 365 * 86_400), SECRET);
        assert_eq!(
            a.verify(&year),
            Err(AuthError::Token("lifetime over the maximum".into()))
        );
        // Without iat the lifetime counts from now.
        let no_iat = token(claims_at(None, None, 13 * 3600), SECRET);
        assert!(a.verify(&no_iat).is_err());
        // Issued long ago for a long life, even if it ends soon.
        let old = token(claims_at(None, Some(-20 * 3600), 60), SECRET);
        assert!(a.verify(&old).is_err());
        let day = token(claims_at(None, Some(0), 11 * 3600), SECRET);
        assert!(a.verify(&day).is_ok());
        let short = Authenticator::new(&AuthConfig {
            hs256_secret: Some(SECRET.to_vec()),
            max_ttl_secs: 600,
            ..Default::default()
        })
        .expect("valid config");
        assert!(short.verify(&day).is_err());
    }

    #[test]
    fn a_jwks_needs_an_issuer_and_refuses_hs256_unless_allowed() {
        let jwks = Some(include_str!("../tests/fixtures/jwks.json").to_owned());
        let no_issuer = AuthConfig {
            jwks: jwks.clone(),
            ..Default::default()
        };
        assert!(matches!(
            Authenticator::new(&no_issuer),
            Err(AuthConfigError::IssuerRequired)
        ));
        let both = AuthConfig {
            jwks,
            issuer: Some(ISSUER.into()),
            hs256_secret: Some(SECRET.to_vec()),
            ..Default::default()
        };
        assert!(matches!(
            Authenticator::new(&both),
            Err(AuthConfigError::Hs256WithJwks)
        ));
        let allowed = Authenticator::new(&AuthConfig {
            allow_hs256_with_jwks: true,
            ..both
        })
        .expect("explicitly allowed");
        let mut c = claims_at(None, Some(0), 60);
        c["iss"] = ISSUER.into();
        assert!(allowed.verify(&token(c, SECRET)).is_ok());
    }

    #[test]
    fn a_jwks_is_read_from_a_file_or_https_only() {
        assert_eq!(
            JwksSource::parse("https://idp.example/jwks").ok(),
            Some(JwksSource::Https("https://idp.example/jwks".into()))
        );
        assert_eq!(
            JwksSource::parse("/etc/composerp/jwks.json").ok(),
            Some(JwksSource::File("/etc/composerp/jwks.json".into()))
        );
        for insecure in ["http://idp.example/jwks", "HTTP://idp.example", "ftp://x/y"] {
            assert!(matches!(
                JwksSource::parse(insecure),
                Err(AuthConfigError::InsecureJwks(_))
            ));
        }
    }

    #[test]
    fn tenant_and_roles_come_from_the_configured_claims_only() {
        let a = Authenticator::new(&AuthConfig {
            hs256_secret: Some(SECRET.to_vec()),
            tenant_claim: "https://composerp.dev/tenant".into(),
            roles_claim: "composerp.roles".into(),
            ..Default::default()
        })
        .expect("valid config");
        // The identity provider's own `roles` and `tenant_id` mean nothing here.
        let idp = serde_json::json!({"sub": "ann", "aud": "composerp", "exp": exp(60),
            "tenant_id": "acme", "roles": ["admin"]});
        assert_eq!(a.verify(&token(idp, SECRET)), Err(AuthError::NoRole));
        let ours = serde_json::json!({"sub": "ann", "aud": "composerp", "exp": exp(60),
            "https://composerp.dev/tenant": "acme", "roles": ["admin"],
            "composerp": {"roles": "viewer planner"}});
        // A namespaced name is taken whole; a dotted path reaches into objects.
        assert_eq!(
            a.verify(&token(ours, SECRET)).map(|p| (p.tenant, p.role)),
            Ok(("acme".into(), Role::Planner))
        );
        let b = Authenticator::new(&AuthConfig {
            hs256_secret: Some(SECRET.to_vec()),
            tenant_claim: "org".into(),
            roles_claim: "composerp.roles".into(),
            ..Default::default()
        })
        .expect("valid config");
        let nested = serde_json::json!({"sub": "ann", "aud": "composerp", "exp": exp(60),
            "org": "acme", "roles": ["admin"], "composerp": {"roles": "viewer planner"}});
        assert_eq!(
            b.verify(&token(nested, SECRET)).map(|p| (p.tenant, p.role)),
            Ok(("acme".into(), Role::Planner))
        );
    }

    #[test]
    fn a_refused_credential_is_counted_under_the_identity_it_presents() {
        let key = format!("ck_k1.{}", "s".repeat(40));
        assert_eq!(presented_identity(None, Some(&key)), Some("key:k1".into()));
        let t = token(
            claims_at(None, None, 60),
            b"another secret of 32 bytes length",
        );
        assert_eq!(presented_identity(Some(&t), None), Some("jwt::ann".into()));
        assert_eq!(presented_identity(Some("garbage"), None), None);
        let long = format!("ck_{}", "é".repeat(200));
        assert!(presented_identity(None, Some(&long)).is_some_and(|i| i.len() <= 128));
    }
}
