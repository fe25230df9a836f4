//! `sluice keys`: the gateway's API keys, `sk-sluice-<id>-<secret>`, in the config's ledger
//! (where every gateway replica reads them). `create` makes a key and prints it once (only
//! the hash of its secret is stored); `list` shows every key with its limits and its spend in
//! the current budget window; `update` changes what it is given; `revoke` ends a key, which
//! stays listed (a revoked key still counts as a key, so revoking the last one does not open
//! the gateway).
//!
//! This file runs the four commands; `flags` checks the flags, `spend` works out what a key
//! spent, `view` prints keys as text or JSON.

mod flags;
mod spend;
mod view;

use sluice_config::Config;
use sluice_ledger::{ApiKey, Ledger};
use sluice_pricing::{display_rate, PriceBook};
use sluice_types::{unix_ms, KeyLimits};

use self::flags::Mode;
use super::ledger::open_key_store;
use crate::cli::{KeyCreateArgs, KeyListArgs, KeyRevokeArgs, KeyUpdateArgs, KeysCommand};
use crate::Failure;

pub async fn run(command: KeysCommand) -> Result<(), Failure> {
    let text = match command {
        KeysCommand::Create(args) => create(args).await?,
        KeysCommand::List(args) => list(args).await?,
        KeysCommand::Update(args) => update(args).await?,
        KeysCommand::Revoke(args) => revoke(args).await?,
    };
    print!("{text}");
    Ok(())
}

async fn create(args: KeyCreateArgs) -> Result<String, Failure> {
    let name = flags::name(args.name.as_deref().ok_or_else(|| {
        Failure::Usage("--name: required (a name that says who uses the key)".to_owned())
    })?)?;
    let config = super::load_config(args.common.config.as_deref())?;
    // Every flag is checked before the ledger is opened (or created).
    let edits = flags::parse(&args.limits, Mode::Create, &rate_known(&config))?;
    let ledger = open_key_store(&config.ledger, true).await?;
    let new = sluice_limit::key::generate().map_err(|e| Failure::Runtime(e.into()))?;
    let now = unix_ms();
    let mut key = ApiKey {
        id: new.id,
        name,
        secret_hash: new.secret_hash,
        admin: args.admin,
        limits: KeyLimits::default(),
        created_ms: now,
        expires_ms: None,
        revoked_ms: None,
        last_used_ms: None,
        updated_ms: now,
    };
    flags::apply(&edits, &mut key, now)?;
    ledger.insert_key(&key).await.map_err(runtime)?;
    view::created(&key, &new.token, ledger.url(), now, args.common.json)
}

async fn list(args: KeyListArgs) -> Result<String, Failure> {
    let config = super::load_config(args.common.config.as_deref())?;
    let ledger = open_key_store(&config.ledger, false).await?;
    let book = PriceBook::with_config(&config);
    let now = unix_ms();
    let mut shown = Vec::new();
    for key in ledger.keys().await.map_err(runtime)? {
        let spent = spend::spend(&ledger, &key, &book, now).await?;
        shown.push((key, spent));
    }
    view::list(&shown, ledger.url(), now, args.common.json)
}

async fn update(args: KeyUpdateArgs) -> Result<String, Failure> {
    let config = super::load_config(args.common.config.as_deref())?;
    let name = args.name.as_deref().map(flags::name).transpose()?;
    let admin = args.admin.as_deref().map(flags::admin).transpose()?;
    let edits = flags::parse(&args.limits, Mode::Update, &rate_known(&config))?;
    if name.is_none() && admin.is_none() && edits.is_empty() {
        return Err(Failure::Usage(
            "keys update: nothing to change; give --name, --admin, --rpm, --tpm, --budget-usd, \
             --budget, --window, --models or --expires"
                .to_owned(),
        ));
    }
    let ledger = open_key_store(&config.ledger, false).await?;
    let mut key = find(&ledger, &args.id).await?;
    let now = unix_ms();
    if let Some(name) = name {
        key.name = name;
    }
    if let Some(admin) = admin {
        key.admin = admin;
    }
    flags::apply(&edits, &mut key, now)?;
    key.updated_ms = now;
    if !ledger.update_key(&key).await.map_err(runtime)? {
        return Err(unknown(&ledger, &args.id));
    }
    let sentence = format!(
        "Updated key {}: {}.",
        view::title(&key),
        view::summary(&key)
    );
    view::changed(&key, &sentence, now, args.common.json)
}

async fn revoke(args: KeyRevokeArgs) -> Result<String, Failure> {
    let config = super::load_config(args.common.config.as_deref())?;
    let ledger = open_key_store(&config.ledger, false).await?;
    let before = find(&ledger, &args.id).await?;
    let now = unix_ms();
    if !ledger.revoke_key(&args.id, now).await.map_err(runtime)? {
        return Err(unknown(&ledger, &args.id));
    }
    let key = find(&ledger, &args.id).await?;
    let at = super::render::utc(key.revoked_ms.unwrap_or(now));
    let sentence = match before.revoked_ms {
        Some(_) => format!("Key {} was already revoked at {at}.", view::title(&key)),
        None => format!(
            "Revoked key {} at {at}: the gateway refuses it within seconds.",
            view::title(&key)
        ),
    };
    view::changed(&key, &sentence, now, args.common.json)
}

/// Whether requests billed in USD can be charged in `code`: a provider in the config or the
/// built-in price list bills in it (its rate is what the gateway charges at).
fn rate_known(config: &Config) -> impl Fn(&str) -> bool {
    let book = PriceBook::with_config(config);
    move |code: &str| display_rate(&book, code).is_some()
}

/// The key with this id; an id no key has is a usage error (exit 2).
async fn find(ledger: &Ledger, id: &str) -> Result<ApiKey, Failure> {
    ledger
        .key(id)
        .await
        .map_err(runtime)?
        .ok_or_else(|| unknown(ledger, id))
}

fn unknown(ledger: &Ledger, id: &str) -> Failure {
    Failure::Usage(format!(
        "key {id:?}: no such key in ledger {} (`sluice keys list` shows the ids)",
        ledger.url()
    ))
}

fn runtime(e: sluice_ledger::LedgerError) -> Failure {
    Failure::Runtime(e.into())
}
