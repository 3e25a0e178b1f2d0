//! Resident memory of the real server while ten 10 MiB uploads stream in
//! at once: the upload path must not buffer whole bodies.
//! `cargo bench -p rampart-server --bench upload_memory`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
};

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let exe = env!("CARGO_BIN_EXE_rampart");
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(exe)
        .env_clear()
        .current_dir(dir.path())
        .env("RAMPART_BIND", "127.0.0.1:0")
        .env("RAMPART_ADMIN_BIND", "127.0.0.1:0")
        .env("RAMPART_MAX_UPLOAD_BYTES", "20971520")
        .env("RAMPART_UPLOAD_QUOTA_BYTES", "1073741824")
        .env("RUST_LOG", "info,rampart::access=warn")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().unwrap().unwrap();
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
            && v["message"] == "listening"
        {
            break v["api"].as_str().unwrap().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (before, peak) = rt.block_on(async {
        let client = reqwest::Client::new();
        let base = format!("http://{addr}/api/v2");
        let password = "vivid-otter-carpet-91";
        client
            .post(format!("{base}/auth/register"))
            .json(&serde_json::json!({"username": "bench", "email": "b@example.com", "password": password}))
            .send()
            .await
            .unwrap();
        let tokens: serde_json::Value = client
            .post(format!("{base}/auth/login"))
            .json(&serde_json::json!({"username": "bench", "password": password}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = tokens["access_token"].as_str().unwrap().to_owned();
        let pid = child.id();
        let before = rss_kib(pid);
        let mut body = b"\x89PNG\r\n\x1a\n".to_vec();
        body.resize(10 * 1024 * 1024, 7);
        let uploads: Vec<_> = (0..10)
            .map(|i| {
                let (client, url, token, body) = (client.clone(), format!("{base}/files"), token.clone(), body.clone());
                tokio::spawn(async move {
                    let part = reqwest::multipart::Part::bytes(body).file_name(format!("f{i}.png"));
                    let r = client
                        .post(url)
                        .bearer_auth(token)
                        .multipart(reqwest::multipart::Form::new().part("file", part))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 201);
                })
            })
            .collect();
        let sampler = tokio::spawn(async move {
            let mut peak = 0;
            for _ in 0..400 {
                peak = peak.max(rss_kib(pid));
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            peak
        });
        for u in uploads {
            u.await.unwrap();
        }
        let peak = sampler.await.unwrap().max(rss_kib(pid));
        (before, peak)
    });
    let _ = child.kill();
    let _ = child.wait();
    let growth = peak.saturating_sub(before);
    println!(
        "ten concurrent 10 MiB uploads: server RSS before {} MiB, peak {} MiB, growth {} MiB (goal < 50 MiB)",
        before / 1024,
        peak / 1024,
        growth / 1024
    );
}
