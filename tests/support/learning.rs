//! The learning routes as the tests use them: one helper per route (on [`Client`]), and the families the tests
//! build (a verified parent, their children, a device session).

use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{Api, Auth, Body, Client, PASSWORD, Reply, Signed};

impl Client {
    // --- /v1/profiles ----------------------------------------------------------------------------------------

    pub async fn profiles<'t>(&self, auth: impl Into<Auth<'t>>) -> Reply {
        self.send(Method::GET, "/v1/profiles", auth.into(), Body::Empty)
            .await
    }

    pub async fn create_profile<'t>(&self, auth: impl Into<Auth<'t>>, body: Value) -> Reply {
        self.send(Method::POST, "/v1/profiles", auth.into(), Body::Json(body))
            .await
    }

    pub async fn profile<'t>(&self, auth: impl Into<Auth<'t>>, id: &str) -> Reply {
        self.send(
            Method::GET,
            &format!("/v1/profiles/{id}"),
            auth.into(),
            Body::Empty,
        )
        .await
    }

    pub async fn patch_profile<'t>(
        &self,
        auth: impl Into<Auth<'t>>,
        id: &str,
        body: Value,
    ) -> Reply {
        let path = format!("/v1/profiles/{id}");
        self.send(Method::PATCH, &path, auth.into(), Body::Json(body))
            .await
    }

    pub async fn delete_profile<'t>(&self, auth: impl Into<Auth<'t>>, id: &str) -> Reply {
        let path = format!("/v1/profiles/{id}");
        self.send(Method::DELETE, &path, auth.into(), Body::Empty)
            .await
    }

    pub async fn profile_avatar_upload<'t>(
        &self,
        auth: impl Into<Auth<'t>>,
        id: &str,
        content_type: &str,
    ) -> Reply {
        let path = format!("/v1/profiles/{id}/avatar");
        let body = Body::Json(json!({ "content_type": content_type }));
        self.send(Method::POST, &path, auth.into(), body).await
    }

    pub async fn profile_avatar_confirm<'t>(
        &self,
        auth: impl Into<Auth<'t>>,
        id: &str,
        key: &str,
    ) -> Reply {
        let path = format!("/v1/profiles/{id}/avatar/confirm");
        let body = Body::Json(json!({ "key": key, "content_type": "image/png" }));
        self.send(Method::POST, &path, auth.into(), body).await
    }

    pub async fn device_session<'t>(&self, auth: impl Into<Auth<'t>>, id: &str) -> Reply {
        let path = format!("/v1/profiles/{id}/device-sessions");
        self.send(Method::POST, &path, auth.into(), Body::Empty)
            .await
    }

    // --- /v1/family ------------------------------------------------------------------------------------------

    pub async fn family<'t>(&self, auth: impl Into<Auth<'t>>) -> Reply {
        self.send(Method::GET, "/v1/family", auth.into(), Body::Empty)
            .await
    }

    pub async fn set_pin<'t>(&self, auth: impl Into<Auth<'t>>, pin: &str) -> Reply {
        let body = Body::Json(json!({ "pin": pin }));
        self.send(Method::PUT, "/v1/family/pin", auth.into(), body)
            .await
    }

    pub async fn clear_pin<'t>(&self, auth: impl Into<Auth<'t>>) -> Reply {
        self.send(Method::DELETE, "/v1/family/pin", auth.into(), Body::Empty)
            .await
    }

    pub async fn switch_to_parent<'t>(&self, auth: impl Into<Auth<'t>>, pin: &str) -> Reply {
        let body = Body::Json(json!({ "pin": pin }));
        self.send(Method::POST, "/v1/family/pin/switch", auth.into(), body)
            .await
    }
}

impl Client {
    // --- /v1/games -------------------------------------------------------------------------------------------

    pub async fn games<'t>(&self, auth: impl Into<Auth<'t>>, query: &str) -> Reply {
        let path = if query.is_empty() {
            "/v1/games".to_string()
        } else {
            format!("/v1/games?{query}")
        };
        self.send(Method::GET, &path, auth.into(), Body::Empty)
            .await
    }

    pub async fn game<'t>(&self, auth: impl Into<Auth<'t>>, id: &str, query: &str) -> Reply {
        let path = format!("/v1/games/{id}?{query}");
        self.send(Method::GET, &path, auth.into(), Body::Empty)
            .await
    }

    pub async fn create_game<'t>(&self, auth: impl Into<Auth<'t>>, body: Value) -> Reply {
        self.send(Method::POST, "/v1/games", auth.into(), Body::Json(body))
            .await
    }

    pub async fn replace_game<'t>(
        &self,
        auth: impl Into<Auth<'t>>,
        id: &str,
        body: Value,
    ) -> Reply {
        let path = format!("/v1/games/{id}");
        self.send(Method::PUT, &path, auth.into(), Body::Json(body))
            .await
    }

    pub async fn delete_game<'t>(&self, auth: impl Into<Auth<'t>>, id: &str) -> Reply {
        let path = format!("/v1/games/{id}");
        self.send(Method::DELETE, &path, auth.into(), Body::Empty)
            .await
    }

    /// `POST /v1/games/{id}/publish` or `/unpublish`.
    pub async fn game_action<'t>(
        &self,
        auth: impl Into<Auth<'t>>,
        id: &str,
        action: &str,
    ) -> Reply {
        let path = format!("/v1/games/{id}/{action}");
        self.send(Method::POST, &path, auth.into(), Body::Empty)
            .await
    }
}

impl Client {
    // --- /v1/curriculum --------------------------------------------------------------------------------------

    pub async fn curriculum<'t>(&self, auth: impl Into<Auth<'t>>) -> Reply {
        self.send(Method::GET, "/v1/curriculum", auth.into(), Body::Empty)
            .await
    }

    pub async fn module<'t>(&self, auth: impl Into<Auth<'t>>, id: &str) -> Reply {
        let path = format!("/v1/curriculum/{id}");
        self.send(Method::GET, &path, auth.into(), Body::Empty)
            .await
    }

    pub async fn create_module<'t>(&self, auth: impl Into<Auth<'t>>, body: Value) -> Reply {
        self.send(
            Method::POST,
            "/v1/curriculum",
            auth.into(),
            Body::Json(body),
        )
        .await
    }

    pub async fn replace_module<'t>(
        &self,
        auth: impl Into<Auth<'t>>,
        id: &str,
        body: Value,
    ) -> Reply {
        let path = format!("/v1/curriculum/{id}");
        self.send(Method::PUT, &path, auth.into(), Body::Json(body))
            .await
    }

    pub async fn delete_module<'t>(&self, auth: impl Into<Auth<'t>>, id: &str) -> Reply {
        let path = format!("/v1/curriculum/{id}");
        self.send(Method::DELETE, &path, auth.into(), Body::Empty)
            .await
    }

    pub async fn profile_curriculum<'t>(&self, auth: impl Into<Auth<'t>>, profile: &str) -> Reply {
        let path = format!("/v1/profiles/{profile}/curriculum");
        self.send(Method::GET, &path, auth.into(), Body::Empty)
            .await
    }

    pub async fn recommendations<'t>(&self, auth: impl Into<Auth<'t>>, profile: &str) -> Reply {
        let path = format!("/v1/profiles/{profile}/recommendations");
        self.send(Method::GET, &path, auth.into(), Body::Empty)
            .await
    }
}

impl Client {
    // --- /v1/achievements ------------------------------------------------------------------------------------

    pub async fn achievements<'t>(&self, auth: impl Into<Auth<'t>>) -> Reply {
        self.send(Method::GET, "/v1/achievements", auth.into(), Body::Empty)
            .await
    }

    pub async fn achievement<'t>(&self, auth: impl Into<Auth<'t>>, id: &str) -> Reply {
        let path = format!("/v1/achievements/{id}");
        self.send(Method::GET, &path, auth.into(), Body::Empty)
            .await
    }

    pub async fn create_achievement<'t>(&self, auth: impl Into<Auth<'t>>, body: Value) -> Reply {
        self.send(
            Method::POST,
            "/v1/achievements",
            auth.into(),
            Body::Json(body),
        )
        .await
    }

    pub async fn replace_achievement<'t>(
        &self,
        auth: impl Into<Auth<'t>>,
        id: &str,
        body: Value,
    ) -> Reply {
        let path = format!("/v1/achievements/{id}");
        self.send(Method::PUT, &path, auth.into(), Body::Json(body))
            .await
    }

    pub async fn delete_achievement<'t>(&self, auth: impl Into<Auth<'t>>, id: &str) -> Reply {
        let path = format!("/v1/achievements/{id}");
        self.send(Method::DELETE, &path, auth.into(), Body::Empty)
            .await
    }

    pub async fn earned<'t>(&self, auth: impl Into<Auth<'t>>, profile: &str, query: &str) -> Reply {
        let path = format!("/v1/profiles/{profile}/achievements?{query}");
        self.send(Method::GET, &path, auth.into(), Body::Empty)
            .await
    }

    pub async fn award<'t>(
        &self,
        auth: impl Into<Auth<'t>>,
        profile: &str,
        achievement: &str,
    ) -> Reply {
        let path = format!("/v1/profiles/{profile}/achievements/{achievement}");
        self.send(Method::POST, &path, auth.into(), Body::Empty)
            .await
    }
}

/// An achievement's body: `name`, earned by `rule`.
pub fn achievement(name: &str, rule: Value) -> Value {
    json!({ "name": name, "description": format!("{name}!"), "icon": "icons/star.png", "rule": rule })
}

/// The achievement ids a profile earned, as `auth` sees them (one page of 100).
pub async fn earned_ids<'t>(
    client: &Client,
    auth: impl Into<Auth<'t>>,
    profile: &str,
) -> Vec<String> {
    let mut ids: Vec<String> = client
        .earned(auth, profile, "limit=100")
        .await
        .expect_status(200)
        .items()
        .iter()
        .map(|e| {
            e["achievement_id"]
                .as_str()
                .expect("achievement_id")
                .to_string()
        })
        .collect();
    ids.sort();
    ids
}

impl Client {
    // --- /v1/leaderboards, rank ------------------------------------------------------------------------------

    pub async fn leaderboard<'t>(
        &self,
        auth: impl Into<Auth<'t>>,
        game: &str,
        query: &str,
    ) -> Reply {
        let path = format!("/v1/leaderboards/games/{game}?{query}");
        self.send(Method::GET, &path, auth.into(), Body::Empty)
            .await
    }

    pub async fn rank<'t>(
        &self,
        auth: impl Into<Auth<'t>>,
        profile: &str,
        game: &str,
        query: &str,
    ) -> Reply {
        let path = format!("/v1/profiles/{profile}/rank?game_id={game}&{query}");
        self.send(Method::GET, &path, auth.into(), Body::Empty)
            .await
    }

    // --- /v1/users/me/onboarding, /v1/admin/onboarding ------------------------------------------------------

    pub async fn onboarding<'t>(&self, auth: impl Into<Auth<'t>>) -> Reply {
        self.send(
            Method::GET,
            "/v1/users/me/onboarding",
            auth.into(),
            Body::Empty,
        )
        .await
    }

    pub async fn complete_onboarding<'t>(&self, auth: impl Into<Auth<'t>>, step: &str) -> Reply {
        let path = format!("/v1/users/me/onboarding/{step}");
        self.send(Method::POST, &path, auth.into(), Body::Empty)
            .await
    }

    pub async fn onboarding_steps<'t>(&self, auth: impl Into<Auth<'t>>) -> Reply {
        self.send(
            Method::GET,
            "/v1/admin/onboarding",
            auth.into(),
            Body::Empty,
        )
        .await
    }

    pub async fn replace_onboarding_steps<'t>(
        &self,
        auth: impl Into<Auth<'t>>,
        body: Value,
    ) -> Reply {
        self.send(
            Method::PUT,
            "/v1/admin/onboarding",
            auth.into(),
            Body::Json(body),
        )
        .await
    }

    // --- /v1/profiles/{id}/controls, usage, play -------------------------------------------------------------

    pub async fn controls<'t>(&self, auth: impl Into<Auth<'t>>, profile: &str) -> Reply {
        let path = format!("/v1/profiles/{profile}/controls");
        self.send(Method::GET, &path, auth.into(), Body::Empty)
            .await
    }

    pub async fn put_controls<'t>(
        &self,
        auth: impl Into<Auth<'t>>,
        profile: &str,
        body: Value,
    ) -> Reply {
        let path = format!("/v1/profiles/{profile}/controls");
        self.send(Method::PUT, &path, auth.into(), Body::Json(body))
            .await
    }

    pub async fn usage<'t>(&self, auth: impl Into<Auth<'t>>, profile: &str) -> Reply {
        let path = format!("/v1/profiles/{profile}/usage");
        self.send(Method::GET, &path, auth.into(), Body::Empty)
            .await
    }

    pub async fn play<'t>(&self, auth: impl Into<Auth<'t>>, profile: &str, game: &str) -> Reply {
        let path = format!("/v1/profiles/{profile}/play");
        let body = Body::Json(json!({ "game_id": game }));
        self.send(Method::POST, &path, auth.into(), body).await
    }
}

impl Client {
    // --- /v1/profiles/{id}/progress --------------------------------------------------------------------------

    /// Records a result with an `Idempotency-Key`.
    pub async fn record<'t>(
        &self,
        auth: impl Into<Auth<'t>>,
        profile: &str,
        key: &str,
        body: Value,
    ) -> Reply {
        let path = format!("/v1/profiles/{profile}/progress");
        self.send_with(
            Method::POST,
            &path,
            auth.into(),
            Body::Json(body),
            &[("Idempotency-Key", key)],
        )
        .await
    }

    pub async fn record_batch<'t>(
        &self,
        auth: impl Into<Auth<'t>>,
        profile: &str,
        body: Value,
    ) -> Reply {
        let path = format!("/v1/profiles/{profile}/progress/batch");
        self.send(Method::POST, &path, auth.into(), Body::Json(body))
            .await
    }

    pub async fn results<'t>(
        &self,
        auth: impl Into<Auth<'t>>,
        profile: &str,
        query: &str,
    ) -> Reply {
        let path = format!("/v1/profiles/{profile}/progress?{query}");
        self.send(Method::GET, &path, auth.into(), Body::Empty)
            .await
    }

    pub async fn stats<'t>(&self, auth: impl Into<Auth<'t>>, profile: &str) -> Reply {
        let path = format!("/v1/profiles/{profile}/progress/stats");
        self.send(Method::GET, &path, auth.into(), Body::Empty)
            .await
    }
}

/// A result's body: `score` and `stars` in `game`, completed, played at `played_at` (RFC 3339).
pub fn result(game: &str, score: i64, stars: i64, played_at: &str) -> Value {
    json!({
        "game_id": game, "score": score, "stars": stars, "duration_secs": 120, "completed": true,
        "played_at": played_at
    })
}

/// A curriculum module's body: `title` in `path` at `order`, completing `games` after `prerequisites`.
pub fn module(
    title: &str,
    path: &str,
    order: i32,
    games: &[&str],
    prerequisites: &[&str],
) -> Value {
    json!({
        "path": path, "title": title, "order": order, "games": games, "prerequisites": prerequisites,
        "min_stars": 2
    })
}

/// A game's body: `title` for ages `min..=max`, in `category`, training `skills`.
pub fn game(
    title: &str,
    ages: (i32, i32),
    category: &str,
    skills: &[&str],
    difficulty: &str,
) -> Value {
    json!({
        "title": title, "description": format!("About {title}."), "rules": "Play.",
        "min_age": ages.0, "max_age": ages.1, "category": category, "skills": skills,
        "difficulty": difficulty, "estimated_minutes": 5
    })
}

/// A child profile's creation body (with consent).
pub fn child(name: &str, birth_year: i32) -> Value {
    json!({ "display_name": name, "birth_year": birth_year, "parental_consent": true })
}

impl Api {
    /// Waits (for the learning worker) until `profile` has earned at least one achievement, as `parent` sees it.
    pub async fn await_earned(&self, parent: &Signed, profile: &str) {
        let earned =
            crate::eventually(async || !earned_ids(self, &parent.access, profile).await.is_empty())
                .await;
        assert!(earned, "{profile} earned nothing");
    }

    /// Waits (for the learning worker) until `profile`'s recommendations were computed, as `auth` sees them;
    /// answers them.
    pub async fn await_recommendations(&self, auth: &Signed, profile: &str) -> Value {
        crate::poll(async || {
            let reply = self.recommendations(&auth.access, profile).await;
            (reply.status == 200 && !reply.body["computed_at"].is_null()).then_some(reply.body)
        })
        .await
        .unwrap_or_else(|| panic!("no recommendations were computed for {profile}"))
    }

    /// A verified parent, signed in.
    pub async fn parent(&self, email: &str) -> Signed {
        self.sign_up(json!({
            "email": email, "password": PASSWORD, "display_name": "Parent", "role": "parent"
        }))
        .await
    }

    /// A child of `parent` born `age` years before this year; answers its profile id.
    pub async fn child_of(&self, parent: &Signed, name: &str, age: i32) -> String {
        let year = self.clock_year() - age;
        self.create_profile(&parent.access, child(name, year))
            .await
            .expect_status(201)
            .text("profile_id")
    }

    /// A device session of `parent` acting as `profile_id`, as [`Signed`] tokens.
    pub async fn device_of(&self, parent: &Signed, profile_id: &str) -> Signed {
        let reply = self
            .device_session(&parent.access, profile_id)
            .await
            .expect_status(201);
        assert_eq!(reply.text("profile_id"), profile_id);
        Signed::from_tokens(&parent.email, &parent.user_id, &reply.body)
    }

    /// Gives `profile_id` an avatar (uploaded through the presigned form and confirmed); answers its key.
    pub async fn profile_avatar(&self, parent: &Signed, profile_id: &str) -> String {
        let presigned = self
            .profile_avatar_upload(&parent.access, profile_id, "image/png")
            .await
            .expect_status(200);
        let key = crate::uploads::post_presigned_png(&presigned, crate::uploads::png(200)).await;
        self.profile_avatar_confirm(&parent.access, profile_id, &key)
            .await
            .expect_status(200);
        key
    }

    /// Creates and publishes a game as `author`; answers its id.
    pub async fn published_game(&self, author: &Signed, body: Value) -> String {
        let id = self
            .create_game(&author.access, body)
            .await
            .expect_status(201)
            .text("game_id");
        self.game_action(&author.access, &id, "publish")
            .await
            .expect_status(200);
        id
    }

    /// The titles of a catalog page.
    pub async fn game_titles<'t>(&self, auth: impl Into<Auth<'t>>, query: &str) -> Vec<String> {
        self.games(auth, query)
            .await
            .expect_status(200)
            .items()
            .iter()
            .map(|g| g["title"].as_str().expect("title").to_string())
            .collect()
    }

    /// The server clock's time as RFC 3339, `offset_secs` from now.
    pub fn at(&self, offset_secs: i64) -> String {
        use lectern_shared::clock::Clock;
        let t = self.clock().now() + time::Duration::seconds(offset_secs);
        t.format(&time::format_description::well_known::Rfc3339)
            .expect("formats")
    }

    /// The server clock's calendar year.
    pub fn clock_year(&self) -> i32 {
        use lectern_shared::clock::Clock;
        self.clock().now().year()
    }
}
