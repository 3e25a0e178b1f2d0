//! SPEC §3: registration rules.

use serde_json::json;

use crate::support::{PASSWORD, TestApp, assert_problem, json};

fn body(overrides: serde_json::Value) -> String {
    let mut base = json!({"username": "carol", "email": "carol@example.com", "password": PASSWORD});
    for (k, v) in overrides.as_object().unwrap() {
        base[k] = v.clone();
    }
    base.to_string()
}

#[tokio::test]
async fn registration_rules_one_by_one() {
    let app = TestApp::spawn().await;
    let cases = [
        ("reserved admin", json!({"username": "admin"}), "username"),
        ("reserved any case", json!({"username": "RoOt"}), "username"),
        ("reserved system", json!({"username": "System"}), "username"),
        ("reserved api", json!({"username": "API"}), "username"),
        ("too short", json!({"username": "ab"}), "username"),
        ("too long", json!({"username": "a".repeat(51)}), "username"),
        ("bad characters", json!({"username": "carol-x"}), "username"),
        ("invalid email", json!({"email": "not-an-email"}), "email"),
        (
            "weak password",
            json!({"password": "password1234"}),
            "password",
        ),
        (
            "short password",
            json!({"password": "Xk9!mP2q"}),
            "password",
        ),
        (
            "long password",
            json!({"password": "Xk9!mP2qLw".repeat(13)}),
            "password",
        ),
        ("relative website", json!({"website": "/me"}), "website"),
        (
            "javascript website",
            json!({"website": "javascript:alert(1)"}),
            "website",
        ),
        ("long bio", json!({"bio": "x".repeat(501)}), "bio"),
        ("unknown field", json!({"is_admin": true}), "is_admin"),
        ("role field", json!({"role": "admin"}), "role"),
        ("wrong type", json!({"username": 5}), "username"),
    ];
    for (case, overrides, field) in cases {
        let r = app
            .post_json("/api/v2/auth/register", &body(overrides))
            .await;
        let problem = assert_problem(case, r, 422).await;
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&field), "{case}: {fields:?}");
    }
    // Nothing was created by any of them.
    assert!(
        app.state()
            .db
            .users()
            .by_username("carol")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn every_invalid_field_is_reported_at_once() {
    let app = TestApp::spawn().await;
    let r = app
        .post_json(
            "/api/v2/auth/register",
            &body(json!({"username": "admin", "email": "x", "password": "short"})),
        )
        .await;
    let problem = assert_problem("three bad fields", r, 422).await;
    assert_eq!(problem["errors"].as_array().unwrap().len(), 3, "{problem}");
}

#[tokio::test]
async fn a_new_account_gets_the_self_view_and_a_sanitised_bio() {
    let app = TestApp::spawn().await;
    let r = app
        .post_json(
            "/api/v2/auth/register",
            &body(json!({
                "bio": "<p>Hi <script>alert(1)</script><strong>there</strong> <img src=x onerror=alert(1)></p>",
                "website": "https://carol.example.com",
                "full_name": "Carol C",
                "phone": "+1 555 0100",
                "address": "1 Main St"
            })),
        )
        .await;
    assert_eq!(r.status(), 201);
    let id_location = r.headers()["location"].to_str().unwrap().to_owned();
    let user = json(r).await;
    assert_eq!(user["bio"], "<p>Hi <strong>there</strong> </p>");
    assert_eq!(user["role"], "user");
    assert_eq!(id_location, format!("/api/v2/users/{}", user["id"]));
    let mut keys: Vec<&str> = user
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "address",
            "bio",
            "created_at",
            "email",
            "full_name",
            "id",
            "phone",
            "role",
            "username",
            "website"
        ]
    );
    assert!(user["created_at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn duplicate_usernames_and_emails_conflict() {
    let app = TestApp::spawn().await;
    app.register("dave").await;
    let cases = [
        (
            "same username, other case",
            json!({"username": "DAVE", "email": "other@example.com"}),
        ),
        (
            "same email, other case",
            json!({"username": "dave2", "email": "Dave@Example.com"}),
        ),
    ];
    for (case, overrides) in cases {
        let r = app
            .post_json("/api/v2/auth/register", &body(overrides))
            .await;
        assert_problem(case, r, 409).await;
    }
}
