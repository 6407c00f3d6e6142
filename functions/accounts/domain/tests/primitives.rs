//! The storage-free building blocks: password policy and hashing, tokens, sealing, TOTP, backup codes, QR.

use std::collections::{HashMap, HashSet};

use lectern_accounts::crypto::{self, SealError, SecretBox};
use lectern_accounts::password::{
    Argon2Params, PasswordError, PasswordHasher, PasswordPolicy, PolicyViolation, check_policy,
};
use lectern_accounts::twofactor::{backup_codes, qr, totp};
use lectern_shared::secrets::{KeyRing, Purpose};

const EMAIL: &str = "ada.lovelace@example.com";

fn codes(result: Result<(), Vec<PolicyViolation>>) -> Vec<&'static str> {
    match result {
        Ok(()) => vec![],
        Err(v) => v.iter().map(PolicyViolation::code).collect(),
    }
}

// --- password policy ---------------------------------------------------------------------------------------

#[test]
fn policy_accepts_good_passwords_at_both_ends_of_the_range() {
    assert_eq!(check_policy("tqvm-8kzr2", EMAIL), Ok(()));
    let longest: String = "zk3!".repeat(32);
    assert_eq!(longest.chars().count(), 128);
    assert_eq!(check_policy(&longest, EMAIL), Ok(()));
}

#[test]
fn policy_accepts_long_passphrases_with_spaces_and_unicode() {
    let phrase =
        "  la bibliothèque silencieuse 🦉 ouvre ses portes à minuit, sans clé ni lanterne  ";
    assert!(phrase.chars().count() >= 64);
    assert_eq!(check_policy(phrase, EMAIL), Ok(()));
}

#[test]
fn policy_counts_characters_not_bytes() {
    // Nine characters but 36 bytes: too short.
    let nine = "🦉".repeat(9);
    assert_eq!(codes(check_policy(&nine, EMAIL)), ["too_short"]);
    // 128 characters of 4 bytes each: fine.
    let many = format!("{}{}", "🦉".repeat(100), "q7w3-n8v2-x5b9-m4k6-j2h8-");
    assert_eq!(many.chars().count(), 125);
    assert_eq!(check_policy(&many, EMAIL), Ok(()));
}

#[test]
fn policy_rejects_nine_and_129_characters() {
    assert_eq!(codes(check_policy("tqvm-8kzr", EMAIL)), ["too_short"]);
    let long: String = "zk3!".repeat(32) + "x";
    assert_eq!(long.chars().count(), 129);
    assert_eq!(codes(check_policy(&long, EMAIL)), ["too_long"]);
    let empty = check_policy("", EMAIL).unwrap_err();
    assert_eq!(empty[0], PolicyViolation::TooShort { min: 10 });
    assert_eq!(empty[0].message(), "Use at least 10 characters.");
}

#[test]
fn policy_rejects_common_passwords_in_any_case_and_obvious_variants() {
    for p in [
        "1234567890",
        "qwertyuiop",
        "QwErTyUiOp",
        "PASSWORD1234",
        "Password123!",
        "P@ssw0rd2024",
        "p@$$w0rd!!!!",
        "!!!Dragon2024",
        "sunshine1234",
        "Iloveyou12345",
    ] {
        assert!(
            codes(check_policy(p, EMAIL)).contains(&"common"),
            "{p} should be refused"
        );
    }
}

#[test]
fn policy_rejects_passwords_containing_the_email() {
    for p in [
        "ada.lovelace-rocks",
        "xxADA.LOVELACExx",
        "my ada.lovelace@example.com",
    ] {
        assert_eq!(codes(check_policy(p, EMAIL)), ["contains_email"], "{p}");
    }
    assert_eq!(
        codes(check_policy("tagless-bob-q7w3", "bob+lectern@example.com")),
        ["contains_email"]
    );
    // A local part under three characters is too short to forbid.
    assert_eq!(check_policy("jo-q7w3-n8v2", "jo@example.com"), Ok(()));
}

#[test]
fn policy_reports_every_violation_and_never_trims() {
    assert_eq!(
        codes(check_policy("password", EMAIL)),
        ["too_short", "common"]
    );
    // Spaces count: nine visible characters plus one space reaches ten.
    assert_eq!(check_policy("tqvm-8kzr ", EMAIL), Ok(()));
    let custom = PasswordPolicy {
        min_chars: 12,
        max_chars: 64,
    };
    assert_eq!(codes(custom.check("tqvm-8kzr2", EMAIL)), ["too_short"]);
}

// --- password hashing --------------------------------------------------------------------------------------

fn tiny() -> Argon2Params {
    Argon2Params {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    }
}

#[tokio::test]
async fn hash_and_verify_roundtrip() {
    let hasher = PasswordHasher::new(tiny()).unwrap();
    let phc = hasher.hash("correct horse battery").await.unwrap();
    assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
    let ok = hasher.verify("correct horse battery", &phc).await.unwrap();
    assert!(ok.valid);
    assert!(!ok.needs_rehash);
    let wrong = hasher.verify("correct horse battery ", &phc).await.unwrap();
    assert!(!wrong.valid, "a trailing space is a different password");
    assert!(!wrong.needs_rehash);
    // Same password, fresh salt.
    assert_ne!(hasher.hash("correct horse battery").await.unwrap(), phc);
}

#[tokio::test]
async fn hashes_made_with_other_settings_verify_and_ask_for_a_rehash() {
    let old = PasswordHasher::new(tiny()).unwrap();
    let phc = old.hash("correct horse battery").await.unwrap();
    let current = PasswordHasher::new(Argon2Params {
        memory_kib: 128,
        iterations: 2,
        parallelism: 1,
    })
    .unwrap();
    let v = current.verify("correct horse battery", &phc).await.unwrap();
    assert!(v.valid && v.needs_rehash);
    let wrong = current.verify("wrong horse battery", &phc).await.unwrap();
    assert!(!wrong.valid && !wrong.needs_rehash);
    let rehashed = current.hash("correct horse battery").await.unwrap();
    assert!(
        !current
            .verify("correct horse battery", &rehashed)
            .await
            .unwrap()
            .needs_rehash
    );
}

#[tokio::test]
async fn malformed_stored_hashes_are_errors_not_mismatches() {
    let hasher = PasswordHasher::new(tiny()).unwrap();
    for phc in [
        "",
        "not a hash",
        "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ",
        "$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "$scrypt$ln=16,r=8,p=1$c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        assert_eq!(
            hasher.verify("whatever", phc).await,
            Err(PasswordError::MalformedHash),
            "{phc}"
        );
    }
}

#[tokio::test]
async fn dummy_verification_completes() {
    let hasher = PasswordHasher::new(tiny()).unwrap();
    hasher.verify_dummy("someone@example.com's guess").await;
}

#[test]
fn argon2_settings_come_from_the_environment_with_owasp_defaults() {
    let with = |pairs: &[(&str, &str)]| {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Argon2Params::from_lookup(|k| map.get(k).cloned())
    };
    assert_eq!(
        with(&[]).unwrap(),
        Argon2Params {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1
        }
    );
    assert_eq!(
        with(&[
            ("LECTERN_ARGON2_MEMORY_KIB", "65536"),
            ("LECTERN_ARGON2_ITERATIONS", " 3 "),
            ("LECTERN_ARGON2_PARALLELISM", "2"),
        ])
        .unwrap(),
        Argon2Params {
            memory_kib: 65_536,
            iterations: 3,
            parallelism: 2
        }
    );
    for (var, value) in [
        ("LECTERN_ARGON2_MEMORY_KIB", "lots"),
        ("LECTERN_ARGON2_MEMORY_KIB", "4"),
        ("LECTERN_ARGON2_MEMORY_KIB", "99999999"),
        ("LECTERN_ARGON2_ITERATIONS", "0"),
        ("LECTERN_ARGON2_ITERATIONS", "-1"),
        ("LECTERN_ARGON2_PARALLELISM", "0"),
        ("LECTERN_ARGON2_PARALLELISM", "1000"),
    ] {
        let err = with(&[(var, value)]).unwrap_err();
        assert_eq!(err.var, var, "{value}");
    }
    // Memory must cover 8 KiB per lane.
    let err = with(&[
        ("LECTERN_ARGON2_MEMORY_KIB", "16"),
        ("LECTERN_ARGON2_PARALLELISM", "4"),
    ])
    .unwrap_err();
    assert_eq!(err.var, "LECTERN_ARGON2_MEMORY_KIB");
}

#[test]
fn the_hasher_refuses_settings_argon2_cannot_use() {
    let too_big = Argon2Params {
        memory_kib: u32::MAX,
        iterations: 1,
        parallelism: 1,
    };
    assert!(matches!(
        PasswordHasher::new(too_big),
        Err(PasswordError::InvalidParams(_))
    ));
    let zero = Argon2Params {
        memory_kib: 64,
        iterations: 0,
        parallelism: 1,
    };
    assert!(matches!(
        PasswordHasher::new(zero),
        Err(PasswordError::InvalidParams(_))
    ));
}

// --- tokens ------------------------------------------------------------------------------------------------

#[test]
fn random_tokens_are_prefixed_256_bit_and_unique() {
    let tokens: HashSet<String> = (0..1000).map(|_| crypto::random_token("lk_", 32)).collect();
    assert_eq!(tokens.len(), 1000);
    for t in &tokens {
        let body = t.strip_prefix("lk_").unwrap();
        // 32 bytes in base64url without padding is 43 characters.
        assert_eq!(body.len(), 43, "{t}");
        assert!(
            body.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }
    assert_eq!(crypto::random_token("", 16).len(), 22);
}

#[test]
fn token_hash_is_sha256_hex() {
    assert_eq!(
        crypto::token_hash("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_ne!(crypto::token_hash("abd"), crypto::token_hash("abc"));
}

#[test]
fn constant_time_eq_compares_content_and_length() {
    assert!(crypto::constant_time_eq(b"same", b"same"));
    assert!(!crypto::constant_time_eq(b"same", b"sane"));
    assert!(!crypto::constant_time_eq(b"same", b"same!"));
    assert!(crypto::constant_time_eq(b"", b""));
}

// --- SecretBox ---------------------------------------------------------------------------------------------

const MASTER: &[u8] = b"a master secret of at least thirty-two characters";

#[test]
fn secret_box_roundtrips_with_fresh_nonces() {
    let sb = SecretBox::derive(MASTER, "totp-secret/v1");
    let a = sb.seal(b"JBSWY3DPEHPK3PXP", b"user-1").unwrap();
    let b = sb.seal(b"JBSWY3DPEHPK3PXP", b"user-1").unwrap();
    assert!(a.starts_with("v2.k0."), "{a}");
    assert_ne!(a, b, "every seal uses a new nonce");
    assert_eq!(sb.open(&a, b"user-1").unwrap(), b"JBSWY3DPEHPK3PXP");
    assert_eq!(sb.open(&b, b"user-1").unwrap(), b"JBSWY3DPEHPK3PXP");
    assert_eq!(sb.open(&sb.seal(b"", b"").unwrap(), b"").unwrap(), b"");
    // The same master and purpose derive the same key (a new process can open old values).
    let again = SecretBox::derive(MASTER, "totp-secret/v1");
    assert_eq!(again.open(&a, b"user-1").unwrap(), b"JBSWY3DPEHPK3PXP");
}

#[test]
fn secret_box_rejects_tampering_other_users_and_other_keys() {
    let sb = SecretBox::derive(MASTER, "totp-secret/v1");
    let sealed = sb.seal(b"seed", b"user-1").unwrap();

    // Flip one character of the ciphertext.
    let (head, ct) = sealed.rsplit_once('.').unwrap();
    let mut ct = ct.to_string().into_bytes();
    ct[0] = if ct[0] == b'A' { b'B' } else { b'A' };
    let tampered = format!("{head}.{}", String::from_utf8(ct).unwrap());
    assert_eq!(sb.open(&tampered, b"user-1"), Err(SealError::Rejected));

    assert_eq!(sb.open(&sealed, b"user-2"), Err(SealError::Rejected));
    let other_purpose = SecretBox::derive(MASTER, "something-else/v1");
    assert_eq!(
        other_purpose.open(&sealed, b"user-1"),
        Err(SealError::Rejected)
    );
    let other_master = SecretBox::derive(b"another master secret entirely......", "totp-secret/v1");
    assert_eq!(
        other_master.open(&sealed, b"user-1"),
        Err(SealError::Rejected)
    );

    for bad in [
        "",
        "v1",
        "v1.abc",
        "v2.k0.AAAAAAAAAAAAAAAA",
        "v3.k0.AAAA.AAAA",
        "v2.k0.AAAA.AAAA",
        "v2.k0.!!!!.AAAA",
        &format!("{sealed}.extra"),
    ] {
        assert_eq!(sb.open(bad, b"user-1"), Err(SealError::Malformed), "{bad}");
    }
    assert_eq!(
        SecretBox::none().seal(b"seed", b"user-1"),
        Err(SealError::NoKeys),
        "a function without TOTP keys seals nothing"
    );
}

fn totp_ring(text: &str) -> SecretBox {
    SecretBox::from_ring(&KeyRing::parse(Purpose::Totp, text, "test").unwrap())
}

const K1: &str = "k1:first-totp-key-material-0123456789abcdef";
const K2: &str = "k2:second-totp-key-material-0123456789abcdef";

/// Rotating the TOTP key must not lock out the users enrolled under the old one (it used to answer 500).
#[test]
fn seals_name_their_key_and_still_open_after_a_new_key_is_added() {
    let before = totp_ring(K1);
    let sealed = before.seal(b"JBSWY3DPEHPK3PXP", b"user-1").unwrap();
    assert_eq!(SecretBox::key_of(&sealed), Some("k1"));

    let rotated = totp_ring(&format!("{K2},{K1}"));
    assert_eq!(
        rotated.open(&sealed, b"user-1").unwrap(),
        b"JBSWY3DPEHPK3PXP"
    );
    let fresh = rotated.seal(b"NEWSEED", b"user-1").unwrap();
    assert_eq!(
        SecretBox::key_of(&fresh),
        Some("k2"),
        "the active key seals"
    );
    assert_eq!(
        before.open(&fresh, b"user-1"),
        Err(SealError::UnknownKey("k2".into()))
    );

    // Once k1 is dropped its seals no longer open, and say which key they need.
    let dropped = totp_ring(K2);
    assert_eq!(
        dropped.open(&sealed, b"user-1"),
        Err(SealError::UnknownKey("k1".into()))
    );
}

/// Seeds sealed before key rings (`v1.`, under the old signing secret) open with that secret as the ring's
/// `legacy` key.
#[test]
fn seals_from_before_key_rings_open_with_the_legacy_key() {
    let old_secret = "the-signing-secret-of-an-old-deployment";
    let old = SecretBox::derive(old_secret.as_bytes(), "lectern/totp-secrets/v1");
    let mut sealed = old.seal(b"JBSWY3DPEHPK3PXP", b"user-1").unwrap();
    // What the old code wrote: `v1.<nonce>.<ciphertext>`, no key id.
    sealed = sealed.replacen("v2.k0.", "v1.", 1);
    let ring = totp_ring(&format!(
        r#"{{"active": "k1", "k1": "{}", "legacy": "{old_secret}"}}"#,
        &K1[3..]
    ));
    assert_eq!(ring.open(&sealed, b"user-1").unwrap(), b"JBSWY3DPEHPK3PXP");
    assert_eq!(SecretBox::key_of(&sealed), Some("legacy"));
    assert_eq!(
        totp_ring(K1).open(&sealed, b"user-1"),
        Err(SealError::UnknownKey("legacy".into()))
    );
}

// --- TOTP --------------------------------------------------------------------------------------------------

const RFC_SECRET: &[u8] = b"12345678901234567890";

#[test]
fn totp_matches_rfc6238_sha1_vectors_last_six_digits() {
    for (time, expected) in [
        (59u64, "287082"),
        (1_111_111_109, "081804"),
        (1_111_111_111, "050471"),
        (1_234_567_890, "005924"),
        (2_000_000_000, "279037"),
        (20_000_000_000, "353130"),
    ] {
        assert_eq!(totp::code_at(RFC_SECRET, time), expected, "{time}");
    }
}

#[test]
fn totp_accepts_one_step_of_drift_and_no_more() {
    let now: u64 = 1_234_567_890;
    let step = now / 30;
    for (offset, accepted) in [(-2i64, false), (-1, true), (0, true), (1, true), (2, false)] {
        let then = now.checked_add_signed(offset * 30).unwrap();
        let code = totp::code_at(RFC_SECRET, then);
        let expected = accepted.then_some(then / 30);
        assert_eq!(
            totp::verify(RFC_SECRET, &code, now, None),
            expected,
            "{offset}"
        );
    }
    assert_eq!(
        totp::verify(RFC_SECRET, &totp::code_at(RFC_SECRET, now), now, None),
        Some(step)
    );
}

#[test]
fn totp_codes_cannot_be_replayed() {
    let now: u64 = 1_234_567_890;
    let code = totp::code_at(RFC_SECRET, now);
    let used = totp::verify(RFC_SECRET, &code, now, None).unwrap();
    // The same code again, even a few seconds later within the window.
    assert_eq!(totp::verify(RFC_SECRET, &code, now + 5, Some(used)), None);
    // An earlier step's code after a later one was used.
    let previous = totp::code_at(RFC_SECRET, now - 30);
    assert_eq!(totp::verify(RFC_SECRET, &previous, now, Some(used)), None);
    // The next step's code is still fine.
    let next = totp::code_at(RFC_SECRET, now + 30);
    assert_eq!(
        totp::verify(RFC_SECRET, &next, now + 30, Some(used)),
        Some(used + 1)
    );
}

#[test]
fn totp_rejects_malformed_codes() {
    let now: u64 = 1_234_567_890;
    let code = totp::code_at(RFC_SECRET, now);
    assert_eq!(
        totp::verify(
            RFC_SECRET,
            &format!("{} {}", &code[..3], &code[3..]),
            now,
            None
        ),
        Some(now / 30),
        "spaces as apps display them are fine"
    );
    for bad in [
        String::new(),
        code[..5].to_string(),
        format!("{code}0"),
        format!("0{code}"),
        format!("{}a", &code[..5]),
        format!("+{}", &code[1..]),
        format!("-{}", &code[1..]),
        format!("{code}\n"),
        "١٢٣٤٥٦".to_string(),
        "00000000".to_string(),
    ] {
        assert_eq!(totp::verify(RFC_SECRET, &bad, now, None), None, "{bad:?}");
    }
}

#[test]
fn totp_secrets_are_random_and_base32_encoded() {
    let a = totp::generate_secret();
    let b = totp::generate_secret();
    assert_eq!(a.len(), 20);
    assert_ne!(a, b);
    let encoded = totp::base32(&a);
    assert_eq!(encoded.len(), 32);
    assert!(
        encoded
            .bytes()
            .all(|c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c))
    );
    assert_eq!(totp::base32(b"Hello!\xde\xad\xbe\xef"), "JBSWY3DPEHPK3PXP");
}

#[test]
fn otpauth_uri_is_well_formed_and_encoded() {
    let uri = totp::otpauth_uri(
        b"Hello!\xde\xad\xbe\xef",
        "Lectern School",
        "ada+x@example.com",
    );
    assert_eq!(
        uri,
        "otpauth://totp/Lectern%20School:ada%2Bx%40example.com?secret=JBSWY3DPEHPK3PXP\
         &issuer=Lectern%20School&algorithm=SHA1&digits=6&period=30"
    );
    let parsed = url::Url::parse(&uri).unwrap();
    assert_eq!(parsed.scheme(), "otpauth");
    let query: HashMap<String, String> = parsed.query_pairs().into_owned().collect();
    assert_eq!(query["issuer"], "Lectern School");
    assert_eq!(query["secret"], "JBSWY3DPEHPK3PXP");
    // Hostile input cannot add parameters.
    let sneaky = totp::otpauth_uri(b"k", "Evil&secret=AAAA", "x?y#z");
    let parsed = url::Url::parse(&sneaky).unwrap();
    let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    assert_eq!(pairs.iter().filter(|(k, _)| k == "secret").count(), 1);
    assert!(parsed.fragment().is_none());
}

// --- backup codes ------------------------------------------------------------------------------------------

#[test]
fn backup_codes_are_unique_and_well_shaped() {
    let codes = backup_codes::generate(backup_codes::DEFAULT_COUNT);
    assert_eq!(codes.len(), 10);
    assert_eq!(codes.iter().collect::<HashSet<_>>().len(), 10);
    for c in &codes {
        assert_eq!(c.len(), 9, "{c}");
        assert_eq!(&c[4..5], "-");
        assert!(
            c.chars()
                .filter(|ch| *ch != '-')
                .all(|ch| "0123456789abcdefghjkmnpqrstvwxyz".contains(ch)),
            "{c}"
        );
    }
    // Across many sets no code repeats (40 bits each).
    let many: HashSet<String> = (0..100).flat_map(|_| backup_codes::generate(10)).collect();
    assert_eq!(many.len(), 1000);
}

#[test]
fn backup_codes_normalize_and_find() {
    assert_eq!(backup_codes::normalize(" AB1O-il23 \t"), "ab101123");
    let hasher = backup_codes::CodeHasher::from_key([3; 32], "t1");
    let codes = backup_codes::generate(10);
    let mut hashes: Vec<String> = codes
        .iter()
        .map(|c| hasher.hash("u1", c).unwrap())
        .collect();

    assert_eq!(hasher.find("u1", &hashes, &codes[3]), Some(3));
    let shouted = codes[7].to_uppercase().replace('-', " ");
    assert_eq!(hasher.find("u1", &hashes, &shouted), Some(7));
    assert_eq!(hasher.find("u1", &hashes, "zzzz-zzzz"), None);
    assert_eq!(hasher.find("u1", &hashes, ""), None);
    assert_eq!(hasher.find("u1", &[], &codes[0]), None);

    // Once used, the caller removes the hash and the code no longer works.
    let used = hasher.find("u1", &hashes, &codes[3]).unwrap();
    hashes.remove(used);
    assert_eq!(hasher.find("u1", &hashes, &codes[3]), None);
    assert_eq!(hasher.find("u1", &hashes, &codes[4]), Some(3));
}

#[test]
fn backup_codes_are_stored_under_a_key_not_in_the_table_and_bound_to_their_account() {
    let hasher =
        backup_codes::CodeHasher::derive(b"this deployment's secret 0123456789", "codes/v1", "d1");
    let codes = backup_codes::generate(10);
    let stored: Vec<String> = codes
        .iter()
        .map(|c| hasher.hash("user-1", c).unwrap())
        .collect();
    for (code, entry) in codes.iter().zip(&stored) {
        // A dump of the table shows neither the code nor its plain digest.
        assert!(entry.starts_with("hk:d1:"), "{entry}");
        assert!(!entry.contains(&backup_codes::digest(code)));
        assert!(!entry.contains(&backup_codes::normalize(code)));
    }
    // Without the key (another deployment's, or none) nothing matches; nor for another account.
    let elsewhere =
        backup_codes::CodeHasher::derive(b"another deployment's secret 012345", "codes/v1", "d1");
    assert_eq!(elsewhere.find("user-1", &stored, &codes[2]), None);
    assert_eq!(hasher.find("user-2", &stored, &codes[2]), None);
    assert_eq!(hasher.find("user-1", &stored, &codes[2]), Some(2));
}

#[test]
fn backup_codes_follow_the_totp_ring_through_a_rotation() {
    use lectern_shared::secrets::{KeyRing, Purpose};
    let before = KeyRing::single(Purpose::Totp, "k1", &[1; 32]).unwrap();
    let hasher = backup_codes::CodeHasher::from_ring(&before);
    let codes = backup_codes::generate(3);
    let stored: Vec<String> = codes
        .iter()
        .map(|c| hasher.hash("u1", c).unwrap())
        .collect();
    assert!(stored[0].starts_with("hk:k1:"), "{}", stored[0]);

    // A new active key: new codes are hashed under it, and the codes hashed before still verify.
    let after = before.rotated("k2", &[2; 32]).unwrap();
    let rotated = backup_codes::CodeHasher::from_ring(&after);
    assert_eq!(rotated.find("u1", &stored, &codes[1]), Some(1));
    assert!(rotated.hash("u1", &codes[0]).unwrap().starts_with("hk:k2:"));
    // Once the old key leaves the ring, its entries cannot be checked and match nothing.
    let only_new = KeyRing::single(Purpose::Totp, "k2", &[2; 32]).unwrap();
    let dropped = backup_codes::CodeHasher::from_ring(&only_new);
    assert_eq!(dropped.find("u1", &stored, &codes[1]), None);
    // A function without the TOTP ring hashes nothing and matches nothing.
    let none = backup_codes::CodeHasher::none();
    assert_eq!(none.hash("u1", &codes[0]), None);
    assert_eq!(none.find("u1", &stored, &codes[1]), None);
}

#[test]
fn unkeyed_backup_codes_keep_working_and_upgrade_in_place() {
    let hasher = backup_codes::CodeHasher::from_key([9; 32], "d1");
    let codes = backup_codes::generate(10);
    // What older versions stored: SHA-256 of the normalized code.
    let mut stored: Vec<String> = codes.iter().map(|c| backup_codes::digest(c)).collect();
    assert_eq!(
        stored[0],
        crypto::token_hash(&backup_codes::normalize(&codes[0]))
    );
    stored[1].clear();
    assert_eq!(hasher.find("u1", &stored, &codes[5]), Some(5));

    // The keyed hash is taken over the old digest, so the upgrade needs no code and keeps every code valid.
    assert!(hasher.upgrade("u1", &mut stored));
    assert!(!hasher.upgrade("u1", &mut stored), "idempotent");
    assert_eq!(stored[1], "", "a used slot stays used");
    assert_eq!(stored[5], hasher.hash("u1", &codes[5]).unwrap());
    assert_eq!(hasher.find("u1", &stored, &codes[5]), Some(5));
    assert_eq!(hasher.find("u1", &stored, &codes[1]), None);
}

// --- QR ----------------------------------------------------------------------------------------------------

#[test]
fn qr_code_is_an_svg_document() {
    let uri = totp::otpauth_uri(&totp::generate_secret(), "Lectern", "ada@example.com");
    let svg = qr::svg(&uri).unwrap();
    let start = svg.find("<svg").expect("an <svg> element");
    assert!(svg.trim_end().ends_with("</svg>"));
    let width: u32 = svg[start..]
        .split("width=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    assert!(width >= 200, "{width}");
    assert!(qr::svg(&"x".repeat(10_000)).is_err());
}
