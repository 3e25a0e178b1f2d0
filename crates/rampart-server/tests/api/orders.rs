//! SPEC §4: orders (BOLA matrix, validation, pagination) and search.

use rampart_server::domain::Role;
use reqwest::Method;
use serde_json::json;

use crate::support::{Session, TestApp, assert_problem, json};

async fn order(app: &TestApp, s: &Session, item: &str) -> serde_json::Value {
    let r = app
        .authed(
            Method::POST,
            &format!("/api/v2/users/{}/orders", s.id),
            &s.access,
        )
        .json(&json!({"item": item, "quantity": 2, "unit_price_cents": 150}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "order {item}");
    json(r).await
}

#[tokio::test]
async fn every_orders_route_answers_owner_other_user_and_admin_correctly() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    let other = app.user("other").await;
    let admin = app.user_with_role("boss", Role::Admin).await;
    let created = order(&app, &owner, "widget").await;
    assert_eq!(created["total_cents"], 300);
    assert_eq!(created["user_id"], owner.id);
    let order_path = format!("/api/v2/orders/{}", created["id"]);
    let list_path = format!("/api/v2/users/{}/orders", owner.id);
    let body = json!({"item": "x", "quantity": 1, "unit_price_cents": 1});

    let cases: Vec<(&str, Method, &str, &Session, u16)> = vec![
        (
            "owner reads the order",
            Method::GET,
            &order_path,
            &owner,
            200,
        ),
        (
            "other reads the order",
            Method::GET,
            &order_path,
            &other,
            404,
        ),
        (
            "admin reads the order",
            Method::GET,
            &order_path,
            &admin,
            200,
        ),
        ("owner lists", Method::GET, &list_path, &owner, 200),
        ("other lists", Method::GET, &list_path, &other, 403),
        ("admin lists", Method::GET, &list_path, &admin, 200),
        ("owner orders", Method::POST, &list_path, &owner, 201),
        (
            "other orders for the owner",
            Method::POST,
            &list_path,
            &other,
            403,
        ),
        (
            "admin orders for the owner",
            Method::POST,
            &list_path,
            &admin,
            403,
        ),
    ];
    for (case, method, path, who, status) in cases {
        let mut req = app.authed(method.clone(), path, &who.access);
        if method == Method::POST {
            req = req.json(&body);
        }
        let r = req.send().await.unwrap();
        if status >= 400 {
            assert_problem(case, r, status).await;
        } else {
            assert_eq!(r.status().as_u16(), status, "{case}");
        }
    }
    assert_problem(
        "unknown order",
        app.authed(Method::GET, "/api/v2/orders/999999", &owner.access)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    assert_problem(
        "anonymous",
        app.client.get(app.url(&order_path)).send().await.unwrap(),
        401,
    )
    .await;
}

#[tokio::test]
async fn order_fields_are_validated_and_the_total_is_computed() {
    let app = TestApp::spawn().await;
    let s = app.user("buyer").await;
    let path = format!("/api/v2/users/{}/orders", s.id);
    let cases = [
        (
            "empty item",
            json!({"item": "", "quantity": 1, "unit_price_cents": 1}),
            "item",
        ),
        (
            "long item",
            json!({"item": "x".repeat(201), "quantity": 1, "unit_price_cents": 1}),
            "item",
        ),
        (
            "zero quantity",
            json!({"item": "a", "quantity": 0, "unit_price_cents": 1}),
            "quantity",
        ),
        (
            "huge quantity",
            json!({"item": "a", "quantity": 1001, "unit_price_cents": 1}),
            "quantity",
        ),
        (
            "negative price",
            json!({"item": "a", "quantity": 1, "unit_price_cents": -1}),
            "unit_price_cents",
        ),
        (
            "huge price",
            json!({"item": "a", "quantity": 1, "unit_price_cents": 10_000_001}),
            "unit_price_cents",
        ),
        (
            "client total",
            json!({"item": "a", "quantity": 1, "unit_price_cents": 1, "total_cents": 0}),
            "total_cents",
        ),
        (
            "string quantity",
            json!({"item": "a", "quantity": "1", "unit_price_cents": 1}),
            "quantity",
        ),
    ];
    for (case, body, field) in cases {
        let r = app
            .authed(Method::POST, &path, &s.access)
            .json(&body)
            .send()
            .await
            .unwrap();
        let problem = assert_problem(case, r, 422).await;
        assert_eq!(problem["errors"][0]["field"], field, "{case}");
    }
    let r = app
        .authed(Method::POST, &path, &s.access)
        .json(&json!({"item": "max", "quantity": 1000, "unit_price_cents": 10_000_000}))
        .send()
        .await
        .unwrap();
    assert_eq!(json(r).await["total_cents"], 10_000_000_000i64);
}

#[tokio::test]
async fn lists_page_with_cursors_and_refuse_bad_parameters() {
    let app = TestApp::spawn().await;
    let s = app.user("pager").await;
    for i in 0..25 {
        order(&app, &s, &format!("item {i}")).await;
    }
    let base = format!("/api/v2/users/{}/orders", s.id);
    let first = json(
        app.authed(Method::GET, &base, &s.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(first["items"].as_array().unwrap().len(), 20);
    assert_eq!(first["items"][0]["item"], "item 24", "newest first");
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = json(
        app.authed(Method::GET, &format!("{base}?cursor={cursor}"), &s.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(second["items"].as_array().unwrap().len(), 5);
    assert_eq!(second["items"][4]["item"], "item 0");
    assert!(second["next_cursor"].is_null());
    let small = json(
        app.authed(Method::GET, &format!("{base}?limit=1"), &s.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(small["items"].as_array().unwrap().len(), 1);

    for q in [
        "limit=0",
        "limit=101",
        "limit=abc",
        "limit=-5",
        "cursor=garbage",
        "cursor=",
        "sort=id",
    ] {
        let r = app
            .authed(Method::GET, &format!("{base}?{q}"), &s.access)
            .send()
            .await
            .unwrap();
        assert_problem(q, r, 422).await;
    }
}

#[tokio::test]
async fn search_matches_literally_and_only_the_callers_orders() {
    let app = TestApp::spawn().await;
    let s = app.user("searcher").await;
    let other = app.user("stranger").await;
    for item in ["50% off", "a_b", "back\\slash", "O'Reilly book", "plain"] {
        order(&app, &s, item).await;
    }
    order(&app, &other, "plain secret").await;
    let cases: [(&str, &[&str]); 10] = [
        ("%", &["50% off"]),
        ("_", &["a_b"]),
        ("\\", &["back\\slash"]),
        ("'", &["O'Reilly book"]),
        ("O'Reilly", &["O'Reilly book"]),
        ("' OR 1=1 --", &[]),
        ("\" OR \"\"=\"", &[]),
        ("x' UNION SELECT password_hash FROM users --", &[]),
        ("plain", &["plain"]),
        ("PLAIN", &["plain"]),
    ];
    for (q, expected) in cases {
        let r = app
            .authed(Method::GET, "/api/v2/search", &s.access)
            .query(&[("q", q)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{q}");
        let page = json(r).await;
        let items: Vec<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["item"].as_str().unwrap())
            .collect();
        assert_eq!(items, expected, "q={q}");
    }
    for (case, q) in [
        ("missing q", ""),
        ("empty q", "?q="),
        ("long q", &format!("?q={}", "a".repeat(101))),
    ] {
        let r = app
            .authed(Method::GET, &format!("/api/v2/search{q}"), &s.access)
            .send()
            .await
            .unwrap();
        assert_problem(case, r, 422).await;
    }
}

#[tokio::test]
async fn search_is_limited_per_user() {
    let app = TestApp::spawn_with(&[("RAMPART_SEARCH_LIMIT_PER_MIN", "3")]).await;
    let s = app.user("eager").await;
    let other = app.user("patient").await;
    for i in 0..3u32 {
        let r = app
            .authed(Method::GET, "/api/v2/search?q=x", &s.access)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["ratelimit-limit"],
            "3",
            "the headers describe the tighter limit"
        );
        assert_eq!(
            r.headers()["ratelimit-remaining"],
            (2 - i).to_string().as_str()
        );
    }
    let r = app
        .authed(Method::GET, "/api/v2/search?q=x", &s.access)
        .send()
        .await
        .unwrap();
    assert!(r.headers().contains_key("retry-after"));
    assert_problem("fourth search", r, 429).await;
    let r = app
        .authed(Method::GET, "/api/v2/search?q=x", &other.access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "another user has its own quota");
}
