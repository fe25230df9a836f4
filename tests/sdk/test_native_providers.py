"""The official OpenAI Python SDK streaming from native Anthropic and Gemini providers through
the gateway, against the simulated provider speaking each native API over loopback HTTP.

The answer a client reads must be exactly the provider's own: the same text and token counts
as the provider's whole native answer to the same conversation, asked directly.
"""

import json
import unittest
import urllib.request

import openai

from harness import GatewayCase

PROMPT = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Tell me about rivers."},
]
MAX_TOKENS = 40
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


def post_json(url, body, headers):
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", **headers},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=30) as res:
        return json.load(res)


class NativeProviders(GatewayCase):
    @classmethod
    def config(cls, mock_url):
        routes = []
        for api, provider in (("claude", "claude"), ("gemini", "google")):
            model = "claude-sonnet-4-5" if api == "claude" else "gemini-2.5-flash"
            routes.append(f'"{api}" = [{{ provider = "{provider}", model = "{model}" }}]')
            for fault in ("mock-tool", "mock-think", "mock-429", "mock-error-midstream"):
                routes.append(f'"{api}-{fault}" = [{{ provider = "{provider}", model = "{fault}" }}]')
        return (
            f"""
[providers.claude]
kind = "anthropic"
base_url = "{mock_url}/v1"
api_key = "sk-ant-test"
[providers.claude.prices]
"claude-sonnet-4-5" = {{ input = 3.00, output = 15.00 }}
[providers.google]
kind = "gemini"
base_url = "{mock_url}/v1beta"
api_key = "gemini-test"
[providers.google.prices]
"gemini-2.5-flash" = {{ input = 0.30, output = 2.50 }}
[retry]
attempts = 0
[routes]
"""
            + "\n".join(routes)
            + "\n"
        )

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.client = cls.openai()

    def native_answer(self, api):
        """The provider's own whole answer to PROMPT, asked directly in its native API:
        (text, prompt tokens, completion tokens)."""
        if api == "claude":
            body = post_json(
                self.mock.url + "/v1/messages",
                {
                    "model": "claude-sonnet-4-5",
                    "max_tokens": MAX_TOKENS,
                    "system": PROMPT[0]["content"],
                    "messages": [PROMPT[1]],
                },
                {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"},
            )
            text = "".join(b["text"] for b in body["content"] if b["type"] == "text")
            return text, body["usage"]["input_tokens"], body["usage"]["output_tokens"]
        body = post_json(
            self.mock.url + "/v1beta/models/gemini-2.5-flash:generateContent",
            {
                "systemInstruction": {"parts": [{"text": PROMPT[0]["content"]}]},
                "contents": [{"role": "user", "parts": [{"text": PROMPT[1]["content"]}]}],
                "generationConfig": {"maxOutputTokens": MAX_TOKENS},
            },
            {"x-goog-api-key": "gemini-test"},
        )
        parts = body["candidates"][0]["content"]["parts"]
        meta = body["usageMetadata"]
        return (
            "".join(p.get("text", "") for p in parts),
            meta["promptTokenCount"],
            meta["candidatesTokenCount"],
        )

    def test_stream_is_the_providers_answer_with_usage_and_cost(self):
        for api in ("claude", "gemini"):
            with self.subTest(api=api):
                want_text, want_prompt, want_completion = self.native_answer(api)
                self.assertTrue(want_text)
                stream = self.client.chat.completions.create(
                    model=api,
                    messages=PROMPT,
                    max_tokens=MAX_TOKENS,
                    stream=True,
                    stream_options={"include_usage": True},
                )
                text, finish, usage, deltas = "", None, None, 0
                for chunk in stream:
                    if chunk.usage is not None:
                        usage = chunk.usage
                    for choice in chunk.choices:
                        if choice.delta.content:
                            text += choice.delta.content
                            deltas += 1
                        finish = choice.finish_reason or finish
                self.assertEqual(text, want_text)
                self.assertGreater(deltas, 1, "the answer arrived in one piece")
                self.assertEqual(finish, "stop")
                self.assertEqual(usage.prompt_tokens, want_prompt)
                self.assertEqual(usage.completion_tokens, want_completion)
                self.assertIn("cost", usage.model_extra)
                self.assertGreater(float(usage.model_extra["cost"]), 0)

    def test_stream_helper_and_whole_answer(self):
        for api in ("claude", "gemini"):
            with self.subTest(api=api):
                want_text, want_prompt, want_completion = self.native_answer(api)
                with self.client.chat.completions.stream(
                    model=api, messages=PROMPT, max_tokens=MAX_TOKENS
                ) as stream:
                    pieces = [
                        e.delta for e in stream if e.type == "content.delta"
                    ]
                    final = stream.get_final_completion()
                self.assertEqual("".join(pieces), want_text)
                self.assertEqual(final.choices[0].message.content, want_text)

                whole = self.client.chat.completions.create(
                    model=api, messages=PROMPT, max_tokens=MAX_TOKENS
                )
                self.assertEqual(whole.choices[0].message.content, want_text)
                self.assertEqual(whole.choices[0].finish_reason, "stop")
                self.assertEqual(whole.usage.prompt_tokens, want_prompt)
                self.assertEqual(whole.usage.completion_tokens, want_completion)

    def test_tool_calls_round_trip_over_two_turns(self):
        for api in ("claude", "gemini"):
            with self.subTest(api=api):
                messages = [{"role": "user", "content": "Weather in Paris?"}]
                stream = self.client.chat.completions.create(
                    model=f"{api}-mock-tool", messages=messages, tools=TOOLS, stream=True
                )
                calls, finish = {}, None
                for chunk in stream:
                    for choice in chunk.choices:
                        finish = choice.finish_reason or finish
                        for call in choice.delta.tool_calls or []:
                            slot = calls.setdefault(call.index, {"id": None, "name": "", "args": ""})
                            slot["id"] = call.id or slot["id"]
                            if call.function and call.function.name:
                                slot["name"] += call.function.name
                            if call.function and call.function.arguments:
                                slot["args"] += call.function.arguments
                self.assertEqual(finish, "tool_calls")
                self.assertEqual(list(calls), [0])
                call = calls[0]
                self.assertTrue(call["id"])
                self.assertEqual(call["name"], "get_weather")
                self.assertIsInstance(json.loads(call["args"]), dict)

                # The second turn sends the call and its result back; the provider takes both.
                messages += [
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": call["id"],
                                "type": "function",
                                "function": {"name": call["name"], "arguments": call["args"]},
                            }
                        ],
                    },
                    {"role": "tool", "tool_call_id": call["id"], "content": "18°C, sunny"},
                ]
                second = self.client.chat.completions.create(
                    model=api, messages=messages, tools=TOOLS, max_tokens=MAX_TOKENS
                )
                self.assertTrue(second.choices[0].message.content)

    def test_thinking_arrives_as_reasoning_never_as_content(self):
        stream = self.client.chat.completions.create(
            model="claude-mock-think",
            messages=PROMPT,
            max_tokens=2000,
            reasoning_effort="low",
            stream=True,
        )
        reasoning, content, signature = "", "", ""
        for chunk in stream:
            for choice in chunk.choices:
                extra = choice.delta.model_extra or {}
                reasoning += extra.get("reasoning_content") or ""
                signature += extra.get("reasoning_signature") or ""
                content += choice.delta.content or ""
        self.assertTrue(reasoning)
        self.assertTrue(signature)
        self.assertTrue(content)
        self.assertNotIn(reasoning, content)

    def test_errors_are_the_sdks_own_exceptions(self):
        # The provider's own error, as each API writes it, reaches the SDK.
        overloaded = {
            "claude": ("Overloaded", "overloaded_error"),
            "gemini": ("The model is overloaded. Please try again later.", "upstream_error"),
        }
        for api in ("claude", "gemini"):
            with self.subTest(api=api):
                with self.assertRaises(openai.RateLimitError) as limited:
                    self.client.chat.completions.create(
                        model=f"{api}-mock-429", messages=PROMPT, stream=True
                    )
                self.assertEqual(limited.exception.body["message"], "simulated rate limit")
                stream = self.client.chat.completions.create(
                    model=f"{api}-mock-error-midstream", messages=PROMPT, stream=True
                )
                received = ""
                with self.assertRaises(openai.APIError) as broken:
                    for chunk in stream:
                        for choice in chunk.choices:
                            received += choice.delta.content or ""
                self.assertTrue(received, "the error came before any text")
                message, kind = overloaded[api]
                self.assertEqual(broken.exception.message, message)
                self.assertEqual(broken.exception.type, kind)


if __name__ == "__main__":
    unittest.main()
