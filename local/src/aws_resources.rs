//! `lectern aws-setup`: creates what the SAM template would create — the table with its indexes and TTL, the bucket,
//! every queue with its dead-letter queue, the sender identity, a Secrets Manager secret per key ring — on a local
//! AWS emulator (moto), and writes an env file the functions, the dev server and `cargo lambda watch --env-file`
//! read. The env file names the secrets and holds none. Running it again changes nothing and keeps the secrets
//! already in the emulator, so tokens minted earlier stay valid.
//!
//! It refuses to run without an endpoint: on real AWS the SAM template owns these resources.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use lectern_shared::secrets::{KeyRing, Purpose};

/// Receives before a message is dead-lettered (the template's `maxReceiveCount`).
const MAX_RECEIVES: u32 = 5;

/// What to create and where.
#[derive(Clone, Debug)]
pub struct Setup {
    pub endpoint: String,
    pub table: String,
    pub bucket: String,
    pub queue_prefix: String,
    pub mail_from: String,
}

/// What a setup made that the env file needs.
#[derive(Clone, Debug)]
pub struct Created {
    /// The public keys of the access-token ring (`LECTERN_JWT_PUBLIC_KEYS`).
    pub jwt_public_keys: String,
}

/// The key rings a deployment keeps in Secrets Manager (blob URLs are signed by S3 itself on AWS).
pub const SECRET_PURPOSES: [Purpose; 7] = [
    Purpose::Cursor,
    Purpose::RateLimit,
    Purpose::Totp,
    Purpose::Outbox,
    Purpose::Jwt,
    Purpose::Certificates,
    Purpose::Webhooks,
];

impl Setup {
    /// The Secrets Manager secret of a key ring: `<table>/<purpose>`.
    pub fn secret_name(&self, purpose: Purpose) -> String {
        format!("{}/{}", self.table, purpose.name())
    }

    /// Reads the names from the same variables the functions read (with the same defaults).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let var = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        Ok(Self {
            endpoint: var("LECTERN_AWS_ENDPOINT").context(
                "set LECTERN_AWS_ENDPOINT to the emulator (e.g. http://127.0.0.1:5000 for moto_server -p 5000); \
                 on real AWS, `sam deploy` creates these resources",
            )?,
            table: var("LECTERN_TABLE").unwrap_or_else(|| "lectern".into()),
            bucket: var("LECTERN_BUCKET").unwrap_or_else(|| "lectern".into()),
            queue_prefix: var("LECTERN_QUEUE_PREFIX").unwrap_or_else(|| "lectern-".into()),
            mail_from: var("LECTERN_MAIL_FROM")
                .unwrap_or_else(|| "Lectern <no-reply@lectern.local>".into()),
        })
    }
}

/// Creates every resource (idempotently).
pub async fn create(setup: &Setup) -> anyhow::Result<Created> {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        // An emulator takes any credentials; real ones must not be needed (or leaked) to set one up.
        .test_credentials()
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&setup.endpoint)
        .load()
        .await;
    lectern_shared::table::dynamo::create_table(&aws_sdk_dynamodb::Client::new(&sdk), &setup.table)
        .await
        .with_context(|| format!("creating table {}", setup.table))?;
    crate::aws_backup::enable_point_in_time_recovery(
        &aws_sdk_dynamodb::Client::new(&sdk),
        &setup.table,
    )
    .await?;
    lectern_shared::queue::sqs::create_queues(
        &aws_sdk_sqs::Client::new(&sdk),
        &setup.queue_prefix,
        MAX_RECEIVES,
    )
    .await
    .with_context(|| format!("creating queues {}*", setup.queue_prefix))?;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    if let Err(e) = s3.create_bucket().bucket(&setup.bucket).send().await {
        let code = aws_sdk_s3::error::ProvideErrorMetadata::code(&e).unwrap_or_default();
        if !matches!(code, "BucketAlreadyOwnedByYou" | "BucketAlreadyExists") {
            anyhow::bail!(
                "creating bucket {}: {}",
                setup.bucket,
                aws_smithy_types::error::display::DisplayErrorContext(&e)
            );
        }
    }
    let sender = setup
        .mail_from
        .rsplit_once('<')
        .map(|(_, rest)| rest.trim_end_matches('>').trim().to_string())
        .unwrap_or_else(|| setup.mail_from.trim().to_string());
    let ses = aws_sdk_sesv2::Client::new(&sdk);
    if let Err(e) = ses
        .create_email_identity()
        .email_identity(&sender)
        .send()
        .await
    {
        let code = aws_sdk_sesv2::error::ProvideErrorMetadata::code(&e).unwrap_or_default();
        if code != "AlreadyExistsException" {
            anyhow::bail!(
                "creating SES identity {sender}: {}",
                aws_smithy_types::error::display::DisplayErrorContext(&e)
            );
        }
    }
    let jwt_public_keys = create_secrets(&aws_sdk_secretsmanager::Client::new(&sdk), setup).await?;
    Ok(Created { jwt_public_keys })
}

/// Creates the secret of each key ring with a fresh ring, unless it exists (then it is kept); answers the public
/// keys of the access-token ring.
async fn create_secrets(
    sm: &aws_sdk_secretsmanager::Client,
    setup: &Setup,
) -> anyhow::Result<String> {
    let mut public = String::new();
    for purpose in SECRET_PURPOSES {
        let name = setup.secret_name(purpose);
        let text = match sm.get_secret_value().secret_id(&name).send().await {
            Ok(out) => out
                .secret_string()
                .with_context(|| format!("secret {name} has no string value"))?
                .to_string(),
            Err(e)
                if aws_sdk_secretsmanager::error::ProvideErrorMetadata::code(&e)
                    == Some("ResourceNotFoundException") =>
            {
                let text = if purpose == Purpose::Jwt {
                    lectern_accounts::signing_keys::KeyRing::new_ring_text(None)?.0
                } else {
                    KeyRing::generate(purpose).to_json()
                };
                sm.create_secret()
                    .name(&name)
                    .secret_string(&text)
                    .send()
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "creating secret {name}: {}",
                            aws_smithy_types::error::display::DisplayErrorContext(&e)
                        )
                    })?;
                text
            }
            Err(e) => anyhow::bail!(
                "reading secret {name}: {}",
                aws_smithy_types::error::display::DisplayErrorContext(&e)
            ),
        };
        if purpose == Purpose::Jwt {
            public = lectern_accounts::signing_keys::KeyRing::parse(&text)?.public_spec();
        }
    }
    Ok(public)
}

/// The env file for these resources: names and endpoints, and the names of the secrets (never their values).
pub fn env_file(setup: &Setup, created: &Created) -> String {
    let mut lines = vec![
        ("LECTERN_BACKEND", "aws".to_string()),
        ("LECTERN_AWS_ENDPOINT", setup.endpoint.clone()),
        ("LECTERN_TABLE", setup.table.clone()),
        ("LECTERN_BUCKET", setup.bucket.clone()),
        ("LECTERN_QUEUE_PREFIX", setup.queue_prefix.clone()),
        ("LECTERN_MAIL_FROM", setup.mail_from.clone()),
        ("LECTERN_JWT_PUBLIC_KEYS", created.jwt_public_keys.clone()),
        // The emulator's credentials: any value works there, and none of the developer's real ones are used.
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_REGION", "us-east-1".into()),
    ];
    // Every emulated function reads the same file, so each gets every ring (the template gives each only its own).
    for purpose in SECRET_PURPOSES {
        lines.push((purpose.secret_var(), setup.secret_name(purpose)));
    }
    let mut out = String::from(
        "# Written by `lectern aws-setup` for a local AWS emulator. The key rings are in its Secrets Manager.\n",
    );
    for (k, v) in lines {
        // dotenv syntax (what `cargo lambda watch --env-file` parses): values with spaces, brackets or `=` (base64) are quoted.
        if v.contains(|c: char| c.is_whitespace() || "<>#=\"'".contains(c)) {
            out.push_str(&format!("{k}=\"{}\"\n", v.replace('"', "\\\"")));
        } else {
            out.push_str(&format!("{k}={v}\n"));
        }
    }
    out
}

/// Reads `KEY=VALUE` lines (blank lines and `#` comments skipped; optional surrounding quotes removed), the format
/// `cargo lambda watch --env-file` reads.
pub fn read_env_file(path: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut vars = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .with_context(|| format!("{}:{}: expected KEY=VALUE", path.display(), n + 1))?;
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        vars.insert(k.trim().to_string(), v.to_string());
    }
    Ok(vars)
}

/// Writes the env file readable by its owner only (it holds secrets).
pub fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    crate::backup::private_file(path)?
        .write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_round_trip_and_name_secrets_without_holding_them() {
        let setup = Setup::from_lookup(|k| {
            (k == "LECTERN_AWS_ENDPOINT").then(|| "http://127.0.0.1:5000".into())
        })
        .unwrap();
        let created = Created {
            jwt_public_keys: "k1:11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo".into(),
        };
        let text = env_file(&setup, &created);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("moto.env");
        write_private(&path, &text).unwrap();
        // cargo-lambda's parser refuses an unquoted `=` inside a value.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.split_once('=').unwrap();
            assert!(
                !value.contains('=') || value.starts_with('"'),
                "unquoted = in {line}"
            );
        }
        let read = read_env_file(&path).unwrap();
        assert_eq!(read["LECTERN_BACKEND"], "aws");
        assert_eq!(read["LECTERN_TABLE"], "lectern");
        assert_eq!(read["LECTERN_SECRET_TOTP"], "lectern/totp");
        assert_eq!(read["LECTERN_JWT_PUBLIC_KEYS"], created.jwt_public_keys);
        assert!(
            !read
                .keys()
                .any(|k| k.starts_with("LECTERN_KEYS_") || k == "LECTERN_JWT_KEYS"),
            "no key material in the file: {read:?}"
        );
        // The functions accept it as their configuration.
        let config = lectern_shared::Config::from_lookup(|k| read.get(k).cloned()).unwrap();
        assert_eq!(config.secrets.secrets.len(), SECRET_PURPOSES.len());
        assert!(
            Setup::from_lookup(|_| None).is_err(),
            "no endpoint, no setup"
        );
    }
}
