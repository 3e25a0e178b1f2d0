//! SPEC §6, §10: card numbers never get in — anywhere in any JSON body.

use rampart_server::domain::Role;
use reqwest::Method;
use serde_json::json;

use crate::support::{PASSWORD, TestApp, assert_problem, json};

fn raw_database(app: &TestApp) -> Vec<u8> {
    let mut all = Vec::new();
    for name in ["rampart.db", "rampart.db-wal"] {
        if let Ok(bytes) = std::fs::read(app.data_path().join(name)) {
            all.extend(bytes);
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn card_numbers_anywhere_are_refused_audited_and_never_stored() {
    let app = TestApp::spawn().await;
    let s = app.user("shopper").await;
    let auditor = app.user_with_role("audrey", Role::Auditor).await;
    let orders = format!("/api/v2/users/{}/orders", s.id);
    let cases: Vec<(&str, Method, String, serde_json::Value, bool)> = vec![
        (
            "login password",
            Method::POST,
            "/api/v2/auth/login".into(),
            json!({"username": "shopper", "password": "4111111111111111"}),
            false,
        ),
        (
            "registration bio",
            Method::POST,
            "/api/v2/auth/register".into(),
            json!({"username": "newbie", "email": "n@example.com", "password": PASSWORD, "bio": "my card 4111 1111 1111 1111"}),
            false,
        ),
        (
            "order item, dashes",
            Method::POST,
            orders.clone(),
            json!({"item": "pay 4111-1111-1111-1111", "quantity": 1, "unit_price_cents": 1}),
            true,
        ),
        (
            "nested object",
            Method::PATCH,
            format!("/api/v2/users/{}", s.id),
            json!({"address": {"card": "4111111111111111"}}),
            true,
        ),
        (
            "array",
            Method::POST,
            orders.clone(),
            json!({"item": ["x", "5555555555554444"], "quantity": 1, "unit_price_cents": 1}),
            true,
        ),
        (
            "number",
            Method::POST,
            orders.clone(),
            json!({"item": "x", "quantity": 1, "unit_price_cents": 4111111111111111u64}),
            true,
        ),
    ];
    for (case, method, path, body, authed) in cases {
        let mut req = app.client.request(method, app.url(&path)).json(&body);
        if authed {
            req = req.bearer_auth(&s.access);
        }
        let problem = assert_problem(case, req.send().await.unwrap(), 422).await;
        assert_eq!(problem["type"], "urn:rampart:problem:card-data", "{case}");
    }
    assert!(
        app.state()
            .db
            .users()
            .by_username("newbie")
            .await
            .unwrap()
            .is_none()
    );

    let audit = json(
        app.authed(
            Method::GET,
            "/api/v2/admin/audit?event_type=security_violation&limit=100",
            &auditor.access,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    let violations = audit["items"].as_array().unwrap();
    assert_eq!(
        violations
            .iter()
            .filter(|e| e["details"].as_str().unwrap().contains("card_data"))
            .count(),
        6
    );
    let text = audit.to_string();
    // Full card numbers in every spelling sent (a 4-digit fragment would
    // also match random hex in hashes).
    for digits in [
        "4111111111111111",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "5555555555554444",
    ] {
        assert!(!text.contains(digits), "audit API shows {digits}");
        assert!(
            !contains(&raw_database(&app), digits),
            "database file holds {digits}"
        );
    }
}

#[tokio::test]
async fn ordinary_numbers_are_not_mistaken_for_cards() {
    let app = TestApp::spawn().await;
    let r = app
        .post_json(
            "/api/v2/auth/register",
            &json!({"username": "numbers", "email": "num@example.com", "password": PASSWORD, "phone": "+1 555 0100 1234", "bio": "order 1234567890123456, total 19.99"}).to_string(),
        )
        .await;
    assert_eq!(r.status(), 201);
    let s = app.login("numbers", PASSWORD).await;
    let id = app
        .state()
        .db
        .users()
        .by_username("numbers")
        .await
        .unwrap()
        .unwrap()
        .id;
    let r = app
        .authed(
            Method::POST,
            &format!("/api/v2/users/{id}/orders"),
            s["access_token"].as_str().unwrap(),
        )
        .json(&json!({"item": "SKU 4111111111111112", "quantity": 3, "unit_price_cents": 1999}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "a 16-digit number that fails Luhn is fine");
}
