//! SPEC §6: payments by token only, declines, idempotency, ownership.

use rampart_server::domain::Role;
use reqwest::Method;
use serde_json::json;

use std::sync::{Arc, Mutex};

use crate::support::{TestApp, assert_problem, burst, json};

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

/// A fake processor on loopback: records the `Idempotency-Key` of every
/// charge it receives; `tok_good` charges (id `ch_<key>`), `tok_declined`
/// declines, anything else is an unknown token. Each charge takes 50 ms, so
/// concurrent requests overlap.
async fn fake_processor() -> (String, Arc<Mutex<Vec<String>>>) {
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
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
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
    (format!("http://{addr}"), keys)
}

#[tokio::test]
async fn the_http_processor_adapter_sends_idempotency_keys_and_maps_answers() {
    let (url, keys) = fake_processor().await;
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
    assert_problem("declined", pay("tok_declined").await.unwrap(), 402).await;
    assert_problem("unknown token", pay("tok_other").await.unwrap(), 422).await;
    let sent = keys.lock().unwrap().clone();
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert_eq!(ok["processor_id"], format!("ch_{}", sent[0]));
    for (key, client_key) in sent
        .iter()
        .zip(["key-tok_good", "key-tok_declined", "key-tok_other"])
    {
        assert_ne!(key, client_key, "the key sent on is scoped to the user");
        assert!(
            !key.is_empty() && key.len() <= 255 && key.is_ascii(),
            "{key}"
        );
    }

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

/// SPEC §11 (IETF Idempotency-Key draft): the same key with another body
/// is 422 and charges nothing; the true retry still returns the first
/// payment.
#[tokio::test]
async fn a_reused_key_with_another_body_is_refused() {
    let app = TestApp::spawn().await;
    let s = app.user("payer").await;
    let pay = |amount: &'static str| {
        app.authed(Method::POST, "/api/v2/payments", &s.access)
            .header("idempotency-key", "invoice-7")
            .json(&json!({"payment_token": "tok_visa", "amount": amount, "currency": "EUR"}))
            .send()
    };
    let first = json(pay("10.00").await.unwrap()).await;
    assert_eq!(first["amount"], "10.00");
    let body = assert_problem("other amount", pay("9999.00").await.unwrap(), 422).await;
    assert!(
        body["detail"].as_str().unwrap().contains("Idempotency-Key"),
        "{body}"
    );
    let retry = json(pay("10.00").await.unwrap()).await;
    assert_eq!(retry["id"], first["id"]);
    let list = json(
        app.authed(Method::GET, "/api/v2/payments", &s.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "charged once");
}

/// A burst of the same payment with one key charges once: the processor
/// sees one charge, one payment is stored, every success names it, and the
/// others are told the first is still in progress (409).
#[tokio::test]
async fn parallel_payments_with_one_key_charge_once() {
    let (url, keys) = fake_processor().await;
    let app = TestApp::spawn_with(&[("RAMPART_PAYMENT_PROCESSOR_URL", &url)]).await;
    let s = app.user("payer").await;
    let responses = burst(8, |_| {
        app.authed(Method::POST, "/api/v2/payments", &s.access)
            .header("idempotency-key", "cart-99")
            .json(&json!({"payment_token": "tok_good", "amount": "5.00", "currency": "USD"}))
            .send()
    })
    .await;
    let mut ids = std::collections::HashSet::new();
    for (i, r) in responses.into_iter().enumerate() {
        let r = r.unwrap();
        match r.status().as_u16() {
            201 => {
                ids.insert(json(r).await["id"].as_i64().unwrap());
            }
            _ => {
                assert_problem(&format!("payment {i}"), r, 409).await;
            }
        }
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(keys.lock().unwrap().len(), 1, "one charge at the processor");
    let list = json(
        app.authed(Method::GET, "/api/v2/payments", &s.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

/// Two users who pick the same key get their own charges: the key sent to
/// the processor is derived from the user and the key.
#[tokio::test]
async fn the_same_key_from_two_users_makes_two_charges() {
    let (url, keys) = fake_processor().await;
    let app = TestApp::spawn_with(&[("RAMPART_PAYMENT_PROCESSOR_URL", &url)]).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let pay = |token: &str| {
        app.authed(Method::POST, "/api/v2/payments", token)
            .header("idempotency-key", "order-1")
            .json(&json!({"payment_token": "tok_good", "amount": "1.00", "currency": "USD"}))
            .send()
    };
    let a = json(pay(&alice.access).await.unwrap()).await;
    let b = json(pay(&bob.access).await.unwrap()).await;
    assert_ne!(a["id"], b["id"]);
    assert_ne!(
        a["processor_id"], b["processor_id"],
        "never the other's charge"
    );
    let sent = keys.lock().unwrap().clone();
    assert_eq!(sent.len(), 2);
    assert_ne!(sent[0], sent[1]);
}
