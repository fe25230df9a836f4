//! Reading `tools`, `tool_choice`, `response_format` and `reasoning_effort`.

use serde_json::Value;

use super::model::{object, string, Effort, Format, Provider, Tool, ToolChoice};
use crate::error::TranslateError;

pub(crate) fn tools(value: Value, provider: Provider) -> Result<Vec<Tool>, TranslateError> {
    let Value::Array(list) = value else {
        return Err(TranslateError::new("tools", "must be an array"));
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, tool) in list.into_iter().enumerate() {
        let path = format!("tools[{i}]");
        let mut map = object(tool, &path)?;
        match map.remove("type") {
            Some(Value::String(t)) if t == "function" => {}
            _ => return Err(provider.refuse(format!("{path}.type"))),
        }
        let cache = map.remove("cache_control").filter(|v| !v.is_null());
        let param = format!("{path}.function");
        let mut function = object(
            map.remove("function")
                .ok_or_else(|| TranslateError::new(&param, "is required"))?,
            &param,
        )?;
        if let Some((key, _)) = map.into_iter().find(|(_, v)| !v.is_null()) {
            return Err(provider.refuse(format!("{path}.{key}")));
        }
        let name = match function.remove("name") {
            Some(name) => string(name, &format!("{param}.name"))?,
            None => return Err(TranslateError::new(format!("{param}.name"), "is required")),
        };
        let description = match function.remove("description").filter(|v| !v.is_null()) {
            Some(d) => Some(string(d, &format!("{param}.description"))?),
            None => None,
        };
        let parameters = match function.remove("parameters").filter(|v| !v.is_null()) {
            Some(p) => Some(Value::Object(object(p, &format!("{param}.parameters"))?)),
            None => None,
        };
        let strict = match function.remove("strict") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => b,
            Some(_) => {
                return Err(TranslateError::new(
                    format!("{param}.strict"),
                    "must be a boolean",
                ))
            }
        };
        if let Some((key, _)) = function.into_iter().find(|(_, v)| !v.is_null()) {
            return Err(provider.refuse(format!("{param}.{key}")));
        }
        out.push(Tool {
            name,
            description,
            parameters,
            cache,
            strict,
        });
    }
    Ok(out)
}

pub(crate) fn tool_choice(value: Value, provider: Provider) -> Result<ToolChoice, TranslateError> {
    match value {
        Value::String(s) => match s.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "none" => Ok(ToolChoice::None),
            "required" => Ok(ToolChoice::Required),
            _ => Err(TranslateError::new(
                "tool_choice",
                "must be auto, none, required or a named function",
            )),
        },
        Value::Object(mut map) => {
            match map.get("type").and_then(Value::as_str) {
                Some("function") => {}
                // `allowed_tools` and custom tools have no counterpart.
                _ => return Err(provider.refuse("tool_choice.type")),
            }
            let name = map
                .get_mut("function")
                .and_then(|f| f.get_mut("name"))
                .map(Value::take);
            match name {
                Some(Value::String(name)) => Ok(ToolChoice::Named(name)),
                _ => Err(TranslateError::new(
                    "tool_choice.function.name",
                    "must be a string",
                )),
            }
        }
        _ => Err(TranslateError::new(
            "tool_choice",
            "must be a string or an object",
        )),
    }
}

pub(crate) fn format(value: Value) -> Result<Option<Format>, TranslateError> {
    let mut map = object(value, "response_format")?;
    let kind = map
        .remove("type")
        .and_then(|t| t.as_str().map(str::to_owned));
    match kind.as_deref() {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(Format::JsonObject)),
        Some("json_schema") => {
            let schema = map
                .get_mut("json_schema")
                .and_then(|s| s.get_mut("schema"))
                .map(Value::take)
                .filter(|s| !s.is_null());
            if schema.as_ref().is_some_and(|s| !s.is_object()) {
                return Err(TranslateError::new(
                    "response_format.json_schema.schema",
                    "must be an object",
                ));
            }
            Ok(Some(Format::JsonSchema(schema)))
        }
        _ => Err(TranslateError::new(
            "response_format.type",
            "must be text, json_object or json_schema",
        )),
    }
}

pub(crate) fn effort(value: Value) -> Result<Effort, TranslateError> {
    let effort = string(value, "reasoning_effort")?;
    match effort.as_str() {
        "none" => Ok(Effort::None),
        "minimal" => Ok(Effort::Minimal),
        "low" => Ok(Effort::Low),
        "medium" => Ok(Effort::Medium),
        "high" => Ok(Effort::High),
        _ => Err(TranslateError::new(
            "reasoning_effort",
            "must be none, minimal, low, medium or high",
        )),
    }
}
