//! The `rampart` binary itself: commands, exit codes, startup errors, logs.

use std::process::{Command, Stdio};

const GOOD_KEY: &str = "q8Jr2m1XzP0vW7sLk3NfYb6TgHc9Ue4A-long-enough";
const GOOD_DATA: &str = "v1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

use crate::support::binary::{Served, rampart};

#[test]
fn check_fails_on_a_short_production_key_without_printing_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = rampart(
        dir.path(),
        &[
            ("RAMPART_ENV", "production"),
            ("RAMPART_SECRET_KEY", "short"),
        ],
        &["check"],
    )
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("secret_key.too_short"), "{stdout}");
    assert!(stdout.contains("data_keys.missing"), "{stdout}");
    assert!(
        !stdout.contains("short (") && !stderr.contains("\"short\""),
        "the key value is never printed"
    );
}

#[test]
fn check_passes_a_sound_production_configuration_and_prints_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let vars = [
        ("RAMPART_ENV", "production"),
        ("RAMPART_SECRET_KEY", GOOD_KEY),
        ("RAMPART_DATA_KEYS", GOOD_DATA),
        ("RAMPART_REDIS_URL", "redis://127.0.0.1:6379"),
    ];
    let out = rampart(dir.path(), &vars, &["check"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("WARNING deploy.sqlite_with_redis"),
        "{stdout}"
    );
    assert!(!stdout.contains(GOOD_KEY));
}

#[test]
fn an_invalid_bind_address_is_a_startup_error_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let out = rampart(dir.path(), &[("RAMPART_BIND", "nonsense")], &["serve"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("RAMPART_BIND"), "{stderr}");
}

#[test]
fn values_from_dot_env_are_read_and_the_environment_wins() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "RAMPART_DEBUG=maybe\nRAMPART_ENV=production\n",
    )
    .unwrap();
    let out = rampart(dir.path(), &[], &["check"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("RAMPART_DEBUG"),
        ".env was not read: {stderr}"
    );

    let out = rampart(dir.path(), &[("RAMPART_DEBUG", "false")], &["check"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("secret_key.missing"), "{stdout}");
}

#[test]
fn production_refuses_to_start_while_a_check_fails() {
    let dir = tempfile::tempdir().unwrap();
    let vars = [
        ("RAMPART_ENV", "production"),
        ("RAMPART_SECRET_KEY", GOOD_KEY),
        ("RAMPART_DATA_KEYS", GOOD_DATA),
        ("RAMPART_DEBUG", "true"),
        ("RAMPART_BIND", "127.0.0.1:0"),
        ("RAMPART_ADMIN_BIND", "127.0.0.1:0"),
    ];
    let out = rampart(dir.path(), &vars, &["serve"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("debug.enabled"), "{stderr}");
    assert!(!dir.path().join("data").exists(), "nothing was created");
}

#[test]
fn openapi_prints_a_3_1_document_whose_operations_list_their_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = rampart(dir.path(), &[], &["openapi"]).output().unwrap();
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.contains_key("/health/live") && paths.contains_key("/health/ready"));
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|s| s.starts_with('4')),
                "{method} {path} lists no 4xx"
            );
        }
    }
    assert!(doc["components"]["schemas"].get("Problem").is_some());
}

#[test]
fn help_lists_the_commands() {
    let dir = tempfile::tempdir().unwrap();
    let out = rampart(dir.path(), &[], &["--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for command in ["serve", "migrate", "check", "openapi", "admin", "users"] {
        assert!(text.contains(command), "{text}");
    }
}

#[test]
fn migrate_creates_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let out = rampart(dir.path(), &[], &["migrate"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("data/rampart.db").exists());
}

/// `cargo run` with no configuration: serves, generates the development
/// key, logs one JSON line per request and never the Authorization header.
#[test]
fn the_binary_serves_with_no_configuration_and_logs_each_request() {
    let dir = tempfile::tempdir().unwrap();
    let vars = [
        ("RAMPART_BIND", "127.0.0.1:0"),
        ("RAMPART_ADMIN_BIND", "127.0.0.1:0"),
    ];
    let served = Served::start(rampart(dir.path(), &vars, &[]));
    let addr = served.addr.clone();

    let token = "eyJhbGciOiJIUzI1NiJ9.secret-token-payload.sig";
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H"])
        .arg(format!("Authorization: Bearer {token}"))
        .args([
            "-H",
            "Cookie: session=cookie-secret",
            "-H",
            "X-Request-Id: log-test-1",
        ])
        .arg(format!("http://{addr}/health/live?token={token}"))
        .output();
    let status = match out {
        Ok(o) => String::from_utf8_lossy(&o.stdout).into_owned(),
        Err(_) => {
            // No curl: speak HTTP by hand.
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(&addr).unwrap();
            write!(s, "GET /health/live?token={token} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nCookie: session=cookie-secret\r\nX-Request-Id: log-test-1\r\nConnection: close\r\n\r\n").unwrap();
            let mut buf = String::new();
            s.read_to_string(&mut buf).unwrap();
            buf[9..12].to_owned()
        }
    };
    assert_eq!(status, "200");

    let (exit, lines) = served.stop();
    assert!(exit.success(), "graceful shutdown exits 0");
    let all = lines.join("\n");

    let request_line = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|j| j["message"] == "request")
        .unwrap_or_else(|| panic!("no request line in {all}"));
    assert_eq!(request_line["request_id"], "log-test-1");
    assert_eq!(request_line["method"], "GET");
    assert_eq!(request_line["route"], "/health/live");
    assert_eq!(request_line["status"], 200);
    assert!(request_line["latency_us"].is_u64());
    assert_eq!(request_line["level"], "INFO");
    assert!(
        !all.contains("secret-token-payload") && !all.contains("cookie-secret"),
        "{all}"
    );

    let key = dir.path().join("data/secret.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert!(
        all.contains("secret.key"),
        "a warning names the generated key file"
    );
}

#[test]
fn admin_create_reads_the_password_from_stdin_and_set_role_changes_roles() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let mut child = rampart(
        dir.path(),
        &[],
        &[
            "admin",
            "create",
            "--username",
            "root_admin",
            "--email",
            "root@example.com",
            "--password-stdin",
        ],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"vivid-otter-carpet-91\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains("vivid-otter")
            && !String::from_utf8_lossy(&out.stdout).contains("vivid-otter")
    );

    let weak = rampart(
        dir.path(),
        &[],
        &[
            "admin",
            "create",
            "--username",
            "other",
            "--email",
            "o@example.com",
            "--password-stdin",
        ],
    )
    .stdin(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let out = weak.wait_with_output().unwrap();
    assert!(!out.status.success(), "an empty password is refused");

    let out = rampart(
        dir.path(),
        &[],
        &[
            "users",
            "set-role",
            "--username",
            "root_admin",
            "--role",
            "auditor",
        ],
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("admin -> auditor"));
    let out = rampart(
        dir.path(),
        &[],
        &[
            "users",
            "set-role",
            "--username",
            "nobody",
            "--role",
            "admin",
        ],
    )
    .output()
    .unwrap();
    assert!(!out.status.success());
    let out = rampart(
        dir.path(),
        &[],
        &[
            "users",
            "set-role",
            "--username",
            "root_admin",
            "--role",
            "emperor",
        ],
    )
    .output()
    .unwrap();
    assert!(!out.status.success());
}

fn run_scan(url: &str) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .env_clear()
        .args(["scan", url])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test]
async fn scan_passes_rampart_and_fails_a_naive_server() {
    let app = crate::support::TestApp::spawn().await;
    let url = app.url("");
    let (ok, report) = tokio::task::spawn_blocking(move || run_scan(&url))
        .await
        .unwrap();
    assert!(ok, "{report}");
    for check in [
        "headers.x-frame-options",
        "cors.reflection",
        "host.allow-list",
        "docs.exposure",
        "errors.leakage",
        "version.removed",
        "jwt.alg-none",
        "ratelimit.presence",
    ] {
        assert!(
            report.contains(&format!("PASS {check}")),
            "{check}: {report}"
        );
    }

    // A bare axum app that reflects CORS origins and sets no headers.
    let naive = axum::Router::new()
        .route("/health/live", axum::routing::get(|| async { "ok" }))
        .layer(
            tower_http::cors::CorsLayer::new()
                .allow_origin(tower_http::cors::AllowOrigin::mirror_request()),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, naive).await });
    let url = format!("http://{addr}");
    let (ok, report) = tokio::task::spawn_blocking(move || run_scan(&url))
        .await
        .unwrap();
    assert!(!ok, "{report}");
    for check in [
        "headers.x-content-type-options",
        "cors.reflection",
        "host.allow-list",
        "ratelimit.presence",
    ] {
        assert!(
            report.contains(&format!("FAIL {check}")),
            "{check}: {report}"
        );
    }
}
