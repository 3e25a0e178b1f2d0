//! SPEC §3: login, JWT verification, refresh rotation, logout, password change.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::json;

use crate::support::{PASSWORD, TestApp, assert_problem, json};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn a_login_gives_a_bearer_pair_that_opens_users_me() {
    let app = TestApp::spawn().await;
    app.register("erin").await;
    let tokens = app.login("erin", PASSWORD).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(refresh)
        .unwrap();
    assert_eq!(
        raw.len(),
        32,
        "refresh tokens are 32 random bytes, base64url"
    );
    let r = app
        .authed(
            Method::GET,
            "/api/v2/users/me",
            tokens["access_token"].as_str().unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(json(r).await["username"], "erin");

    let header = jsonwebtoken::decode_header(tokens["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(header.alg, Algorithm::HS256);
    assert!(header.kid.is_some());
}

#[tokio::test]
async fn unknown_users_and_wrong_passwords_get_the_same_answer() {
    let app = TestApp::spawn().await;
    app.register("frank").await;
    let mut bodies = Vec::new();
    for (case, username, password) in [
        ("wrong password", "frank", "wrong-password-123"),
        ("unknown user", "nobody_here", PASSWORD),
    ] {
        let r = app
            .post_json(
                "/api/v2/auth/login",
                &json!({"username": username, "password": password}).to_string(),
            )
            .await;
        assert_eq!(r.headers()["www-authenticate"], "Bearer", "{case}");
        let mut body = assert_problem(case, r, 401).await;
        body.as_object_mut().unwrap().remove("request_id");
        bodies.push(body);
    }
    assert_eq!(bodies[0], bodies[1]);
}

#[tokio::test]
async fn forged_and_broken_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let s = app.user("grace").await;
    let secret = app.jwt_secret();
    let kid = rampart::jwt::key_id(&secret);
    let t = now();
    let good = json!({"sub": s.id.to_string(), "exp": t + 600, "iat": t, "nbf": t, "iss": "rampart", "aud": "rampart-api", "jti": "x"});
    let session = {
        let claims: serde_json::Value = {
            let payload = s.access.split('.').nth(1).unwrap();
            serde_json::from_slice(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(payload)
                    .unwrap(),
            )
            .unwrap()
        };
        (claims["sid"].clone(), claims["ver"].clone())
    };
    let with = |changes: serde_json::Value, remove: &[&str]| {
        let mut c = good.clone();
        c["sid"] = session.0.clone();
        c["ver"] = session.1.clone();
        for (k, v) in changes.as_object().unwrap() {
            c[k] = v.clone();
        }
        for k in remove {
            c.as_object_mut().unwrap().remove(*k);
        }
        c
    };
    let sign = |alg: Algorithm, kid: Option<&str>, claims: &serde_json::Value| {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(&secret)).unwrap()
    };
    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };

    // The control: a token forged exactly like the real ones is accepted,
    // so every refusal below is caused by the one thing each case changes.
    assert_eq!(
        app.me_status(&sign(Algorithm::HS256, Some(&kid), &with(json!({}), &[])))
            .await,
        200
    );

    let alg_none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT", "kid": kid})),
        b64(&with(json!({}), &[]))
    );
    let tampered = {
        let real = sign(Algorithm::HS256, Some(&kid), &with(json!({}), &[]));
        let parts: Vec<&str> = real.split('.').collect();
        format!(
            "{}.{}.{}",
            parts[0],
            b64(&with(json!({"sub": "999"}), &[])),
            parts[2]
        )
    };
    let other_user = {
        let other = app.user("heidi").await;
        let _ = other;
        sign(
            Algorithm::HS256,
            Some(&kid),
            &with(json!({"sub": other.id.to_string()}), &[]),
        )
    };
    let cases: Vec<(&str, String)> = vec![
        ("alg none", alg_none),
        (
            "HS384",
            sign(Algorithm::HS384, Some(&kid), &with(json!({}), &[])),
        ),
        (
            "HS512",
            sign(Algorithm::HS512, Some(&kid), &with(json!({}), &[])),
        ),
        (
            "expired",
            sign(
                Algorithm::HS256,
                Some(&kid),
                &with(json!({"exp": t - 120}), &[]),
            ),
        ),
        (
            "nbf in the future",
            sign(
                Algorithm::HS256,
                Some(&kid),
                &with(json!({"nbf": t + 120}), &[]),
            ),
        ),
        (
            "wrong iss",
            sign(
                Algorithm::HS256,
                Some(&kid),
                &with(json!({"iss": "evil"}), &[]),
            ),
        ),
        (
            "wrong aud",
            sign(
                Algorithm::HS256,
                Some(&kid),
                &with(json!({"aud": "other-api"}), &[]),
            ),
        ),
        (
            "missing exp",
            sign(Algorithm::HS256, Some(&kid), &with(json!({}), &["exp"])),
        ),
        (
            "missing jti",
            sign(Algorithm::HS256, Some(&kid), &with(json!({}), &["jti"])),
        ),
        (
            "missing iat",
            sign(Algorithm::HS256, Some(&kid), &with(json!({}), &["iat"])),
        ),
        (
            "missing nbf",
            sign(Algorithm::HS256, Some(&kid), &with(json!({}), &["nbf"])),
        ),
        (
            "missing kid",
            sign(Algorithm::HS256, None, &with(json!({}), &[])),
        ),
        (
            "unknown kid",
            sign(
                Algorithm::HS256,
                Some("someotherkid0000"),
                &with(json!({}), &[]),
            ),
        ),
        ("tampered payload", tampered),
        ("session of another user", other_user),
        ("garbage", "not.a.jwt".to_owned()),
        ("empty segments", "..".to_owned()),
    ];
    for (case, token) in cases {
        let r = app
            .authed(Method::GET, "/api/v2/users/me", &token)
            .send()
            .await
            .unwrap();
        assert!(
            r.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer"),
            "{case}"
        );
        assert_problem(case, r, 401).await;
    }

    let missing = app
        .client
        .get(app.url("/api/v2/users/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    assert_problem("no token", missing, 401).await;
    let basic = app
        .client
        .get(app.url("/api/v2/users/me"))
        .header("authorization", "Basic Zm9vOmJhcg==")
        .send()
        .await
        .unwrap();
    assert_problem("basic auth", basic, 401).await;
}

#[tokio::test]
async fn a_token_for_a_deleted_user_is_refused() {
    let app = TestApp::spawn().await;
    let s = app.user("ivan").await;
    assert_eq!(app.me_status(&s.access).await, 200);
    let event = rampart::audit::AuditEvent::new(rampart::audit::EventType::DataModification);
    app.state()
        .db
        .users()
        .delete(rampart_server::domain::UserId::new(s.id), &event)
        .await
        .unwrap();
    assert_eq!(app.me_status(&s.access).await, 401);
}

#[tokio::test]
async fn a_spent_refresh_token_revokes_its_family() {
    let app = TestApp::spawn().await;
    let s = app.user("judy").await;
    let refresh = |token: String| {
        let app = &app;
        async move {
            app.post_json(
                "/api/v2/auth/refresh",
                &json!({"refresh_token": token}).to_string(),
            )
            .await
        }
    };
    let r = refresh(s.refresh.clone()).await;
    assert_eq!(r.status(), 200);
    let pair = json(r).await;
    let (access2, refresh2) = (
        pair["access_token"].as_str().unwrap().to_owned(),
        pair["refresh_token"].as_str().unwrap().to_owned(),
    );
    assert_ne!(refresh2, s.refresh);
    assert_eq!(app.me_status(&access2).await, 200);

    // The spent token again: refused, and the whole family dies with it.
    let reused = refresh(s.refresh.clone()).await;
    assert_eq!(reused.headers()["www-authenticate"], "Bearer");
    assert_problem("reuse", reused, 401).await;
    assert_problem("successor after reuse", refresh(refresh2).await, 401).await;
    assert_eq!(app.me_status(&access2).await, 401);
    assert_eq!(app.me_status(&s.access).await, 401);

    // Another login is a new, unaffected family.
    let fresh = app.login("judy", PASSWORD).await;
    assert_eq!(
        app.me_status(fresh["access_token"].as_str().unwrap()).await,
        200
    );
    assert_problem(
        "unknown refresh token",
        refresh("bm90LWEtdG9rZW4".to_owned()).await,
        401,
    )
    .await;
}

#[tokio::test]
async fn logout_ends_the_access_token_and_its_refresh_family_at_once() {
    let app = TestApp::spawn().await;
    let s = app.user("ken").await;
    let other_device = app.login("ken", PASSWORD).await;
    let r = app
        .authed(Method::POST, "/api/v2/auth/logout", &s.access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(app.me_status(&s.access).await, 401);
    let r = app
        .post_json(
            "/api/v2/auth/refresh",
            &json!({"refresh_token": s.refresh}).to_string(),
        )
        .await;
    assert_problem("refresh after logout", r, 401).await;
    // Only that session ended.
    assert_eq!(
        app.me_status(other_device["access_token"].as_str().unwrap())
            .await,
        200
    );
}

#[tokio::test]
async fn a_password_change_ends_every_earlier_token() {
    let app = TestApp::spawn().await;
    let s = app.user("lena").await;
    let second = app.login("lena", PASSWORD).await;
    let change = |current: &str, new: &str| {
        app.authed(Method::POST, "/api/v2/auth/password", &s.access)
            .json(&json!({"current_password": current, "new_password": new}))
            .send()
    };
    assert_problem(
        "wrong current",
        change("wrong-password-123", "fresh-meadow-lantern-37")
            .await
            .unwrap(),
        403,
    )
    .await;
    assert_problem(
        "weak new",
        change(PASSWORD, "password1234").await.unwrap(),
        422,
    )
    .await;
    assert_eq!(
        app.me_status(&s.access).await,
        200,
        "failed attempts change nothing"
    );

    assert_eq!(
        change(PASSWORD, "fresh-meadow-lantern-37")
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(app.me_status(&s.access).await, 401);
    assert_eq!(
        app.me_status(second["access_token"].as_str().unwrap())
            .await,
        401
    );
    let r = app
        .post_json(
            "/api/v2/auth/refresh",
            &json!({"refresh_token": s.refresh}).to_string(),
        )
        .await;
    assert_problem("old refresh token", r, 401).await;
    let old = app
        .post_json(
            "/api/v2/auth/login",
            &json!({"username": "lena", "password": PASSWORD}).to_string(),
        )
        .await;
    assert_problem("old password", old, 401).await;
    app.login("lena", "fresh-meadow-lantern-37").await;
}
