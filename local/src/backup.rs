//! Backups of the embedded store: `lectern backup FILE`, `lectern restore FILE`, and the dev server's scheduled
//! backups.
//!
//! A backup is one zip file:
//!
//! - `lectern.redb` — a copy of the database (the table, its indexes and the queues), made from **one read
//!   transaction** of the live database, so it is one consistent moment even while the server keeps writing (redb
//!   readers see a snapshot; copying the file itself could catch a commit half-way);
//! - `blobs/…` — every stored object (the blob folder's `objects/`; never its `tmp/`, which holds uploads still
//!   being written), copied after the database, so every object the snapshot refers to is there (an object written
//!   later is an extra the abandoned-upload cleanup removes; one deleted in between is listed as `missing`);
//! - `keys/…` and `jwt-ed25519.key` — the key rings and the access-token signing key (sessions, tokens, TOTP
//!   seeds and signed links need them to mean anything after a restore).
//!   **A backup therefore holds secrets:** it is written owner-only (0600) and must be stored like the data dir;
//! - `manifest.json` — format version, time, the size and SHA-256 of every other entry, and items per table.
//!
//! A restore checks every entry against the manifest in a staging folder first, and only then moves the current
//! data aside (`<data dir>/replaced-<time>/`, never deleted) and the restored data into place: a damaged or
//! truncated backup changes nothing. It refuses while a server holds the database.
//!
//! The mail outbox (`outbox/`, the dev server's sent mail) is not backed up: it is what was sent, not state.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail, ensure};
use redb::{Database, ReadableTable, TableDefinition, TableHandle};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;

/// The database file in a data dir (what `Platform` opens).
pub const DATABASE_FILE: &str = "lectern.redb";
/// The access-token signing key of the embedded store, beside the database (the accounts domain's `KeyRing::local`).
pub const JWT_KEY_FILE: &str = "jwt-ed25519.key";
/// The manifest's name inside a backup.
pub const MANIFEST: &str = "manifest.json";
/// The format this version writes and reads.
pub const FORMAT: u32 = 1;

/// Items copied per write transaction of the copy: bounds the memory of one commit on a large database.
const COPY_BATCH: usize = 10_000;

/// What a backup holds, written into it as `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// The `lectern` version that wrote it.
    pub lectern_version: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// Every entry but the manifest, with its size and SHA-256 (hex).
    pub files: Vec<FileEntry>,
    /// Items per database table (the table, its indexes, the queues), for a glance at what is inside.
    pub tables: BTreeMap<String, u64>,
    /// Objects listed when the copy started but deleted before it reached them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

/// Writes a backup of the data dir `data_dir`, whose database `db` is open (a running server's, or one the caller
/// opened), to `out`. The file appears only when complete (written next to it, then renamed).
pub fn write(db: &Database, data_dir: &Path, out: &Path) -> anyhow::Result<Manifest> {
    let partial = sibling(out, ".partial")?;
    let staging = tempfile::Builder::new()
        .prefix(".backup-")
        .tempdir_in(data_dir)
        .context("creating a staging folder in the data dir")?;
    let written = (|| {
        let copy = staging.path().join(DATABASE_FILE);
        let tables = copy_database(db, &copy)?;
        let mut zip = zip::ZipWriter::new(private_file(&partial)?);
        let mut manifest = Manifest {
            format: FORMAT,
            lectern_version: env!("CARGO_PKG_VERSION").to_string(),
            created_at: now_rfc3339(),
            files: Vec::new(),
            tables,
            missing: Vec::new(),
        };
        manifest
            .files
            .push(add_file(&mut zip, &copy, DATABASE_FILE)?);
        let jwt_key = data_dir.join(JWT_KEY_FILE);
        if jwt_key.exists() {
            manifest
                .files
                .push(add_file(&mut zip, &jwt_key, JWT_KEY_FILE)?);
        }
        for (folder, prefix) in [
            (data_dir.join("blobs").join("objects"), "blobs"),
            (data_dir.join("keys"), "keys"),
        ] {
            for (path, name) in files_under(&folder, prefix)? {
                match add_file(&mut zip, &path, &name) {
                    Ok(entry) => manifest.files.push(entry),
                    // Deleted between the listing and the copy (an erasure, a replaced avatar).
                    Err(e) if is_not_found(&e) => manifest.missing.push(name),
                    Err(e) => return Err(e),
                }
            }
        }
        zip.start_file(MANIFEST, options(0))?;
        zip.write_all(&serde_json::to_vec_pretty(&manifest)?)?;
        zip.finish()?.sync_all()?;
        Ok(manifest)
    })();
    match written {
        Ok(manifest) => {
            std::fs::rename(&partial, out)
                .with_context(|| format!("moving the backup into {}", out.display()))?;
            Ok(manifest)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

/// Writes a backup of a data dir no server is using (opens its database for the time of the copy).
pub fn write_offline(data_dir: &Path, out: &Path) -> Result<Manifest, OfflineError> {
    let db = open_exclusive(data_dir)?;
    write(&db, data_dir, out).map_err(OfflineError::Failed)
}

/// Why a command that needs the database to itself could not run.
#[derive(Debug, thiserror::Error)]
pub enum OfflineError {
    /// A running server holds it (the backup then goes through the server's control socket).
    #[error("a running server holds the database in {0}")]
    InUse(PathBuf),
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// Opens the data dir's database if no other process has it.
fn open_exclusive(data_dir: &Path) -> Result<Database, OfflineError> {
    let path = data_dir.join(DATABASE_FILE);
    if !path.exists() {
        return Err(OfflineError::Failed(anyhow::anyhow!(
            "there is no database at {}",
            path.display()
        )));
    }
    match Database::open(&path) {
        Ok(db) => Ok(db),
        Err(redb::DatabaseError::DatabaseAlreadyOpen) => Err(OfflineError::InUse(path)),
        Err(e) => Err(OfflineError::Failed(
            anyhow::Error::new(e).context(format!("opening {}", path.display())),
        )),
    }
}

/// Reads and checks a backup: the manifest, and every entry against its size and digest. Answers the manifest.
pub fn verify(file: &Path) -> anyhow::Result<Manifest> {
    extract(file, None)
}

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    pub manifest: Manifest,
    /// Where the data it replaced went (when there was any).
    pub replaced: Option<PathBuf>,
}

/// Restores a backup into `data_dir`: checks everything in a staging folder, then moves what is there aside and
/// the restored data into place. Refuses while a server holds the database.
pub fn restore(file: &Path, data_dir: &Path) -> Result<Restored, OfflineError> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    // Held until the end, so no server starts on the data dir half-way through.
    let guard = if data_dir.join(DATABASE_FILE).exists() {
        Some(open_exclusive(data_dir)?)
    } else {
        None
    };
    let staging = tempfile::Builder::new()
        .prefix(".restore-")
        .tempdir_in(data_dir)
        .context("creating a staging folder in the data dir")?;
    let manifest = extract(file, Some(staging.path()))?;
    // The copy must open as a database before it replaces anything.
    Database::open(staging.path().join(DATABASE_FILE))
        .context("the backup's database does not open")?;
    drop(guard);

    let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let aside = data_dir.join(format!("replaced-{stamp}"));
    // (name in the staging folder and the data dir, where the restored copy goes): the data dir's `blobs/` holds
    // `objects/` and `tmp/`; a backup restores `objects/` and the blob store starts a fresh `tmp/`.
    let moves = [
        (DATABASE_FILE, DATABASE_FILE),
        (JWT_KEY_FILE, JWT_KEY_FILE),
        ("blobs", "blobs/objects"),
        ("keys", "keys"),
    ];
    let mut replaced = None;
    for (name, _) in moves {
        let current = data_dir.join(name);
        if current.exists() {
            std::fs::create_dir_all(&aside).context("creating the folder for the replaced data")?;
            std::fs::rename(&current, aside.join(name))
                .with_context(|| format!("moving {} aside", current.display()))?;
            replaced = Some(aside.clone());
        }
    }
    for (name, destination) in moves {
        let (from, to) = (staging.path().join(name), data_dir.join(destination));
        if !from.exists() {
            continue; // a backup of a store without blobs or keys yet
        }
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).context("creating the restored folders")?;
        }
        std::fs::rename(&from, &to)
            .with_context(|| format!("moving the restored {name} into place"))?;
    }
    Ok(Restored { manifest, replaced })
}

/// Reads the manifest, then every entry, checking each against it; with `into`, writes the entries there.
fn extract(file: &Path, into: Option<&Path>) -> anyhow::Result<Manifest> {
    let mut zip = zip::ZipArchive::new(BufReader::new(
        File::open(file).with_context(|| format!("opening {}", file.display()))?,
    ))
    .context("not a backup: the file is not a readable zip archive")?;
    let manifest: Manifest = {
        let entry = zip
            .by_name(MANIFEST)
            .context("not a backup: there is no manifest.json")?;
        serde_json::from_reader(entry.take(16 << 20)).context("the manifest is not valid")?
    };
    ensure!(
        manifest.format == FORMAT,
        "backup format {} is not supported by this version (it reads format {FORMAT})",
        manifest.format
    );
    ensure!(
        manifest.files.iter().any(|f| f.path == DATABASE_FILE),
        "the backup has no database"
    );
    let listed: BTreeMap<&str, &FileEntry> = manifest
        .files
        .iter()
        .map(|f| (f.path.as_str(), f))
        .collect();
    ensure!(
        listed.len() == manifest.files.len(),
        "the manifest lists an entry twice"
    );
    for name in zip.file_names() {
        let name = name?;
        let name = name.as_ref();
        ensure!(
            name == MANIFEST || listed.contains_key(name),
            "the archive holds {name}, which the manifest does not list"
        );
    }
    for entry in &manifest.files {
        let relative = safe_relative(&entry.path)?;
        let mut source = zip
            .by_name(&entry.path)
            .with_context(|| format!("{} is listed but not in the archive", entry.path))?;
        let (bytes, digest) = match into {
            Some(dir) => {
                let target = dir.join(&relative);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                let mut out = private_file(&target)?;
                let counted = copy_hashing(&mut source, &mut out)?;
                out.sync_all()?;
                counted
            }
            None => copy_hashing(&mut source, &mut io::sink())?,
        };
        ensure!(
            bytes == entry.bytes && digest == entry.sha256,
            "{} is damaged: {bytes} bytes with SHA-256 {digest}, the manifest says {} bytes with {}",
            entry.path,
            entry.bytes,
            entry.sha256
        );
    }
    Ok(manifest)
}

/// Copies every table of `db` into a new database at `to`, from one read transaction (one consistent moment).
/// Every table of Lectern's embedded adapters maps bytes to bytes; anything else is refused rather than skipped.
fn copy_database(db: &Database, to: &Path) -> anyhow::Result<BTreeMap<String, u64>> {
    let snapshot = db.begin_read()?;
    ensure!(
        snapshot.list_multimap_tables()?.next().is_none(),
        "the database holds a multimap table, which this version cannot back up"
    );
    let copy = Database::create(to).context("creating the database copy")?;
    let mut counts = BTreeMap::new();
    for handle in snapshot.list_tables()? {
        let name = handle.name().to_string();
        let definition: TableDefinition<&[u8], &[u8]> = TableDefinition::new(&name);
        let source = snapshot
            .open_table(definition)
            .with_context(|| format!("reading table {name}"))?;
        let mut rows = source.iter()?;
        let mut copied = 0u64;
        loop {
            let write = copy.begin_write()?;
            let mut done = false;
            {
                let mut target = write.open_table(definition)?;
                for _ in 0..COPY_BATCH {
                    match rows.next() {
                        Some(row) => {
                            let (key, value) = row?;
                            target.insert(key.value(), value.value())?;
                            copied += 1;
                        }
                        None => {
                            done = true;
                            break;
                        }
                    }
                }
            }
            write.commit()?;
            if done {
                break;
            }
        }
        counts.insert(name, copied);
    }
    Ok(counts)
}

/// Adds one file to the archive, answering its manifest entry.
fn add_file(zip: &mut zip::ZipWriter<File>, path: &Path, name: &str) -> anyhow::Result<FileEntry> {
    let mut file = File::open(path).map_err(anyhow::Error::new)?;
    let size = file.metadata()?.len();
    zip.start_file(name, options(size))?;
    let (bytes, sha256) = copy_hashing(&mut file, zip)?;
    Ok(FileEntry {
        path: name.to_string(),
        bytes,
        sha256,
    })
}

fn options(size: u64) -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o600)
        // Zip64 only where needed: entries over 4 GiB.
        .large_file(size >= u32::MAX as u64)
}

/// Streams `from` into `to`, answering the byte count and SHA-256 (hex): the archive never sits in memory.
fn copy_hashing(from: &mut impl Read, to: &mut impl Write) -> io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = from.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        to.write_all(&buffer[..n])?;
        total += n as u64;
    }
    Ok((total, hex::encode(hasher.finalize())))
}

/// Every file under `folder` (none when it does not exist), named `<prefix>/<relative path>` with `/` separators,
/// in a stable order.
fn files_under(folder: &Path, prefix: &str) -> anyhow::Result<Vec<(PathBuf, String)>> {
    let mut found = Vec::new();
    let mut pending = vec![folder.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
        };
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            let path = entry.path();
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() {
                let relative = path.strip_prefix(folder)?;
                let parts: Vec<String> = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                found.push((path, format!("{prefix}/{}", parts.join("/"))));
            }
        }
    }
    found.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(found)
}

/// An entry name as a relative path that stays inside the folder it is extracted to.
fn safe_relative(name: &str) -> anyhow::Result<PathBuf> {
    let path = Path::new(name);
    let top = path.components().next();
    ensure!(
        path.components().all(|c| matches!(c, Component::Normal(_)))
            && matches!(top, Some(Component::Normal(first)) if first == DATABASE_FILE || first == JWT_KEY_FILE || first == "blobs" || first == "keys"),
        "the backup names an unexpected path {name:?}"
    );
    Ok(path.to_path_buf())
}

/// Creates (truncating) a file only its owner can read: backups and restored keys hold secrets.
pub(crate) fn private_file(path: &Path) -> anyhow::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))
}

/// `out` with a suffix added to its file name, in the same folder (so the final rename is atomic).
fn sibling(out: &Path, suffix: &str) -> anyhow::Result<PathBuf> {
    let Some(name) = out.file_name() else {
        bail!("{} is not a file name", out.display());
    };
    let mut name = name.to_os_string();
    name.push(suffix);
    Ok(out.with_file_name(name))
}

fn is_not_found(e: &anyhow::Error) -> bool {
    e.downcast_ref::<io::Error>()
        .is_some_and(|e| e.kind() == io::ErrorKind::NotFound)
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Scheduled backups of the dev server: `LECTERN_BACKUP_EVERY` (hours; 0 turns them off; default 24) into
/// `LECTERN_BACKUP_DIR` (default `<data dir>/backups`), keeping the newest `LECTERN_BACKUP_KEEP` (default 7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSchedule {
    pub every: Option<std::time::Duration>,
    pub dir: PathBuf,
    pub keep: usize,
}

impl BackupSchedule {
    pub fn from_lookup(
        data_dir: &Path,
        var: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Self> {
        let number = |name: &str, default: u64, max: u64| -> anyhow::Result<u64> {
            match var(name) {
                None => Ok(default),
                Some(text) => match text.trim().parse::<u64>() {
                    Ok(n) if n <= max => Ok(n),
                    _ => bail!("{name} must be a whole number from 0 to {max}, not {text:?}"),
                },
            }
        };
        let hours = number("LECTERN_BACKUP_EVERY", 24, 24 * 365)?;
        let keep = number("LECTERN_BACKUP_KEEP", 7, 10_000)?;
        ensure!(keep >= 1, "LECTERN_BACKUP_KEEP must be at least 1");
        Ok(Self {
            every: (hours > 0).then(|| std::time::Duration::from_secs(hours * 3600)),
            dir: var("LECTERN_BACKUP_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| data_dir.join("backups")),
            keep: keep as usize,
        })
    }

    pub fn from_env(data_dir: &Path) -> anyhow::Result<Self> {
        Self::from_lookup(data_dir, |k| std::env::var(k).ok())
    }

    /// Takes one scheduled backup (`lectern-<UTC time>.zip`) and removes the oldest beyond `keep`.
    pub fn run(&self, db: &Database, data_dir: &Path) -> anyhow::Result<PathBuf> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let stamp = time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!(
                "[year][month][day]T[hour][minute][second]Z"
            ))
            .context("formatting the time")?;
        let out = self.dir.join(format!("lectern-{stamp}.zip"));
        write(db, data_dir, &out)?;
        prune(&self.dir, self.keep)?;
        Ok(out)
    }
}

/// Keeps the newest `keep` scheduled backups in `dir` (by name: the names sort by time); other files stay.
pub fn prune(dir: &Path, keep: usize) -> anyhow::Result<Vec<PathBuf>> {
    let mut backups: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("lectern-") && n.ends_with(".zip"))
        })
        .collect();
    backups.sort();
    let excess = backups.len().saturating_sub(keep);
    let removed: Vec<PathBuf> = backups.into_iter().take(excess).collect();
    for path in &removed {
        std::fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_defaults_to_a_daily_backup_kept_a_week_and_refuses_nonsense() {
        let dir = Path::new("/data");
        let none = |_: &str| None;
        let schedule = BackupSchedule::from_lookup(dir, none).unwrap();
        assert_eq!(schedule.every, Some(std::time::Duration::from_secs(86_400)));
        assert_eq!(schedule.keep, 7);
        assert_eq!(schedule.dir, PathBuf::from("/data/backups"));
        let off =
            BackupSchedule::from_lookup(dir, |k| (k == "LECTERN_BACKUP_EVERY").then(|| "0".into()));
        assert_eq!(off.unwrap().every, None);
        for (name, value) in [
            ("LECTERN_BACKUP_EVERY", "-1"),
            ("LECTERN_BACKUP_EVERY", "daily"),
            ("LECTERN_BACKUP_KEEP", "0"),
        ] {
            let refused = BackupSchedule::from_lookup(dir, |k| (k == name).then(|| value.into()));
            assert!(refused.is_err(), "{name}={value} is refused");
        }
    }

    #[test]
    fn pruning_keeps_the_newest_backups_and_leaves_other_files_alone() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "lectern-20261101T000000Z.zip",
            "lectern-20261102T000000Z.zip",
            "lectern-20261103T000000Z.zip",
            "notes.txt",
        ] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let removed = prune(dir.path(), 2).unwrap();
        assert_eq!(
            removed,
            vec![dir.path().join("lectern-20261101T000000Z.zip")]
        );
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "lectern-20261102T000000Z.zip",
                "lectern-20261103T000000Z.zip",
                "notes.txt"
            ]
        );
    }

    #[test]
    fn entry_names_that_leave_the_folder_are_refused() {
        for bad in ["../keys/x", "/etc/passwd", "keys/../../x", "other/file", ""] {
            assert!(safe_relative(bad).is_err(), "{bad:?} is refused");
        }
        assert!(safe_relative("blobs/a/b~obj").is_ok());
        assert!(safe_relative(DATABASE_FILE).is_ok());
    }
}
