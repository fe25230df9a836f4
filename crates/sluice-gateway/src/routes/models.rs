//! `GET /v1/models`: the routable model names, in OpenAI's list shape.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::state::AppState;

pub async fn list(State(app): State<AppState>) -> Json<Value> {
    let data: Vec<Value> = app
        .config()
        .routes
        .iter()
        .map(|r| {
            json!({
                "id": r.model,
                "object": "model",
                "created": 0,
                "owned_by": r.targets.first().map(|t| t.provider.as_str()).unwrap_or("sluice"),
            })
        })
        .collect();
    Json(json!({"object": "list", "data": data}))
}
