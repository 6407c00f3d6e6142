//! Backups of the embedded store: taken while the server serves, restored into a new data dir with every account,
//! profile and file (byte for byte), refused when damaged, and never restored under a running server.

use std::io::{Read, Write};
use std::path::Path;

use lectern_e2e::DevServer;
use lectern_e2e::api::{Api, Signed};
use lectern_local::backup::{self, OfflineError};
use lectern_local::control;
use sha2::{Digest, Sha256};

/// The SHA-256 (hex) of what the profile's avatar URL serves.
async fn avatar_digest(api: &Api, parent: &Signed, profile: &str) -> String {
    let reply = api
        .profile(&parent.access, profile)
        .await
        .expect_status(200);
    let url = reply.text("avatar_url");
    let bytes = reqwest::get(&url)
        .await
        .expect("download")
        .error_for_status()
        .expect("the avatar is served")
        .bytes()
        .await
        .expect("avatar bytes");
    hex::encode(Sha256::digest(&bytes))
}

/// The display names of a parent's profiles, sorted.
async fn profile_names(api: &Api, parent: &Signed) -> Vec<String> {
    let reply = api.profiles(&parent.access).await.expect_status(200);
    let mut names: Vec<String> = reply
        .list()
        .iter()
        .map(|p| p["display_name"].as_str().expect("a name").to_string())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_the_server_runs_restores_every_account_profile_and_file() {
    let api = Api::start().await;
    let parent = api.parent("parent@example.com").await;
    let other = api.parent("other@example.com").await;
    let ada = api.child_of(&parent, "Ada", 7).await;
    let bo = api.child_of(&other, "Bo", 9).await;
    api.profile_avatar(&parent, &ada).await;
    api.profile_avatar(&other, &bo).await;
    let ada_avatar = avatar_digest(&api, &parent, &ada).await;
    let bo_avatar = avatar_digest(&api, &other, &bo).await;

    // The server holds the database, so the backup goes through its control socket.
    let data_dir = api.server.dir.path().to_path_buf();
    let kept = tempfile::tempdir().expect("temp dir");
    let file = kept.path().join("backup.zip");
    assert!(
        matches!(
            backup::write_offline(&data_dir, &file),
            Err(OfflineError::InUse(_))
        ),
        "a second process cannot open the database of a running server"
    );
    let manifest = control::backup_through_server(&data_dir, &file)
        .await
        .expect("the running server writes the backup");
    assert!(manifest.tables["items"] > 0, "{manifest:?}");
    assert_eq!(
        manifest
            .files
            .iter()
            .filter(|f| f.path.starts_with("blobs/"))
            .count(),
        2,
        "both avatars: {manifest:?}"
    );
    assert!(
        manifest.files.iter().any(|f| f.path.starts_with("keys/"))
            && manifest
                .files
                .iter()
                .any(|f| f.path == backup::JWT_KEY_FILE),
        "the key rings and the token signing key: {manifest:?}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file)
            .expect("backup")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "only the owner may read a backup: {mode:o}"
        );
    }
    // Written after the backup: a restore goes back to the moment it was taken.
    api.child_of(&parent, "Later", 5).await;
    assert!(
        backup::restore(&file, &data_dir).is_err_and(|e| matches!(e, OfflineError::InUse(_))),
        "no restore under a running server"
    );
    let original = api.stop().await;

    let restored_dir = tempfile::tempdir().expect("temp dir");
    let restored = backup::restore(&file, restored_dir.path()).expect("restore");
    assert_eq!(restored.manifest, manifest);
    assert!(restored.replaced.is_none(), "the folder was empty");
    // The key rings came back byte for byte: TOTP seeds, signed links and tokens keep meaning what they meant.
    for key in manifest
        .files
        .iter()
        .filter(|f| !f.path.starts_with("blobs/"))
    {
        if key.path == backup::DATABASE_FILE {
            continue;
        }
        assert_eq!(
            std::fs::read(restored_dir.path().join(&key.path)).expect("restored key"),
            std::fs::read(original.path().join(&key.path)).expect("original key"),
            "{}",
            key.path
        );
    }
    let api = Api::on(DevServer::start_in(restored_dir).await);
    let parent = api.login("parent@example.com").await;
    let other = api.login("other@example.com").await;
    assert_eq!(profile_names(&api, &parent).await, ["Ada"]);
    assert_eq!(profile_names(&api, &other).await, ["Bo"]);
    assert_eq!(avatar_digest(&api, &parent, &ada).await, ada_avatar);
    assert_eq!(avatar_digest(&api, &other, &bo).await, bo_avatar);
    api.stop().await;
}

/// A copy of `from` in which the first blob's bytes are changed but the manifest is not.
fn damaged_copy(from: &Path, to: &Path) {
    let mut source = zip::ZipArchive::new(std::fs::File::open(from).expect("backup")).expect("zip");
    let mut target = zip::ZipWriter::new(std::fs::File::create(to).expect("copy"));
    let mut damaged = false;
    for i in 0..source.len() {
        let mut entry = source.by_index(i).expect("entry");
        let name = entry.name().expect("entry name").to_string();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).expect("entry bytes");
        if !damaged && name.starts_with("blobs/") {
            let last = bytes.len() - 1;
            bytes[last] ^= 0xff;
            damaged = true;
        }
        target
            .start_file(name, zip::write::SimpleFileOptions::default())
            .expect("start");
        target.write_all(&bytes).expect("write");
    }
    target.finish().expect("finish");
    assert!(damaged, "the backup holds a blob to damage");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_backup_is_refused_before_anything_is_replaced() {
    let api = Api::start().await;
    let parent = api.parent("parent@example.com").await;
    let ada = api.child_of(&parent, "Ada", 7).await;
    api.profile_avatar(&parent, &ada).await;
    let kept = tempfile::tempdir().expect("temp dir");
    let file = kept.path().join("backup.zip");
    control::backup_through_server(api.server.dir.path(), &file)
        .await
        .expect("backup");
    let dir = api.stop().await;
    backup::verify(&file).expect("the backup as written is intact");

    let damaged = kept.path().join("damaged.zip");
    damaged_copy(&file, &damaged);
    let refused = backup::verify(&damaged).expect_err("damage is found");
    assert!(format!("{refused:#}").contains("is damaged"), "{refused:#}");
    let before = std::fs::read(dir.path().join(backup::DATABASE_FILE)).expect("database");
    match backup::restore(&damaged, dir.path()) {
        Err(OfflineError::Failed(e)) => assert!(format!("{e:#}").contains("is damaged"), "{e:#}"),
        other => panic!("a damaged backup is refused, not {other:?}"),
    }
    assert_eq!(
        std::fs::read(dir.path().join(backup::DATABASE_FILE)).expect("database"),
        before,
        "the data dir is untouched"
    );
    assert!(
        !std::fs::read_dir(dir.path()).expect("data dir").any(|e| e
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .starts_with("replaced-")),
        "nothing was moved aside"
    );

    // Restoring over existing data keeps that data aside.
    let restored = backup::restore(&file, dir.path()).expect("restore");
    let aside = restored.replaced.expect("the replaced data is kept");
    assert!(aside.join(backup::DATABASE_FILE).exists());
    let api = Api::on(DevServer::start_in(dir).await);
    let parent = api.login("parent@example.com").await;
    assert_eq!(profile_names(&api, &parent).await, ["Ada"]);
    api.stop().await;
}
