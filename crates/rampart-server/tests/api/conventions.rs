//! SPEC §2: the conventions every response follows.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{API_CSP, TestApp, assert_problem, assert_security_headers};

#[tokio::test]
async fn every_status_carries_the_headers_and_a_problem_body() {
    let app = TestApp::spawn().await;
    let big = format!(r#"{{"name":"{}","quantity":1}}"#, "a".repeat(70_000));
    let cases: Vec<(&str, reqwest::RequestBuilder, u16)> = vec![
        ("unknown root", app.client.get(app.url("/")), 404),
        (
            "unknown api route",
            app.client.get(app.url("/api/v2/nope")),
            404,
        ),
        (
            "wrong method",
            app.client.post(app.url("/health/live")),
            405,
        ),
        (
            "removed version",
            app.client.get(app.url("/api/v1/users")),
            410,
        ),
        (
            "wrong content type",
            app.client
                .post(app.url("/api/v2/_probe/echo"))
                .header("content-type", "text/plain")
                .body("{}"),
            415,
        ),
        (
            "malformed json",
            app.client
                .post(app.url("/api/v2/_probe/echo"))
                .header("content-type", "application/json")
                .body("{\"name\":"),
            400,
        ),
        (
            "body over limit",
            app.client
                .post(app.url("/api/v2/_probe/echo"))
                .header("content-type", "application/json")
                .body(big),
            413,
        ),
        (
            "missing field",
            app.client
                .post(app.url("/api/v2/_probe/echo"))
                .header("content-type", "application/json")
                .body(r#"{"name":"a"}"#),
            422,
        ),
        (
            "panic",
            app.client.get(app.url("/api/v2/_probe/panic")),
            500,
        ),
        (
            "bad host",
            app.client
                .get(app.url("/health/live"))
                .header("host", "evil.example"),
            400,
        ),
    ];
    for (case, request, status) in cases {
        let response = request.send().await.unwrap();
        assert_security_headers(case, response.headers());
        assert_eq!(
            response.headers()["content-security-policy"],
            API_CSP,
            "{case}: CSP"
        );
        assert_problem(case, response, status).await;
    }

    let ok = app.get("/health/live").await;
    assert_eq!(ok.status(), 200);
    assert_security_headers("200", ok.headers());
}

#[tokio::test]
async fn api_responses_are_not_cached() {
    let app = TestApp::spawn().await;
    for path in ["/api/v2/nope", "/api/v1/x", "/api/v2/_probe/items/7"] {
        let r = app.get(path).await;
        assert_eq!(r.headers()["cache-control"], "no-store", "{path}");
    }
}

#[tokio::test]
async fn a_valid_request_id_is_kept_and_anything_else_replaced() {
    let app = TestApp::spawn().await;
    let cases = [
        ("valid", "abc-123-DEF", true),
        ("too long", &"a".repeat(65), false),
        ("underscore", "abc_def", false),
        ("json injection", "x\",\"level\":\"ERROR", false),
    ];
    for (case, id, kept) in cases {
        let r = app
            .client
            .get(app.url("/api/v2/nope"))
            .header("x-request-id", id)
            .send()
            .await
            .unwrap();
        let returned = r.headers()["x-request-id"].to_str().unwrap().to_owned();
        let body = assert_problem(case, r, 404).await;
        assert_eq!(returned == id, kept, "{case}");
        assert_eq!(body["request_id"], returned.as_str(), "{case}");
        if !kept {
            assert_eq!(returned.len(), 36, "{case}: a UUID replaces it");
        }
    }
}

#[tokio::test]
async fn wrong_methods_name_the_allowed_ones() {
    let app = TestApp::spawn().await;
    let r = app
        .client
        .delete(app.url("/health/live"))
        .send()
        .await
        .unwrap();
    let allow = r.headers()["allow"].to_str().unwrap().to_owned();
    assert!(allow.contains("GET"), "{allow}");
    assert_problem("delete", r, 405).await;
}

#[tokio::test]
async fn the_removed_version_points_to_its_successor() {
    let app = TestApp::spawn().await;
    let r = app.get("/api/v1/users/7").await;
    assert_eq!(
        r.headers()["link"],
        "</api/v2/users/7>; rel=\"successor-version\""
    );
    assert!(r.headers().contains_key("sunset"));
    let body = assert_problem("v1", r, 410).await;
    assert!(body["detail"].as_str().unwrap().contains("/api/v2"));
}

#[tokio::test]
async fn only_allowed_hosts_are_answered() {
    let app =
        TestApp::spawn_with(&[("RAMPART_ALLOWED_HOSTS", "api.example.com,.example.org")]).await;
    let port = app.addr.port();
    let cases = [
        ("listed", format!("api.example.com:{port}"), 200),
        ("case-insensitive", "API.EXAMPLE.COM".to_owned(), 200),
        ("suffix", "a.example.org".to_owned(), 200),
        ("loopback not listed", format!("127.0.0.1:{port}"), 400),
        ("lookalike", "api.example.com.evil.test".to_owned(), 400),
    ];
    for (case, host, status) in cases {
        let r = app
            .client
            .get(app.url("/health/live"))
            .header("host", host)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{case}");
    }
}

#[tokio::test]
async fn cors_allows_configured_origins_and_never_reflects_others() {
    let app = TestApp::spawn_with(&[("RAMPART_CORS_ORIGINS", "https://app.example.com")]).await;
    let allowed = app
        .client
        .get(app.url("/health/live"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let vary = allowed
        .headers()
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap().to_lowercase())
        .collect::<Vec<_>>()
        .join(",");
    assert!(vary.contains("origin"), "vary: {vary}");

    let other = app
        .client
        .get(app.url("/health/live"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(!other.headers().contains_key("access-control-allow-origin"));

    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/v2/_probe/echo"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,authorization",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_security_headers("preflight", preflight.headers());

    let evil_preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/v2/_probe/echo"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(
        !evil_preflight
            .headers()
            .contains_key("access-control-allow-origin")
    );
}

#[tokio::test]
async fn a_panic_reveals_nothing_but_the_request_id() {
    let app = TestApp::spawn().await;
    let r = app.get("/api/v2/_probe/panic").await;
    let body = assert_problem("panic", r, 500).await;
    let text = body.to_string();
    assert!(
        !text.contains("hunter2") && !text.contains("probe.rs"),
        "{text}"
    );
    // The server keeps serving after a panic.
    assert_eq!(app.get("/health/live").await.status(), 200);
}

#[tokio::test]
async fn validation_problems_list_every_invalid_field() {
    let app = TestApp::spawn().await;
    let r = app
        .post_json("/api/v2/_probe/echo", r#"{"name":"","quantity":0}"#)
        .await;
    let body = assert_problem("two invalid fields", r, 422).await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "quantity"]);

    let cases = [
        (
            "unknown field",
            r#"{"name":"a","quantity":1,"is_admin":true}"#,
            "is_admin",
        ),
        (
            "wrong type",
            r#"{"name":"a","quantity":"many"}"#,
            "quantity",
        ),
        ("missing", r#"{"quantity":1}"#, "name"),
    ];
    for (case, json, field) in cases {
        let body =
            assert_problem(case, app.post_json("/api/v2/_probe/echo", json).await, 422).await;
        assert_eq!(body["errors"][0]["field"], field, "{case}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(
            !message.contains("u32") && !message.contains("line"),
            "{case}: {message}"
        );
    }

    let ok = app
        .post_json("/api/v2/_probe/echo", r#"{"name":"a","quantity":2}"#)
        .await;
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn bad_path_and_query_parameters_are_problems_too() {
    let app = TestApp::spawn().await;
    assert_problem(
        "path not a number",
        app.get("/api/v2/_probe/items/abc").await,
        404,
    )
    .await;
    assert_eq!(
        app.get("/api/v2/_probe/items/12")
            .await
            .text()
            .await
            .unwrap(),
        "12"
    );
    for q in ["limit=abc", "limit=300", "limit=-1"] {
        let body = assert_problem(q, app.get(&format!("/api/v2/_probe/page?{q}")).await, 422).await;
        assert_eq!(body["errors"][0]["field"], "limit", "{q}");
    }
}

#[tokio::test]
async fn a_trickling_body_is_cut_off_with_408() {
    let app = TestApp::spawn_with(&[("RAMPART_REQUEST_TIMEOUT_SECS", "1")]).await;
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /api/v2/_probe/body HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n",
        app.addr.port()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(b"only a little").await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server did not cut the connection off");
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("application/problem+json"), "{text}");
}

#[tokio::test]
async fn docs_are_hidden_unless_debug_is_on() {
    let app = TestApp::spawn().await;
    for path in ["/docs", "/openapi.json"] {
        assert_problem(path, app.get(path).await, 404).await;
    }

    let debug = TestApp::spawn_with(&[("RAMPART_DEBUG", "true")]).await;
    let page = debug.get("/docs").await;
    assert_eq!(page.status(), 200);
    assert_security_headers("docs", page.headers());
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("https://cdn.jsdelivr.net"),
        "{csp}"
    );
    assert!(!csp.contains("script-src 'unsafe-inline'"), "{csp}");
    assert!(page.text().await.unwrap().contains("integrity=\"sha384-"));
    let spec: serde_json::Value = debug.get("/openapi.json").await.json().await.unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
}
