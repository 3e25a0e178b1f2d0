//! SPEC §6: payments by token only, declines, idempotency, ownership.

use rampart_server::domain::Role;
use reqwest::Method;
use serde_json::json;

use crate::support::{TestApp, assert_problem, json};

#[tokio::test]
async fn tokens_charge_and_only_the_last_four_is_kept() {
    let app = TestApp::spawn().await;
    let s = app.user("payer").await;
    let other = app.user("other").await;
    let admin = app.user_with_role("boss", Role::Admin).await;
    for (token, last_four) in [("tok_visa", "4242"), ("tok_mastercard", "4444")] {
        let r = app
            .authed(Method::POST, "/api/v2/payments", &s.access)
            .json(&json!({"payment_token": token, "amount": "19.99", "currency": "USD"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{token}");
        let p = json(r).await;
        assert_eq!(p["last_four"], last_four);
        assert_eq!(p["amount"], "19.99");
        assert_eq!(p["status"], "succeeded");
        let mut keys: Vec<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "amount",
                "created_at",
                "currency",
                "id",
                "last_four",
                "processor_id",
                "status"
            ]
        );
        let path = format!("/api/v2/payments/{}", p["id"]);
        assert_problem(
            "other reads",
            app.authed(Method::GET, &path, &other.access)
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
    }
    let declined = app
        .authed(Method::POST, "/api/v2/payments", &s.access)
        .json(&json!({"payment_token": "tok_chargeDeclined", "amount": "5", "currency": "EUR"}))
        .send()
        .await
        .unwrap();
    assert_problem("declined", declined, 402).await;
    let list = json(
        app.authed(Method::GET, "/api/v2/payments", &s.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn card_data_and_bad_amounts_are_refused() {
    let app = TestApp::spawn().await;
    let s = app.user("payer").await;
    let cases = [
        (
            "card_number field",
            json!({"payment_token": "tok_visa", "amount": "1.00", "currency": "USD", "card_number": "4111111111111111"}),
        ),
        (
            "cvv field",
            json!({"payment_token": "tok_visa", "amount": "1.00", "currency": "USD", "cvv": "123"}),
        ),
        (
            "zero",
            json!({"payment_token": "tok_visa", "amount": "0", "currency": "USD"}),
        ),
        (
            "three decimals",
            json!({"payment_token": "tok_visa", "amount": "1.005", "currency": "USD"}),
        ),
        (
            "too much",
            json!({"payment_token": "tok_visa", "amount": "1000000.01", "currency": "USD"}),
        ),
        (
            "number amount",
            json!({"payment_token": "tok_visa", "amount": 19.99, "currency": "USD"}),
        ),
        (
            "currency",
            json!({"payment_token": "tok_visa", "amount": "1.00", "currency": "XYZ"}),
        ),
        (
            "unknown token",
            json!({"payment_token": "tok_nope", "amount": "1.00", "currency": "USD"}),
        ),
    ];
    for (case, body) in cases {
        let r = app
            .authed(Method::POST, "/api/v2/payments", &s.access)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_problem(case, r, 422).await;
    }
}

#[tokio::test]
async fn a_retried_payment_with_the_same_key_charges_once() {
    let app = TestApp::spawn().await;
    let s = app.user("payer").await;
    let pay = || {
        app.authed(Method::POST, "/api/v2/payments", &s.access)
            .header("idempotency-key", "order-42-attempt")
            .json(&json!({"payment_token": "tok_visa", "amount": "10.00", "currency": "GBP"}))
            .send()
    };
    let first = json(pay().await.unwrap()).await;
    let second = json(pay().await.unwrap()).await;
    assert_eq!(first["id"], second["id"]);
    assert_eq!(first["processor_id"], second["processor_id"]);
    let list = json(
        app.authed(Method::GET, "/api/v2/payments", &s.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "charged once");
}

#[tokio::test]
async fn the_http_processor_adapter_sends_idempotency_keys_and_maps_answers() {
    use std::sync::{Arc, Mutex};
    let keys: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = keys.clone();
    let fake = axum::Router::new().route(
        "/charges",
        axum::routing::post(
            move |headers: axum::http::HeaderMap,
                  axum::Json(body): axum::Json<serde_json::Value>| {
                let seen = seen.clone();
                async move {
                    let key = headers
                        .get("idempotency-key")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    seen.lock().unwrap().push(key.clone());
                    match body["token"].as_str() {
                        Some("tok_good") => (
                            axum::http::StatusCode::OK,
                            axum::Json(json!({"id": format!("ch_{key}"), "last_four": "1881"})),
                        ),
                        Some("tok_declined") => (
                            axum::http::StatusCode::PAYMENT_REQUIRED,
                            axum::Json(json!({})),
                        ),
                        _ => (axum::http::StatusCode::BAD_REQUEST, axum::Json(json!({}))),
                    }
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, fake).await });
    let url = format!("http://{addr}");
    let app = TestApp::spawn_with(&[("RAMPART_PAYMENT_PROCESSOR_URL", &url)]).await;
    let s = app.user("payer").await;
    let pay = |token: &'static str| {
        app.authed(Method::POST, "/api/v2/payments", &s.access)
            .header("idempotency-key", format!("key-{token}"))
            .json(&json!({"payment_token": token, "amount": "3.50", "currency": "CHF"}))
            .send()
    };
    let ok = json(pay("tok_good").await.unwrap()).await;
    assert_eq!(ok["last_four"], "1881");
    assert_eq!(ok["processor_id"], "ch_key-tok_good");
    assert_problem("declined", pay("tok_declined").await.unwrap(), 402).await;
    assert_problem("unknown token", pay("tok_other").await.unwrap(), 422).await;
    assert_eq!(
        *keys.lock().unwrap(),
        ["key-tok_good", "key-tok_declined", "key-tok_other"]
    );

    let down =
        TestApp::spawn_with(&[("RAMPART_PAYMENT_PROCESSOR_URL", "http://127.0.0.1:9")]).await;
    let d = down.user("payer").await;
    let r = down
        .authed(Method::POST, "/api/v2/payments", &d.access)
        .json(&json!({"payment_token": "tok_good", "amount": "1.00", "currency": "USD"}))
        .send()
        .await
        .unwrap();
    assert_problem("processor down", r, 503).await;
}
