//! SPEC §7: export everything, erase what is personal, keep legal records.

use rampart_server::domain::Role;
use reqwest::{
    Method,
    multipart::{Form, Part},
};
use serde_json::json;

use crate::support::{PASSWORD, TestApp, assert_problem, json};

#[tokio::test]
async fn export_then_erase() {
    let app = TestApp::spawn().await;
    let s = app.user("subject").await;
    let admin = app.user_with_role("boss", Role::Admin).await;
    let base = format!("/api/v2/users/{}", s.id);
    app.authed(Method::POST, &format!("{base}/orders"), &s.access)
        .json(&json!({"item": "book", "quantity": 1, "unit_price_cents": 999}))
        .send()
        .await
        .unwrap();
    app.authed(Method::PUT, &format!("{base}/health"), &s.access)
        .json(&json!({"diagnosis": "d", "medications": ["m"], "insurance_id": "i", "notes": "n"}))
        .send()
        .await
        .unwrap();
    app.authed(Method::POST, "/api/v2/payments", &s.access)
        .json(&json!({"payment_token": "tok_visa", "amount": "9.99", "currency": "USD"}))
        .send()
        .await
        .unwrap();
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.resize(500, 1);
    let r = app
        .authed(Method::POST, "/api/v2/files", &s.access)
        .multipart(Form::new().part("file", Part::bytes(png).file_name("me.png")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let r = app
        .authed(Method::GET, "/api/v2/me/export", &s.access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let export = json(r).await;
    let mut keys: Vec<&str> = export
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "audit_events",
            "export_date",
            "files",
            "health",
            "orders",
            "payments",
            "personal_data"
        ]
    );
    assert_eq!(export["personal_data"]["username"], "subject");
    assert_eq!(export["orders"].as_array().unwrap().len(), 1);
    assert_eq!(export["files"].as_array().unwrap().len(), 1);
    assert_eq!(export["payments"][0]["last_four"], "4242");
    assert_eq!(export["health"]["diagnosis"], "d");
    assert!(!export["audit_events"].as_array().unwrap().is_empty());
    assert!(export["export_date"].as_str().unwrap().ends_with('Z'));

    let wrong = app
        .authed(Method::POST, "/api/v2/me/erase", &s.access)
        .json(&json!({"password": "wrong-password-123"}))
        .send()
        .await
        .unwrap();
    assert_problem("wrong password", wrong, 403).await;
    let r = app
        .authed(Method::POST, "/api/v2/me/erase", &s.access)
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);

    assert_problem(
        "old token",
        app.authed(Method::GET, "/api/v2/users/me", &s.access)
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    let login = app
        .post_json(
            "/api/v2/auth/login",
            &json!({"username": "subject", "password": PASSWORD}).to_string(),
        )
        .await;
    assert_problem("login after erasure", login, 401).await;
    let view = json(
        app.authed(Method::GET, &base, &admin.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(view["username"], format!("deleted_{}", s.id).as_str());
    assert!(view["full_name"].is_null() && view["bio"].is_null());
    assert!(!view["email"].as_str().unwrap().contains("subject"));

    let uploads: Vec<_> = std::fs::read_dir(app.data_path().join("uploads"))
        .unwrap()
        .collect();
    assert!(uploads.is_empty(), "files are gone from disk");
    let pool = app.state().db.pool();
    let (orders,): (i64,) = sqlx::query_as("SELECT count(*) FROM orders WHERE user_id = ?")
        .bind(s.id)
        .fetch_one(pool)
        .await
        .unwrap();
    let (payments,): (i64,) = sqlx::query_as("SELECT count(*) FROM payments WHERE user_id = ?")
        .bind(s.id)
        .fetch_one(pool)
        .await
        .unwrap();
    let (health,): (i64,) = sqlx::query_as("SELECT count(*) FROM health_records")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(
        (orders, payments, health),
        (1, 1, 0),
        "legal records stay, health goes"
    );
    let auditor = app.user_with_role("audrey", Role::Auditor).await;
    let erasures = json(
        app.authed(
            Method::GET,
            "/api/v2/admin/audit?event_type=data_erasure",
            &auditor.access,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(erasures["items"].as_array().unwrap().len(), 1);
    let exports = json(
        app.authed(
            Method::GET,
            "/api/v2/admin/audit?event_type=data_export",
            &auditor.access,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(exports["items"].as_array().unwrap().len(), 1);
}
