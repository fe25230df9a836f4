// The real gateway binary for the browser tests: a temp directory with a config and a SQLite
// ledger, keys made with `sluice keys create`, and the gateway on a port the system picks.
// A second process, `sluice mock-upstream`, is the slow simulated provider the playground
// streams from (the page cannot send the mock's timing headers).

import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { eventually } from './wait.mjs';

const run = promisify(execFile);
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The debug binary the tests drive (they build nothing themselves). */
export function binary() {
  const bin = process.env.SLUICE_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(REPO, 'target'), 'debug', 'sluice');
  if (!existsSync(bin)) {
    throw new Error(`no gateway binary at ${bin}: build it first (cargo build -p sluice), or set SLUICE_BIN`);
  }
  return bin;
}

/** Every child process, so an interrupted run still stops them. */
const children = new Set();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** Starts `args` and resolves with the child and the address it logs (`listening on http://...`). */
function start(args, pattern, env = {}) {
  const child = spawn(binary(), args, { env: { ...process.env, RUST_LOG: 'info', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  let log = '';
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args[0]} did not start:\n${log}`)), 20_000);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text) => {
      log = (log + text).slice(-20_000);
      const m = pattern.exec(log);
      if (m) {
        clearTimeout(timer);
        resolvePromise({ child, url: m[1], log: () => log });
      }
    });
    child.on('exit', (code) => {
      children.delete(child);
      clearTimeout(timer);
      reject(new Error(`${args[0]} exited (${code}):\n${log}`));
    });
  });
}

function stop(child) {
  if (!child || child.exitCode !== null) return Promise.resolve();
  return new Promise((done) => {
    child.once('exit', () => done());
    child.kill('SIGTERM');
  });
}

/** The slow simulated provider: `tokens` tokens, `itlMs` apart, so an answer streams visibly. */
export async function startSlowProvider({ tokens = 24, itlMs = 60 } = {}) {
  const p = await start(
    ['mock-upstream', '--listen', '127.0.0.1:0', '--tokens', String(tokens), '--ttft', '100ms', '--itl', `${itlMs}ms`],
    /simulated provider listening on (http:\/\/[0-9.:]+)/,
  );
  return { url: p.url, stop: () => stop(p.child) };
}

function config(dir, slowUrl) {
  // `mock`: the built-in simulated provider (fast); `slow`: `sluice mock-upstream` over HTTP.
  // Both priced and billed in yen, the display currency, so costs show in two currencies.
  return `
ledger = "sqlite://${join(dir, 'ledger.db')}"
display_currency = "JPY"
shutdown_grace = "1s"

[providers.builtin]
kind = "mock"
billing = { currency = "JPY", per_usd = 150.0 }
[providers.builtin.prices]
"mock" = { input = 2.0, output = 8.0 }

[providers.sim]
kind = "openai"
base_url = "${slowUrl}/v1"
api_key = "unused"
billing = { currency = "JPY", per_usd = 150.0 }
[providers.sim.prices]
"mock" = { input = 3.0, output = 15.0 }

[routes]
"mock" = ["builtin"]
"slow" = [{ provider = "sim", model = "mock" }]
`;
}

/**
 * A gateway in a fresh temp directory. `keys: true` makes an admin and an ordinary key first and
 * waits until the gateway refuses a keyless request; without keys the gateway stays open.
 */
export async function startGateway({ slowUrl, keys = false }) {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-browser-'));
  const cfg = join(dir, 'sluice.toml');
  writeFileSync(cfg, config(dir, slowUrl));
  const gw = { dir, cfg, admin: null, ordinary: null, proc: null, url: null };

  const launch = async (listen) => {
    gw.proc = await start(['serve', '--config', cfg, '--listen', listen], /listening on (http:\/\/[0-9.:]+)/);
    gw.url = gw.proc.url;
  };
  await launch('127.0.0.1:0');

  if (keys) {
    gw.admin = await createKey(cfg, ['--name', 'admin', '--admin']);
    gw.ordinary = await createKey(cfg, ['--name', 'ordinary', '--budget-usd', '1', '--rpm', '600']);
    // The gateway notices new keys within seconds: wait until it asks for one.
    await eventually(async () => {
      const res = await fetch(`${gw.url}/v1/models`);
      if (res.status !== 401) throw new Error(`keyless request got ${res.status}, not 401 yet`);
    }, 20_000);
  }

  gw.stop = () => stop(gw.proc.child);
  /** Stops the gateway and starts it again on the same address (same ledger). */
  gw.restart = async () => {
    const addr = new URL(gw.url).host;
    await stop(gw.proc.child);
    await launch(addr);
  };
  gw.cleanup = async () => {
    await stop(gw.proc.child);
    rmSync(dir, { recursive: true, force: true });
  };
  gw.log = () => gw.proc.log();
  return gw;
}

async function createKey(cfg, flags) {
  const { stdout } = await run(binary(), ['keys', 'create', '--config', cfg, '--json', ...flags]);
  const doc = JSON.parse(stdout);
  return { id: doc.id, secret: doc.key, name: doc.name };
}

/** One streamed chat completion through the gateway, read to its end; returns the usage. */
export async function streamOne(gw, key, model = 'mock') {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Hello from the browser tests' }], stream: true, stream_options: { include_usage: true } }),
  });
  if (res.status !== 200) throw new Error(`chat: ${res.status} ${await res.text()}`);
  const text = await res.text();
  if (!text.includes('[DONE]')) throw new Error(`stream did not finish: ${text.slice(-300)}`);
  return text;
}
