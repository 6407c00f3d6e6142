//! One moto server per test process, started on first use.
//!
//! Tests run as threads of one process and no destructor runs at exit, so moto is started under a small `sh`
//! watchdog that kills it as soon as the test process is gone (or exits itself when moto dies). A thread-bound
//! mechanism such as `PR_SET_PDEATHSIG` would kill moto when the thread that spawned it finished its test.
//!
//! Environment: `LECTERN_MOTO_SERVER` names the command to run (default: `moto_server`, then
//! `python3 -m moto.server`); `LECTERN_REQUIRE_AWS=1` turns "moto is not available" into a test failure instead of
//! a skip.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::OnceCell;

/// How long a starting moto may take to answer.
const START_TIMEOUT: Duration = Duration::from_secs(30);

static ENDPOINT: OnceCell<Option<String>> = OnceCell::const_new();

/// The URL of this process's moto server, starting it on first call; `None` when moto cannot be started and
/// `LECTERN_REQUIRE_AWS` is not `1` (the caller then skips its test).
pub async fn endpoint() -> Option<String> {
    ENDPOINT.get_or_init(start).await.clone()
}

/// An SDK configuration pointed at `endpoint` with fixed test credentials and region `us-east-1`.
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .test_credentials()
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .load()
        .await
}

fn required() -> bool {
    std::env::var("LECTERN_REQUIRE_AWS").is_ok_and(|v| v.trim() == "1")
}

fn candidates() -> Vec<String> {
    match std::env::var("LECTERN_MOTO_SERVER") {
        Ok(cmd) if !cmd.trim().is_empty() => vec![cmd],
        _ => vec!["moto_server".into(), "python3 -m moto.server".into()],
    }
}

async fn start() -> Option<String> {
    let mut failures = Vec::new();
    for command in candidates() {
        match start_one(&command).await {
            Ok(url) => return Some(url),
            Err(why) => failures.push(format!("`{command}`: {why}")),
        }
    }
    let report = failures.join("; ");
    if required() {
        panic!(
            "LECTERN_REQUIRE_AWS=1 but moto could not be started ({report}); install it with `pip install 'moto[server]'`"
        );
    }
    eprintln!(
        "moto is not available, AWS adapter tests are skipped ({report}); set LECTERN_REQUIRE_AWS=1 to fail instead"
    );
    None
}

async fn start_one(command: &str) -> Result<String, String> {
    let port = free_port().map_err(|e| format!("no free port: {e}"))?;
    let log = log_path(port);
    let log_file =
        std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let log_err = log_file.try_clone().map_err(|e| e.to_string())?;
    // $MOTO_CMD is split into words on purpose (it may be `python3 -m moto.server`). The loop ends when the test
    // process or moto is gone; then moto is killed (a no-op when it already exited).
    let script = r#"$MOTO_CMD -H 127.0.0.1 -p "$MOTO_PORT" &
m=$!
while kill -0 "$PARENT_PID" 2>/dev/null && kill -0 "$m" 2>/dev/null; do sleep 1; done
kill "$m" 2>/dev/null
wait "$m" 2>/dev/null
# The log is kept only when moto died on its own, for a post-mortem.
kill -0 "$PARENT_PID" 2>/dev/null || rm -f "$MOTO_LOG""#;
    let mut child = Command::new("sh");
    // Its own process group, so a failed start can take down moto together with the watchdog.
    std::os::unix::process::CommandExt::process_group(&mut child, 0);
    let mut child = child
        .arg("-c")
        .arg(script)
        .env("MOTO_CMD", command)
        .env("MOTO_PORT", port.to_string())
        .env("PARENT_PID", std::process::id().to_string())
        .env("MOTO_LOG", &log)
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_err)
        .spawn()
        .map_err(|e| format!("cannot run sh: {e}"))?;
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if answers(port).await {
            // The watchdog is left running on purpose: it outlives this handle and dies with the process.
            drop(child);
            return Ok(url);
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("exited with {status} (log: {})", log.display()));
        }
        if Instant::now() >= deadline {
            // The group holds the watchdog and moto; both go.
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg("--")
                .arg(format!("-{}", child.id()))
                .status();
            let _ = child.wait();
            return Err(format!(
                "did not answer within {START_TIMEOUT:?} (log: {})",
                log.display()
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A port that was free a moment ago (moto binds it right after; a clash shows up as a failed start).
fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

fn log_path(port: u16) -> PathBuf {
    std::env::temp_dir().join(format!("lectern-moto-{}-{port}.log", std::process::id()))
}

/// Whether an HTTP server answers on the port.
async fn answers(port: u16) -> bool {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()?;
        stream
            .write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .ok()?;
        let mut head = [0u8; 5];
        stream.read_exact(&mut head).await.ok()?;
        Some(&head == b"HTTP/")
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), attempt).await,
        Ok(Some(true))
    )
}
