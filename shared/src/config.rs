//! One typed configuration, read from the environment. Every variable is documented in the README's
//! configuration table; keep the two in step.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Which adapters back the ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// redb file, local folder, durable local queue, mail outbox.
    Embedded,
    /// DynamoDB, S3, SQS, SESv2.
    Aws,
}

/// Settings for the AWS adapters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsConfig {
    /// One endpoint for every service (moto, LocalStack); `None` on real AWS.
    pub endpoint: Option<String>,
    pub table: String,
    pub bucket: String,
    /// Queue names are `{queue_prefix}{logical name}`; their URLs are looked up once and cached.
    pub queue_prefix: String,
    /// Path-style S3 addressing (needed for local endpoints).
    pub s3_path_style: bool,
    /// SESv2 configuration set to tag messages with, if any.
    pub ses_configuration_set: Option<String>,
}

/// The whole configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub backend: Backend,
    /// Why this backend was chosen, for the start-up log line.
    pub backend_reason: &'static str,
    /// Listen address of the dev server.
    pub addr: SocketAddr,
    /// Base URL clients reach the dev server at (used in signed blob URLs).
    pub public_url: String,
    /// Folder of the embedded database, blobs and mail outbox.
    pub data_dir: PathBuf,
    pub aws: AwsConfig,
    /// Where the key rings come from: `LECTERN_KEYS_*` or generated files (embedded), Secrets Manager (aws).
    pub secrets: crate::secrets::SecretsConfig,
    /// Sender address of every email.
    pub mail_from: String,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Origins allowed by CORS (`*` is refused: credentials are in use).
    pub cors_origins: Vec<String>,
    /// Responses at least this large are compressed when the client accepts it.
    pub compression_min_bytes: u16,
    /// Times a job may be received before it moves to the dead-letter store (embedded; SQS uses its redrive policy).
    pub queue_max_receives: u32,
    /// How long a received job stays hidden from other workers.
    pub queue_visibility: Duration,
    /// Rate limits per IP and per account by route class (`LECTERN_RATE_*`).
    pub rate_limits: crate::ratelimit::RateLimitConfig,
    /// Development only (`LECTERN_WEBHOOKS_ALLOW_INSECURE`, default false): webhooks may be delivered over plain
    /// http and to loopback and private addresses, so a receiver on the developer's machine can be tested. Off,
    /// every delivery is https to a public address (the SSRF guard). Refused on the aws backend without an
    /// emulator endpoint: a deployment must never reach into its own network.
    pub webhooks_allow_insecure: bool,
}

/// A configuration value that could not be understood.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads configuration through a lookup function (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let endpoint = var("LECTERN_AWS_ENDPOINT");
        let (backend, backend_reason) = choose_backend(&var)?;
        let lambda_function = var("AWS_LAMBDA_FUNCTION_NAME");
        let addr: SocketAddr = parse(
            "LECTERN_ADDR",
            var("LECTERN_ADDR"),
            "127.0.0.1:3000".parse().expect("literal"),
        )?;
        let public_url = var("LECTERN_PUBLIC_URL")
            .unwrap_or_else(|| format!("http://{addr}"))
            .trim_end_matches('/')
            .to_string();
        if url::Url::parse(&public_url).is_err() {
            return Err(ConfigError {
                var: "LECTERN_PUBLIC_URL",
                problem: "not a URL".into(),
            });
        }
        let cors_origins: Vec<String> = var("LECTERN_CORS_ORIGINS")
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().trim_end_matches('/').to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if cors_origins
            .iter()
            .any(|o| o == "*" || url::Url::parse(o).is_err())
        {
            return Err(ConfigError {
                var: "LECTERN_CORS_ORIGINS",
                problem: "list exact origins like https://app.example.com".into(),
            });
        }
        if var("LECTERN_SIGNING_SECRET").is_some() {
            // Silently ignoring a secret someone set would be worse than refusing to start.
            return Err(ConfigError {
                var: "LECTERN_SIGNING_SECRET",
                problem: "replaced by one key ring per purpose (README, \"Secrets and rotation\"): unset it; to keep \
                          opening TOTP seeds sealed under it, add it to the TOTP ring as the \"legacy\" key"
                    .into(),
            });
        }
        let secrets = crate::secrets::SecretsConfig::from_lookup(&var, backend == Backend::Aws)?;
        let mail_from =
            var("LECTERN_MAIL_FROM").unwrap_or_else(|| "Lectern <no-reply@lectern.local>".into());
        Ok(Self {
            backend,
            addr,
            public_url,
            data_dir: data_dir(var("LECTERN_DATA_DIR"), lambda_function.as_deref(), backend),
            backend_reason,
            aws: AwsConfig {
                endpoint,
                table: var("LECTERN_TABLE").unwrap_or_else(|| "lectern".into()),
                bucket: var("LECTERN_BUCKET").unwrap_or_else(|| "lectern".into()),
                queue_prefix: var("LECTERN_QUEUE_PREFIX").unwrap_or_else(|| "lectern-".into()),
                s3_path_style: parse(
                    "LECTERN_S3_PATH_STYLE",
                    var("LECTERN_S3_PATH_STYLE"),
                    var("LECTERN_AWS_ENDPOINT").is_some(),
                )?,
                ses_configuration_set: var("LECTERN_SES_CONFIGURATION_SET"),
            },
            secrets,
            mail_from,
            max_body_bytes: parse(
                "LECTERN_MAX_BODY_BYTES",
                var("LECTERN_MAX_BODY_BYTES"),
                1024 * 1024,
            )?,
            cors_origins,
            compression_min_bytes: parse(
                "LECTERN_COMPRESSION_MIN_BYTES",
                var("LECTERN_COMPRESSION_MIN_BYTES"),
                1024,
            )?,
            queue_max_receives: parse(
                "LECTERN_QUEUE_MAX_RECEIVES",
                var("LECTERN_QUEUE_MAX_RECEIVES"),
                5,
            )?,
            queue_visibility: visibility(var("LECTERN_QUEUE_VISIBILITY_SECS"))?,
            webhooks_allow_insecure: webhooks_allow_insecure(&var, backend)?,
            rate_limits: crate::ratelimit::RateLimitConfig::from_lookup(var)?,
        })
    }

    /// A configuration for tests: embedded backend in `data_dir` (its keys are generated there on first use).
    pub fn for_tests(data_dir: PathBuf) -> Self {
        let mut config = Self::from_lookup(|_| None).expect("defaults are valid");
        config.data_dir = data_dir;
        config
    }
}

/// `LECTERN_WEBHOOKS_ALLOW_INSECURE`: a development switch, refused on real AWS (the aws backend without an
/// emulator endpoint), where it would let anyone with `webhooks:manage` make Lectern call into its VPC.
fn webhooks_allow_insecure(
    var: &impl Fn(&str) -> Option<String>,
    backend: Backend,
) -> Result<bool, ConfigError> {
    let on = parse(
        "LECTERN_WEBHOOKS_ALLOW_INSECURE",
        var("LECTERN_WEBHOOKS_ALLOW_INSECURE"),
        false,
    )?;
    if on && backend == Backend::Aws && var("LECTERN_AWS_ENDPOINT").is_none() {
        return Err(ConfigError {
            var: "LECTERN_WEBHOOKS_ALLOW_INSECURE",
            problem: "is for development only and refused on aws".into(),
        });
    }
    Ok(on)
}

/// Picks the adapters. An explicit `LECTERN_BACKEND` wins; otherwise the AWS adapters are used only when AWS
/// resources are configured (an endpoint such as moto, or a table name). Being inside a Lambda runtime is *not* a
/// reason: a Lambda emulator (`cargo lambda watch`) sets the same variables as Lambda, and there the embedded store
/// is what a developer wants. On real Lambda the SAM template sets `LECTERN_BACKEND=aws`, so nothing guesses.
fn choose_backend(
    var: &impl Fn(&str) -> Option<String>,
) -> Result<(Backend, &'static str), ConfigError> {
    Ok(match var("LECTERN_BACKEND").as_deref() {
        Some("embedded") => (Backend::Embedded, "LECTERN_BACKEND=embedded"),
        Some("aws") => (Backend::Aws, "LECTERN_BACKEND=aws"),
        Some(other) => {
            return Err(ConfigError {
                var: "LECTERN_BACKEND",
                problem: format!("{other:?} is not embedded or aws"),
            });
        }
        None if var("LECTERN_AWS_ENDPOINT").is_some() => {
            (Backend::Aws, "LECTERN_AWS_ENDPOINT is set")
        }
        None if var("LECTERN_TABLE").is_some() => (Backend::Aws, "LECTERN_TABLE is set"),
        None => (
            Backend::Embedded,
            "no LECTERN_BACKEND and no AWS resources configured",
        ),
    })
}

/// Where the embedded store lives. Inside a Lambda runtime (an emulator such as `cargo lambda watch`, which starts
/// one process per function) each function gets its own folder below the data dir: redb admits one process per
/// database file, so functions sharing one would lock each other out.
fn data_dir(
    configured: Option<String>,
    lambda_function: Option<&str>,
    backend: Backend,
) -> PathBuf {
    let base = PathBuf::from(configured.unwrap_or_else(|| ".lectern".into()));
    match lambda_function {
        Some(function) if backend == Backend::Embedded => lambda_data_dir(&base, function),
        _ => base,
    }
}

/// The embedded store of one function under a Lambda emulator: `<data dir>/lambda/<function>`.
pub fn lambda_data_dir(base: &std::path::Path, function: &str) -> PathBuf {
    let safe: String = function
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    base.join("lambda").join(safe)
}

/// The dev server's visibility timeout. It must outlast a job claim's lease: a worker that dies mid-job leaves
/// its claim behind, and the redelivery must find it lapsed (see [`crate::queue::worker::CLAIM_LEASE`]).
fn visibility(value: Option<String>) -> Result<Duration, ConfigError> {
    let lease = crate::queue::worker::CLAIM_LEASE.as_secs();
    let secs: u64 = parse("LECTERN_QUEUE_VISIBILITY_SECS", value, 60)?;
    if secs <= lease || Duration::from_secs(secs) > crate::queue::MAX_VISIBILITY {
        return Err(ConfigError {
            var: "LECTERN_QUEUE_VISIBILITY_SECS",
            problem: format!("use more than the job claim lease ({lease} s) and at most 12 hours"),
        });
    }
    Ok(Duration::from_secs(secs))
}

fn parse<T: std::str::FromStr>(
    var: &'static str,
    value: Option<String>,
    default: T,
) -> Result<T, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| ConfigError {
            var,
            problem: format!("{v:?} is not valid"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn the_webhooks_development_switch_is_off_by_default_and_refused_on_real_aws() {
        assert!(!with(&[]).unwrap().webhooks_allow_insecure);
        let on = [("LECTERN_WEBHOOKS_ALLOW_INSECURE", "true")];
        assert!(with(&on).unwrap().webhooks_allow_insecure);
        let real_aws = [
            ("LECTERN_WEBHOOKS_ALLOW_INSECURE", "true"),
            ("LECTERN_BACKEND", "aws"),
        ];
        assert_eq!(
            with(&real_aws).unwrap_err().var,
            "LECTERN_WEBHOOKS_ALLOW_INSECURE"
        );
        let emulated = [
            ("LECTERN_WEBHOOKS_ALLOW_INSECURE", "true"),
            ("LECTERN_AWS_ENDPOINT", "http://127.0.0.1:5000"),
        ];
        assert!(with(&emulated).unwrap().webhooks_allow_insecure);
        assert!(with(&[("LECTERN_WEBHOOKS_ALLOW_INSECURE", "maybe")]).is_err());
    }

    #[test]
    fn a_lambda_runtime_alone_does_not_pick_aws_but_configured_resources_do() {
        assert_eq!(with(&[]).unwrap().backend, Backend::Embedded);
        // `cargo lambda watch` sets the Lambda variables; without AWS resources the embedded store answers, in a
        // folder of the function's own.
        let emulated = with(&[("AWS_LAMBDA_FUNCTION_NAME", "users")]).unwrap();
        assert_eq!(emulated.backend, Backend::Embedded);
        assert_eq!(emulated.data_dir, PathBuf::from(".lectern/lambda/users"));
        let under = with(&[
            ("AWS_LAMBDA_FUNCTION_NAME", "users"),
            ("LECTERN_DATA_DIR", "/tmp/x"),
        ])
        .unwrap();
        assert_eq!(under.data_dir, PathBuf::from("/tmp/x/lambda/users"));
        // An explicit choice wins.
        let aws = with(&[
            ("AWS_LAMBDA_FUNCTION_NAME", "health"),
            ("LECTERN_BACKEND", "aws"),
        ])
        .unwrap();
        assert_eq!(aws.backend, Backend::Aws);
        let table = with(&[("LECTERN_TABLE", "lectern-dev")]).unwrap();
        assert_eq!(table.backend, Backend::Aws);
        assert_eq!(table.backend_reason, "LECTERN_TABLE is set");
        let forced = with(&[
            ("LECTERN_BACKEND", "embedded"),
            ("LECTERN_AWS_ENDPOINT", "http://127.0.0.1:5000"),
        ])
        .unwrap();
        assert_eq!(forced.backend, Backend::Embedded);
    }

    #[test]
    fn rejects_bad_values_by_name() {
        assert_eq!(
            with(&[("LECTERN_ADDR", "nope")]).unwrap_err().var,
            "LECTERN_ADDR"
        );
        assert_eq!(
            with(&[("LECTERN_CORS_ORIGINS", "*")]).unwrap_err().var,
            "LECTERN_CORS_ORIGINS"
        );
        assert_eq!(
            with(&[("LECTERN_BACKEND", "mysql")]).unwrap_err().var,
            "LECTERN_BACKEND"
        );
        assert_eq!(
            with(&[("LECTERN_MAX_BODY_BYTES", "-1")]).unwrap_err().var,
            "LECTERN_MAX_BODY_BYTES"
        );
        // A visibility timeout within the claim lease would make every redelivery after a crash "busy".
        assert_eq!(
            with(&[("LECTERN_QUEUE_VISIBILITY_SECS", "30")])
                .unwrap_err()
                .var,
            "LECTERN_QUEUE_VISIBILITY_SECS"
        );
        assert!(with(&[("LECTERN_QUEUE_VISIBILITY_SECS", "31")]).is_ok());
    }

    #[test]
    fn secrets_come_from_secrets_manager_on_aws_and_never_from_one_shared_variable() {
        let ring = format!("k1:{}", "x".repeat(32));
        let err = with(&[("LECTERN_TABLE", "t"), ("LECTERN_KEYS_CURSOR", &ring)]).unwrap_err();
        assert_eq!(err.var, "LECTERN_KEYS_CURSOR");
        let aws = with(&[
            ("LECTERN_TABLE", "t"),
            ("LECTERN_SECRET_CURSOR", "lectern/cursor"),
        ])
        .unwrap();
        assert_eq!(
            aws.secrets
                .secrets
                .get(&crate::secrets::Purpose::Cursor)
                .map(String::as_str),
            Some("lectern/cursor")
        );
        let embedded = with(&[("LECTERN_KEYS_CURSOR", &ring)]).unwrap();
        assert!(
            embedded
                .secrets
                .rings
                .contains_key(&crate::secrets::Purpose::Cursor)
        );
        assert!(
            !format!("{embedded:?}").contains(&"x".repeat(32)),
            "Debug never shows key material"
        );
        for backend in ["embedded", "aws"] {
            let err = with(&[
                ("LECTERN_BACKEND", backend),
                ("LECTERN_SIGNING_SECRET", &"x".repeat(32)),
            ])
            .unwrap_err();
            assert_eq!(err.var, "LECTERN_SIGNING_SECRET");
        }
    }

    #[test]
    fn reads_rate_limits() {
        let c = with(&[("LECTERN_RATE_AUTH_ACCOUNT", "3/120")]).unwrap();
        assert_eq!(c.rate_limits.per_account.auth.requests, 3);
        assert_eq!(
            c.rate_limits.per_account.auth.window,
            Duration::from_secs(120)
        );
        assert!(c.rate_limits.enabled);
        assert!(
            !with(&[("LECTERN_RATE_LIMITS", "off")])
                .unwrap()
                .rate_limits
                .enabled
        );
        assert_eq!(
            with(&[("LECTERN_RATE_GENERAL_IP", "lots")])
                .unwrap_err()
                .var,
            "LECTERN_RATE_GENERAL_IP"
        );
    }

    #[test]
    fn endpoint_implies_aws_and_path_style() {
        let c = with(&[("LECTERN_AWS_ENDPOINT", "http://127.0.0.1:5000")]).unwrap();
        assert_eq!(c.backend, Backend::Aws);
        assert!(c.aws.s3_path_style);
        assert_eq!(c.public_url, "http://127.0.0.1:3000");
    }
}
