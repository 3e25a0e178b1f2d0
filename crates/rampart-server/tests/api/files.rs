//! SPEC §5: uploads validated while streaming, stored safely, owner-only.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use rampart_server::domain::Role;
use reqwest::{
    Method,
    multipart::{Form, Part},
};
use sha2::{Digest, Sha256};

use crate::support::{Session, TestApp, assert_problem, burst, json};

fn bytes_with(magic: &[u8], len: usize) -> Vec<u8> {
    let mut v = magic.to_vec();
    v.extend((0..len).map(|i| (i * 31 % 251) as u8));
    v
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
const JPEG: &[u8] = b"\xFF\xD8\xFF\xE0\0\x10JFIF\0";
const GIF: &[u8] = b"GIF89a";
const PDF: &[u8] = b"%PDF-1.7\n";

async fn upload(app: &TestApp, s: &Session, name: &str, bytes: Vec<u8>) -> reqwest::Response {
    let form = Form::new().part("file", Part::bytes(bytes).file_name(name.to_owned()));
    app.authed(Method::POST, "/api/v2/files", &s.access)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

fn stored_files(app: &TestApp) -> Vec<String> {
    match std::fs::read_dir(app.data_path().join("uploads")) {
        Ok(entries) => entries
            .filter_map(std::result::Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[tokio::test]
async fn valid_images_and_pdfs_round_trip_with_their_hash() {
    let app = TestApp::spawn().await;
    let s = app.user("uploader").await;
    for (name, magic, content_type) in [
        ("a.png", PNG, "image/png"),
        ("b.jpg", JPEG, "image/jpeg"),
        ("c.JPEG", JPEG, "image/jpeg"),
        ("d.gif", GIF, "image/gif"),
        ("e.pdf", PDF, "application/pdf"),
    ] {
        let body = bytes_with(magic, 20_000);
        let r = upload(&app, &s, name, body.clone()).await;
        assert_eq!(r.status(), 201, "{name}");
        let view = json(r).await;
        assert_eq!(view["content_type"], content_type, "{name}");
        assert_eq!(view["size"], body.len(), "{name}");
        let sha = Sha256::digest(&body)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
        assert_eq!(view["sha256"], sha.as_str(), "{name}");
        assert_eq!(view["original_name"], name);
        assert_ne!(view["filename"], name, "stored under a random name");

        let r = app
            .authed(
                Method::GET,
                &format!("/api/v2/files/{}", view["id"]),
                &s.access,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], content_type);
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert!(
            r.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("attachment")
        );
        assert_eq!(r.bytes().await.unwrap().as_ref(), body.as_slice(), "{name}");
    }
    let list = json(
        app.authed(Method::GET, "/api/v2/files", &s.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn disallowed_or_mismatched_files_are_415_and_leave_nothing() {
    let app = TestApp::spawn().await;
    let s = app.user("uploader").await;
    let mut polyglot = PNG.to_vec();
    polyglot.extend_from_slice(b"%PDF-1.7 hidden");
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        ("exe", "tool.exe", bytes_with(b"MZ\x90\0", 1000)),
        (
            "html",
            "page.html",
            b"<html><script>alert(1)</script></html>".to_vec(),
        ),
        (
            "svg",
            "image.svg",
            b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>".to_vec(),
        ),
        ("no extension", "README", bytes_with(PNG, 100)),
        ("png name, pdf bytes", "x.png", bytes_with(PDF, 100)),
        (
            "html named png",
            "x.png",
            b"<html><body>hi</body></html>".to_vec(),
        ),
        ("polyglot claiming pdf", "x.pdf", polyglot),
        ("empty", "empty.png", Vec::new()),
    ];
    for (case, name, body) in cases {
        assert_problem(case, upload(&app, &s, name, body).await, 415).await;
    }
    assert!(stored_files(&app).is_empty(), "{:?}", stored_files(&app));
}

#[tokio::test]
async fn an_oversized_upload_is_cut_off_early_and_leaves_nothing() {
    let app = TestApp::spawn_with(&[("RAMPART_MAX_UPLOAD_BYTES", "1048576")]).await;
    let s = app.user("uploader").await;
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    const TOTAL: u64 = 200 * 1024 * 1024;
    let chunk = bytes::Bytes::from(bytes_with(PNG, 64 * 1024));
    let stream = futures_util::stream::unfold(0u64, move |n| {
        let chunk = chunk.clone();
        let counter = counter.clone();
        async move {
            if n >= TOTAL {
                return None;
            }
            counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            Some((Ok::<_, std::io::Error>(chunk), n + 65_536))
        }
    });
    let part = Part::stream(reqwest::Body::wrap_stream(stream)).file_name("huge.png");
    let result = app
        .authed(Method::POST, "/api/v2/files", &s.access)
        .multipart(Form::new().part("file", part))
        .send()
        .await;
    match result {
        Ok(r) => {
            assert_problem("oversized", r, 413).await;
        }
        // The server may close the connection before the client finishes sending.
        Err(e) => assert!(e.is_request() || e.is_body() || e.is_connect(), "{e}"),
    };
    let produced = sent.load(Ordering::Relaxed);
    assert!(
        produced < TOTAL / 4,
        "the server kept reading: {produced} bytes sent"
    );
    assert!(stored_files(&app).is_empty(), "{:?}", stored_files(&app));
}

#[tokio::test]
async fn hostile_names_never_reach_the_filesystem_or_break_headers() {
    let app = TestApp::spawn().await;
    let s = app.user("uploader").await;
    let long = format!("{}.png", "a".repeat(10_000));
    // A raw CR LF in a part header breaks the multipart framing itself:
    // refused as malformed, before any name is used.
    let r = upload(&app, &s, "line\r\nbreak.png", bytes_with(PNG, 100)).await;
    assert_problem("CR LF in the file name", r, 400).await;
    for name in [
        "../../etc/passwd.png",
        "a\"b.png",
        "tab\tname.png",
        long.as_str(),
        "..\\..\\win.png",
    ] {
        let r = upload(&app, &s, name, bytes_with(PNG, 100)).await;
        assert_eq!(r.status(), 201, "{name:?}");
        let view = json(r).await;
        let original = view["original_name"].as_str().unwrap();
        assert!(
            !original.contains('/')
                && !original.contains('\\')
                && !original.contains('"')
                && !original.contains('\n'),
            "{original:?}"
        );
        assert!(original.len() <= 100);
        let r = app
            .authed(
                Method::GET,
                &format!("/api/v2/files/{}", view["id"]),
                &s.access,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let disposition = r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            disposition.starts_with("attachment; filename=\""),
            "{disposition}"
        );
    }
    for stored in stored_files(&app) {
        assert!(
            stored.len() == 36 + 4 && stored.ends_with(".png"),
            "{stored}"
        );
    }
    assert!(!app.data_path().join("etc").exists());
}

#[tokio::test]
async fn other_users_get_404_admins_can_read_and_quotas_hold() {
    let app = TestApp::spawn_with(&[("RAMPART_UPLOAD_QUOTA_BYTES", "1500")]).await;
    let owner = app.user("owner").await;
    let other = app.user("other").await;
    let admin = app.user_with_role("boss", Role::Admin).await;
    let view = json(upload(&app, &owner, "mine.png", bytes_with(PNG, 1000)).await).await;
    let path = format!("/api/v2/files/{}", view["id"]);
    assert_problem(
        "other reads",
        app.authed(Method::GET, &path, &other.access)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    assert_problem(
        "other deletes",
        app.authed(Method::DELETE, &path, &other.access)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    assert_eq!(
        app.authed(Method::GET, &path, &admin.access)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let others = json(
        app.authed(Method::GET, "/api/v2/files", &other.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(others["items"].as_array().unwrap().is_empty());

    assert_problem(
        "over quota",
        upload(&app, &owner, "more.png", bytes_with(PNG, 1000)).await,
        413,
    )
    .await;
    assert_eq!(stored_files(&app).len(), 1);

    assert_eq!(
        app.authed(Method::DELETE, &path, &owner.access)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert!(stored_files(&app).is_empty(), "the bytes are gone too");
    assert_problem(
        "deleted",
        app.authed(Method::GET, &path, &owner.access)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
}

/// SPEC §11: uploads sent at the same moment cannot together exceed the
/// quota; the refused ones are 413 problems and leave nothing on disk.
#[tokio::test]
async fn parallel_uploads_cannot_exceed_the_quota() {
    let app = TestApp::spawn_with(&[("RAMPART_UPLOAD_QUOTA_BYTES", "1000000")]).await;
    let s = app.user("hoarder").await;
    let responses = burst(6, |i| {
        let (app, s) = (&app, &s);
        async move { upload(app, s, &format!("big{i}.png"), bytes_with(PNG, 400_000)).await }
    })
    .await;
    let mut stored = 0;
    for (i, r) in responses.into_iter().enumerate() {
        match r.status().as_u16() {
            201 => stored += 1,
            _ => {
                assert_problem(&format!("upload {i}"), r, 413).await;
            }
        }
    }
    assert_eq!(stored, 2, "two 400 kB files fit a 1 MB quota");
    let list = json(
        app.authed(Method::GET, "/api/v2/files", &s.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let total: i64 = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["size"].as_i64().unwrap())
        .sum();
    assert!(total <= 1_000_000, "{total} bytes stored");
    assert_eq!(
        stored_files(&app).len(),
        2,
        "nothing left of the refused ones"
    );
}

/// Found by schemathesis: a field after the file was ignored and the
/// upload accepted. Only one field is accepted, and nothing stays on disk.
#[tokio::test]
async fn a_field_after_the_file_is_refused_and_leaves_nothing() {
    let app = TestApp::spawn().await;
    let s = app.user("extra_fields").await;
    let form = Form::new()
        .part(
            "file",
            Part::bytes(bytes_with(PNG, 100)).file_name("a.png".to_owned()),
        )
        .text("x-unknown", "42");
    let r = app
        .authed(Method::POST, "/api/v2/files", &s.access)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let problem = assert_problem("extra field", r, 422).await;
    assert_eq!(problem["errors"][0]["field"], "x-unknown");
    assert!(stored_files(&app).is_empty());
}
