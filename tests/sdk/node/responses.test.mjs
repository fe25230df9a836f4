// The official OpenAI Node SDK's Responses API through the gateway, against the simulated
// provider. Served by translation through chat completions: responses.create with stream:
// true and responses.stream give the text the chat API gives, in the documented event order,
// with usage and the gateway's cost last; a provider's rate limit is the SDK's own error.
// Passed through to a provider that serves the Responses API: a stored conversation goes on
// (previous_response_id), the provider's own events with the gateway's cost last.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";

const BIN = process.env.SLUICE_BIN ?? join(process.cwd(), "../../../target/debug/sluice");
const procs = [];
let client;

/** Starts `sluice args…` and resolves with its address once it logs it. */
function start(args, cwd) {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, RUST_LOG: "info" };
    delete env.HOLYSHEEP_API_KEY;
    delete env.SLUICE_CONFIG;
    const child = spawn(BIN, args, { cwd, env, stdio: ["ignore", "ignore", "pipe"] });
    procs.push(child);
    let log = "";
    const timer = setTimeout(() => reject(new Error(`sluice ${args} did not start:\n${log}`)), 30000);
    child.stderr.on("data", (chunk) => {
      log += chunk;
      const m = /listening on http:\/\/([0-9.:\[\]a-z]+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(`http://${m[1]}`);
      }
    });
    child.on("error", reject);
  });
}

const dir = mkdtempSync(join(tmpdir(), "sluice-node-"));

before(async () => {
  const mock = await start(["mock-upstream", "--listen", "127.0.0.1:0", "--ttft", "0ms", "--itl", "0ms"]);
  writeFileSync(
    join(dir, "sluice.toml"),
    `ledger = "none"
[providers.local]
kind = "openai"
base_url = "${mock}/v1"
[providers.local.prices]
"m" = { input = 1.00, output = 2.00 }
[providers.native]
kind = "openai"
base_url = "${mock}/v1"
responses = true
[providers.native.prices]
"gpt-x" = { input = 1.00, output = 2.00 }
[retry]
attempts = 0
[routes]
"openai" = [{ provider = "local", model = "m" }]
"openai-429" = [{ provider = "local", model = "mock-429" }]
"native" = [{ provider = "native", model = "gpt-x" }]
`,
  );
  const gateway = await start(["serve", "--config", join(dir, "sluice.toml"), "--listen", "127.0.0.1:0"], dir);
  client = new OpenAI({ baseURL: `${gateway}/v1`, apiKey: "unused", maxRetries: 0 });
});

after(() => {
  for (const p of procs) p.kill();
  rmSync(dir, { recursive: true, force: true });
});

async function reference(input) {
  const done = await client.chat.completions.create({
    model: "openai",
    messages: [{ role: "user", content: input }],
    max_completion_tokens: 30,
  });
  return done.choices[0].message.content;
}

test("responses.create with stream: true", async () => {
  const want = await reference("Tell me about rivers.");
  const stream = await client.responses.create({
    model: "openai",
    input: "Tell me about rivers.",
    max_output_tokens: 30,
    stream: true,
  });
  const events = [];
  for await (const event of stream) events.push(event);
  assert.deepEqual(events.slice(0, 2).map((e) => e.type), ["response.created", "response.in_progress"]);
  assert.equal(events.at(-1).type, "response.completed");
  assert.deepEqual(events.map((e) => e.sequence_number), events.map((_, i) => i));
  const text = events.filter((e) => e.type === "response.output_text.delta").map((e) => e.delta).join("");
  assert.equal(text, want);
  const usage = events.at(-1).response.usage;
  const cost = (usage.input_tokens * 1 + usage.output_tokens * 2) / 1e6;
  assert.ok(Math.abs(Number(usage.cost) - cost) < 1e-12, JSON.stringify(usage));
});

test("responses.stream and its final response", async () => {
  const want = await reference("Say something.");
  const stream = client.responses.stream({ model: "openai", input: "Say something.", max_output_tokens: 30 });
  let text = "";
  stream.on("response.output_text.delta", (e) => {
    text += e.delta;
  });
  const final = await stream.finalResponse();
  assert.equal(text, want);
  assert.equal(final.output_text, want);
});

test("a provider's rate limit is the SDK's RateLimitError", async () => {
  await assert.rejects(
    client.responses.create({ model: "openai-429", input: "hi", stream: true }),
    (err) => err instanceof OpenAI.RateLimitError,
  );
});

test("passed through to a provider that serves the Responses API", async () => {
  const first = await client.responses.create({ model: "native", input: "Tell me about rivers.", max_output_tokens: 500 });
  assert.ok(first.id.startsWith("resp_mock_"), first.id);
  const stream = await client.responses.create({
    model: "native",
    input: "And lakes?",
    previous_response_id: first.id,
    max_output_tokens: 500,
    stream: true,
  });
  const events = [];
  for await (const event of stream) events.push(event);
  assert.deepEqual(events.map((e) => e.sequence_number), events.map((_, i) => i));
  assert.equal(events[0].response.previous_response_id, first.id);
  const last = events.at(-1);
  assert.equal(last.type, "response.completed");
  const text = events.filter((e) => e.type === "response.output_text.delta").map((e) => e.delta).join("");
  assert.equal(last.response.output_text ?? last.response.output[0].content[0].text, text);
  const usage = last.response.usage;
  const cost = (usage.input_tokens * 1 + usage.output_tokens * 2) / 1e6;
  assert.ok(Math.abs(Number(usage.cost) - cost) < 1e-12, JSON.stringify(usage));
});
