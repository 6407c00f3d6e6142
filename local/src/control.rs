//! The dev server's control socket: how `lectern backup` reaches a running server.
//!
//! The embedded database admits one process, so while the server runs, a second `lectern` cannot open it to copy
//! it. Instead it asks the server over a Unix socket in the data dir (`control.sock`, owner-only like the rest of
//! the data dir): whoever can connect could read the database file anyway, so the socket grants nothing new, and
//! it is never reachable over the network. One JSON request per line, one JSON answer per line.
//!
//! The scheduled backups ([`scheduled`]) run here too: they need the same database handle.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use lectern_shared::Platform;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

use crate::backup::{self, BackupSchedule, Manifest};

/// The socket's name in the data dir.
pub const SOCKET: &str = "control.sock";

/// Most bytes of one request line (a path and a word).
const MAX_REQUEST: u64 = 16 * 1024;

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
enum Request {
    /// Write a backup to this absolute path.
    Backup { path: PathBuf },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Answer {
    Done { manifest: Manifest },
    Failed { error: String },
}

/// The socket path of a data dir.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET)
}

/// Binds the control socket of a server on the embedded store (none otherwise, or when it cannot be bound: the
/// server works without it, only `lectern backup` while it runs does not). Bound before the server answers, so a
/// backup asked for right after start-up finds it.
pub fn listen(platform: &Platform) -> Option<Control> {
    let db = platform.embedded_database.clone()?;
    let data_dir = platform.config.data_dir.clone();
    match bind(&socket_path(&data_dir)) {
        Ok(listener) => Some(Control {
            listener,
            db,
            data_dir,
        }),
        Err(e) => {
            tracing::warn!(
                error = format!("{e:#}"),
                "control socket unavailable; `lectern backup` needs the server stopped"
            );
            None
        }
    }
}

/// A bound control socket and what its requests work on.
pub struct Control {
    listener: UnixListener,
    db: Arc<redb::Database>,
    data_dir: PathBuf,
}

impl Control {
    /// Answers requests until stopped, then removes the socket.
    pub async fn serve(self, stop: CancellationToken) {
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        let (db, data_dir) = (self.db.clone(), self.data_dir.clone());
                        tokio::spawn(async move {
                            if let Err(e) = answer(stream, db, data_dir).await {
                                tracing::warn!(error = format!("{e:#}"), "control request failed");
                            }
                        });
                    }
                    Err(e) => tracing::warn!(error = %e, "control socket accept failed"),
                },
            }
        }
        let _ = std::fs::remove_file(socket_path(&self.data_dir));
    }
}

/// Binds the socket, replacing a stale one a crashed server left (the database lock proves no other server
/// owns this data dir), and makes it owner-only.
fn bind(path: &Path) -> anyhow::Result<UnixListener> {
    let _ = std::fs::remove_file(path);
    let listener =
        UnixListener::bind(path).with_context(|| format!("binding {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(listener)
}

async fn answer(
    stream: UnixStream,
    db: Arc<redb::Database>,
    data_dir: PathBuf,
) -> anyhow::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    // Bounded, so a client cannot make the server buffer an endless line.
    BufReader::new(tokio::io::AsyncReadExt::take(read, MAX_REQUEST))
        .read_line(&mut line)
        .await?;
    let answer = match serde_json::from_str::<Request>(&line) {
        Ok(Request::Backup { path }) if path.is_absolute() => {
            let written = tokio::task::spawn_blocking(move || backup::write(&db, &data_dir, &path))
                .await
                .context("the backup task stopped")?;
            match written {
                Ok(manifest) => Answer::Done { manifest },
                Err(e) => Answer::Failed {
                    error: format!("{e:#}"),
                },
            }
        }
        Ok(Request::Backup { .. }) => Answer::Failed {
            error: "the backup path must be absolute".into(),
        },
        Err(e) => Answer::Failed {
            error: format!("not a control request: {e}"),
        },
    };
    let mut text = serde_json::to_vec(&answer)?;
    text.push(b'\n');
    write.write_all(&text).await?;
    Ok(())
}

/// Asks the server running on `data_dir` to write a backup to `out`.
pub async fn backup_through_server(data_dir: &Path, out: &Path) -> anyhow::Result<Manifest> {
    let out = absolute(out)?;
    let socket = socket_path(data_dir);
    let stream = UnixStream::connect(&socket).await.with_context(|| {
        format!(
            "a server holds the database but its control socket {} does not answer",
            socket.display()
        )
    })?;
    let (read, mut write) = stream.into_split();
    let mut request = serde_json::to_vec(&Request::Backup { path: out })?;
    request.push(b'\n');
    write.write_all(&request).await?;
    let mut line = String::new();
    BufReader::new(read).read_line(&mut line).await?;
    match serde_json::from_str::<Answer>(&line).context("the server's answer is not readable")? {
        Answer::Done { manifest } => Ok(manifest),
        Answer::Failed { error } => bail!("the server could not write the backup: {error}"),
    }
}

/// `path` made absolute against the current folder (the server's may differ).
fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    Ok(if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    })
}

/// Takes the scheduled backups until stopped (the first one a full period after start).
pub async fn scheduled(platform: Platform, schedule: BackupSchedule, stop: CancellationToken) {
    let (Some(db), Some(every)) = (platform.embedded_database.clone(), schedule.every) else {
        return;
    };
    let data_dir = platform.config.data_dir.clone();
    let mut next = tokio::time::Instant::now() + every;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep_until(next) => {
                let (db, data_dir, schedule) = (db.clone(), data_dir.clone(), schedule.clone());
                match tokio::task::spawn_blocking(move || schedule.run(&db, &data_dir)).await {
                    Ok(Ok(path)) => tracing::info!(path = %path.display(), "scheduled backup written"),
                    Ok(Err(e)) => tracing::warn!(error = format!("{e:#}"), "scheduled backup failed; will try again next time"),
                    Err(e) => tracing::warn!(error = %e, "scheduled backup task stopped"),
                }
                next += every;
            }
        }
    }
}
