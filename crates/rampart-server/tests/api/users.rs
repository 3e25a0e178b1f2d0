//! SPEC §3: views, lookups, object- and function-level authorization, mass
//! assignment.

use rampart_server::domain::Role;
use reqwest::Method;
use serde_json::json;

use crate::support::{TestApp, assert_problem, json};

fn keys(v: &serde_json::Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

#[tokio::test]
async fn others_see_the_public_view_and_owners_and_admins_the_self_view() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let admin = app.user_with_role("boss", Role::Admin).await;
    let path = format!("/api/v2/users/{}", bob.id);

    let public = json(
        app.authed(Method::GET, &path, &alice.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(keys(&public), ["bio", "id", "username", "website"]);
    let own = json(
        app.authed(Method::GET, &path, &bob.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(own["email"], "bob@example.com");
    let by_admin = json(
        app.authed(Method::GET, &path, &admin.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(keys(&by_admin), keys(&own));

    let missing = app
        .authed(Method::GET, "/api/v2/users/999999", &alice.access)
        .send()
        .await
        .unwrap();
    assert_problem("missing user", missing, 404).await;
    let anonymous = app.client.get(app.url(&path)).send().await.unwrap();
    assert_problem("anonymous", anonymous, 401).await;
}

#[tokio::test]
async fn lookup_by_username_is_an_exact_match_list() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    app.register("alicia").await;
    let page = json(
        app.authed(Method::GET, "/api/v2/users?username=ALICE", &alice.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["username"], "alice");
    assert_eq!(
        keys(&page["items"][0]),
        ["bio", "id", "username", "website"]
    );
    assert!(page["next_cursor"].is_null());

    for q in [
        "username=al%25",
        "username=%27%20OR%201%3D1%20--",
        "username=_lice",
    ] {
        let page = json(
            app.authed(Method::GET, &format!("/api/v2/users?{q}"), &alice.access)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(page["items"].as_array().unwrap().len(), 0, "{q}");
    }
    for (case, q) in [
        ("missing username", ""),
        ("limit 0", "username=a&limit=0"),
        ("limit 101", "username=a&limit=101"),
        ("limit abc", "username=a&limit=abc"),
        ("garbage cursor", "username=a&cursor=zzz"),
    ] {
        let r = app
            .authed(Method::GET, &format!("/api/v2/users?{q}"), &alice.access)
            .send()
            .await
            .unwrap();
        assert_problem(case, r, 422).await;
    }
}

#[tokio::test]
async fn mass_assignment_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let path = format!("/api/v2/users/{}", alice.id);
    for field in [
        "is_admin",
        "role",
        "password_hash",
        "balance",
        "token_version",
        "id",
        "created_at",
    ] {
        let body = json!({"bio": "changed", field: if field == "role" { json!("admin") } else { json!(true) }});
        let r = app
            .authed(Method::PATCH, &path, &alice.access)
            .json(&body)
            .send()
            .await
            .unwrap();
        let problem = assert_problem(field, r, 422).await;
        assert_eq!(problem["errors"][0]["field"], field);
    }
    let me = json(
        app.authed(Method::GET, "/api/v2/users/me", &alice.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(me["role"], "user");
    assert!(
        me["bio"].is_null(),
        "the valid part of a refused body was not applied either"
    );
}

#[tokio::test]
async fn users_patch_themselves_admins_patch_anyone_others_get_403() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let admin = app.user_with_role("boss", Role::Admin).await;
    let bob_path = format!("/api/v2/users/{}", bob.id);

    let r = app
        .authed(Method::PATCH, &bob_path, &alice.access)
        .json(&json!({"bio": "pwned"}))
        .send()
        .await
        .unwrap();
    assert_problem("alice patches bob", r, 403).await;

    let r = app
        .authed(Method::PATCH, &bob_path, &bob.access)
        .json(&json!({"bio": "<em>hi</em><script>x</script>", "website": "https://bob.example", "phone": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let me = json(r).await;
    assert_eq!(me["bio"], "<em>hi</em>");
    assert_eq!(me["email"], "bob@example.com", "the self view");

    let r = app
        .authed(Method::PATCH, &bob_path, &admin.access)
        .json(&json!({"full_name": "Robert"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json(r).await["full_name"], "Robert");

    let r = app
        .authed(Method::PATCH, &bob_path, &bob.access)
        .json(&json!({"username": "ALICE"}))
        .send()
        .await
        .unwrap();
    assert_problem("taken username", r, 409).await;
    let r = app
        .authed(Method::PATCH, &bob_path, &bob.access)
        .json(&json!({"email": null}))
        .send()
        .await
        .unwrap();
    assert_problem("null email", r, 422).await;
    let r = app
        .authed(Method::PATCH, &bob_path, &bob.access)
        .json(&json!({"website": "ftp://x", "email": "bad"}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem("two invalid", r, 422).await;
    assert_eq!(problem["errors"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn admin_functions_are_refused_to_everyone_else() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let auditor = app.user_with_role("audrey", Role::Auditor).await;
    let role_path = format!("/api/v2/admin/users/{}/role", bob.id);
    let user_path = format!("/api/v2/users/{}", bob.id);
    for (who, token) in [("user", &alice.access), ("auditor", &auditor.access)] {
        let r = app
            .authed(Method::PUT, &role_path, token)
            .json(&json!({"role": "admin"}))
            .send()
            .await
            .unwrap();
        assert_problem(&format!("{who} sets a role"), r, 403).await;
        let r = app
            .authed(Method::DELETE, &user_path, token)
            .send()
            .await
            .unwrap();
        assert_problem(&format!("{who} deletes a user"), r, 403).await;
    }
    let own = app
        .authed(
            Method::DELETE,
            &format!("/api/v2/users/{}", alice.id),
            &alice.access,
        )
        .send()
        .await
        .unwrap();
    assert_problem("a user deletes itself", own, 403).await;
    let me = json(
        app.authed(Method::GET, "/api/v2/users/me", &bob.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(me["role"], "user");
}

#[tokio::test]
async fn admins_change_roles_and_delete_others_but_not_themselves() {
    let app = TestApp::spawn().await;
    let bob = app.user("bob").await;
    let admin = app.user_with_role("boss", Role::Admin).await;

    let r = app
        .authed(
            Method::PUT,
            &format!("/api/v2/admin/users/{}/role", bob.id),
            &admin.access,
        )
        .json(&json!({"role": "clinician"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["role"], "clinician");
    // Takes effect on the existing token at once: the role is read per request.
    let me = json(
        app.authed(Method::GET, "/api/v2/users/me", &bob.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(me["role"], "clinician");

    let r = app
        .authed(
            Method::PUT,
            &format!("/api/v2/admin/users/{}/role", bob.id),
            &admin.access,
        )
        .json(&json!({"role": "emperor"}))
        .send()
        .await
        .unwrap();
    assert_problem("unknown role", r, 422).await;

    let own = app
        .authed(
            Method::DELETE,
            &format!("/api/v2/users/{}", admin.id),
            &admin.access,
        )
        .send()
        .await
        .unwrap();
    assert_problem("admin deletes itself", own, 400).await;

    let r = app
        .authed(
            Method::DELETE,
            &format!("/api/v2/users/{}", bob.id),
            &admin.access,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = app
        .authed(Method::GET, "/api/v2/users/me", &bob.access)
        .send()
        .await
        .unwrap();
    assert_problem("deleted user's token", r, 401).await;
    let r = app
        .authed(
            Method::DELETE,
            &format!("/api/v2/users/{}", bob.id),
            &admin.access,
        )
        .send()
        .await
        .unwrap();
    assert_problem("already deleted", r, 404).await;
}
