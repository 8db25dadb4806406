//! A CI platform's OIDC issuer for the workload identity tests: OpenID discovery and a JWKS on
//! 127.0.0.1 (which the real server fetches, started with `STATUSPULSE_ALLOW_LOOPBACK_IDPS`), JWTs
//! signed ES256 with its key and shaped like GitHub Actions' (`repository`, `ref`, `sub`, …), and
//! GitHub Actions' ID token endpoint (`ACTIONS_ID_TOKEN_REQUEST_URL`), which mints a fresh token
//! for the `audience` asked for, as GitHub does for a job with `id-token: write`.
//!
//! GitHub's issuer cannot run here, and what the server must get right is real: a JWT whose
//! signature it verifies with keys it discovers over HTTP. The provider tests are a separate
//! crate from the server's, whose `idp.mjs` needs Node; this issuer is a hundred lines of Rust on
//! `ring`, which the provider's TLS already builds.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

/// The bearer token GitHub hands a job in `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
pub const REQUEST_TOKEN: &str = "gh-request-token-for-tests";

pub struct CiIssuer {
    /// `http://127.0.0.1:PORT`: the `iss` of its tokens.
    pub url: String,
    key: Arc<EcdsaKeyPair>,
    /// Claims of the tokens the ID token endpoint mints (`aud` is the one asked for).
    job_claims: Arc<std::sync::Mutex<Value>>,
    minted: Arc<AtomicU64>,
}

impl CiIssuer {
    /// Starts serving on a port of its own; the thread ends with the test process.
    pub fn start(job_claims: Value) -> CiIssuer {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let key = Arc::new(
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                .unwrap(),
        );
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let issuer = CiIssuer {
            url,
            key,
            job_claims: Arc::new(std::sync::Mutex::new(job_claims)),
            minted: Arc::new(AtomicU64::new(0)),
        };
        let serving = issuer.handle();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let _ = serving.serve(stream);
            }
        });
        issuer
    }

    fn handle(&self) -> CiIssuer {
        CiIssuer {
            url: self.url.clone(),
            key: self.key.clone(),
            job_claims: self.job_claims.clone(),
            minted: self.minted.clone(),
        }
    }

    /// The claims of the next tokens the ID token endpoint mints.
    pub fn set_job_claims(&self, claims: Value) {
        *self.job_claims.lock().unwrap() = claims;
    }

    /// How many tokens the ID token endpoint has minted.
    pub fn minted(&self) -> u64 {
        self.minted.load(Ordering::SeqCst)
    }

    /// The ID token endpoint, as GitHub sets `ACTIONS_ID_TOKEN_REQUEST_URL` (with a query of its
    /// own, to which the provider adds `&audience=…`).
    pub fn request_url(&self) -> String {
        format!("{}/github/idtoken?api-version=2.0", self.url)
    }

    /// A signed token for `audience` with `claims` (plus `iss`, `aud`, times and a fresh `jti`),
    /// valid for `ttl` seconds.
    pub fn token(&self, audience: &str, claims: &Value, ttl: i64) -> String {
        let now = i64::try_from(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        )
        .unwrap();
        let serial = self.minted.fetch_add(1, Ordering::SeqCst);
        let mut payload = claims.clone();
        let fields = payload.as_object_mut().expect("claims are an object");
        fields.insert("iss".into(), json!(self.url));
        fields.insert("aud".into(), json!(audience));
        fields.insert("iat".into(), json!(now));
        fields.insert("nbf".into(), json!(now));
        fields.insert("exp".into(), json!(now + ttl));
        fields.insert(
            "jti".into(),
            json!(format!("ci-{}-{serial}", std::process::id())),
        );
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": "ci-1"});
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload.to_string())
        );
        let signature = self
            .key
            .sign(&SystemRandom::new(), signed.as_bytes())
            .unwrap();
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }

    fn jwks(&self) -> Value {
        // An uncompressed P-256 point: 0x04, then x and y.
        let point = self.key.public_key().as_ref();
        json!({"keys": [{
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": "ci-1",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        }]})
    }

    fn serve(&self, mut stream: TcpStream) -> std::io::Result<()> {
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut request_line = String::new();
        reader.read_line(&mut request_line)?;
        let mut authorization = String::new();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("authorization") {
                    value.trim().clone_into(&mut authorization);
                }
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body)?;
        let target = request_line.split_whitespace().nth(1).unwrap_or("/");
        let (status, answer) = match target.split_once('?').map_or(target, |(p, _)| p) {
            "/.well-known/openid-configuration" => (
                "200 OK",
                json!({"issuer": self.url, "jwks_uri": format!("{}/jwks", self.url),
                       "id_token_signing_alg_values_supported": ["ES256"]}),
            ),
            "/jwks" => ("200 OK", self.jwks()),
            "/github/idtoken" if authorization == format!("bearer {REQUEST_TOKEN}") => {
                let audience = url::Url::parse(&format!("http://x{target}"))
                    .ok()
                    .and_then(|u| {
                        u.query_pairs()
                            .find(|(k, _)| k == "audience")
                            .map(|(_, v)| v.into_owned())
                    });
                match audience {
                    Some(audience) => {
                        let claims = self.job_claims.lock().unwrap().clone();
                        (
                            "200 OK",
                            json!({"value": self.token(&audience, &claims, 300)}),
                        )
                    }
                    None => ("400 Bad Request", json!({"message": "no audience"})),
                }
            }
            "/github/idtoken" => ("401 Unauthorized", json!({"message": "bad request token"})),
            _ => ("404 Not Found", json!({"error": "not_found"})),
        };
        let body = answer.to_string();
        write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )?;
        stream.flush()
    }
}
