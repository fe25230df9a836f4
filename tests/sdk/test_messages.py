"""The official Anthropic Python SDK's `messages.stream(...)` through the gateway, against the
simulated provider: passed through to an Anthropic provider, and translated through chat
completions to an OpenAI-compatible one. Exact text, tool use over two turns, usage in the
final message, and errors raised as the SDK's own exception types.
"""

import unittest

import anthropic

from harness import GatewayCase

TOOLS = [
    {
        "name": "get_weather",
        "description": "The weather in a city",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    }
]


class Messages(GatewayCase):
    @classmethod
    def config(cls, mock_url):
        return f"""
[providers.claude]
kind = "anthropic"
base_url = "{mock_url}/v1"
api_key = "sk-ant-test"
[providers.claude.prices]
"claude-sonnet-4-5" = {{ input = 3.00, output = 15.00 }}
[providers.local]
kind = "openai"
base_url = "{mock_url}/v1"
[providers.local.prices]
"m" = {{ input = 1.00, output = 2.00 }}
[retry]
attempts = 0
[routes]
"claude" = [{{ provider = "claude", model = "claude-sonnet-4-5" }}]
"openai" = [{{ provider = "local", model = "m" }}]
"claude-tool" = [{{ provider = "claude", model = "mock-tool" }}]
"claude-429" = [{{ provider = "claude", model = "mock-429" }}]
"claude-broken" = [{{ provider = "claude", model = "mock-error-midstream" }}]
"""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.client = cls.anthropic()
        cls.chat = cls.openai()

    def reference(self, model, prompt, max_tokens):
        """The same conversation's answer through chat completions."""
        done = self.chat.chat.completions.create(
            model=model,
            messages=[
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": prompt},
            ],
            max_tokens=max_tokens,
        )
        return done.choices[0].message.content, done.usage, done.choices[0].finish_reason

    def test_stream_gives_the_text_and_the_usage(self):
        for model in ("claude", "openai"):
            with self.subTest(model=model):
                want, usage, finish = self.reference(model, "Tell me about rivers.", 30)
                with self.client.messages.stream(
                    model=model,
                    max_tokens=30,
                    system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
                    messages=[{"role": "user", "content": "Tell me about rivers."}],
                ) as stream:
                    text, delta = "", None
                    for event in stream:
                        if event.type == "text":
                            text += event.text
                        elif event.type == "message_delta":
                            delta = event
                    final = stream.get_final_message()
                self.assertEqual(text, want)
                self.assertEqual(final.content[0].text, want)
                stop = {"stop": "end_turn", "length": "max_tokens"}[finish]
                self.assertEqual(final.stop_reason, stop)
                self.assertEqual(final.usage.output_tokens, usage.completion_tokens)
                self.assertGreater(final.usage.input_tokens, 0)
                # The gateway's cost rides on the final usage, at the route's prices.
                rates = {"claude": (3, 15), "openai": (1, 2)}[model]
                cost = (usage.prompt_tokens * rates[0] + usage.completion_tokens * rates[1]) / 1e6
                self.assertAlmostEqual(float(delta.usage.model_extra["cost"]), cost, places=12)
                whole = self.client.messages.create(
                    model=model,
                    max_tokens=30,
                    system="Be brief.",
                    messages=[{"role": "user", "content": "Tell me about rivers."}],
                )
                self.assertEqual(whole.content[0].text, want)

    def test_tool_use_round_trips_over_two_turns(self):
        with self.client.messages.stream(
            model="claude-tool",
            max_tokens=200,
            tools=TOOLS,
            messages=[{"role": "user", "content": "Weather in Paris?"}],
        ) as stream:
            final = stream.get_final_message()
        self.assertEqual(final.stop_reason, "tool_use")
        uses = [b for b in final.content if b.type == "tool_use"]
        self.assertEqual(len(uses), 1)
        use = uses[0]
        self.assertEqual(use.name, "get_weather")
        self.assertTrue(use.id.startswith("toolu_"), use.id)
        self.assertIsInstance(use.input, dict)
        second = self.client.messages.create(
            model="claude",
            max_tokens=20,
            tools=TOOLS,
            messages=[
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": final.content},
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": use.id, "content": "18°C, sunny"}
                    ],
                },
            ],
        )
        self.assertTrue(second.content[0].text)

    def test_count_tokens(self):
        counted = self.client.messages.count_tokens(
            model="claude", messages=[{"role": "user", "content": "Hello there, how are you?"}]
        )
        self.assertGreater(counted.input_tokens, 0)

    def test_errors_are_the_sdks_own_exceptions(self):
        with self.assertRaises(anthropic.RateLimitError):
            self.client.messages.create(
                model="claude-429", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
            )
        with self.assertRaises(anthropic.NotFoundError):
            self.client.messages.create(
                model="no-such-route", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
            )
        with self.assertRaises(anthropic.BadRequestError):
            self.client.messages.create(model="claude", max_tokens=10, messages="hi")
        received = ""
        with self.assertRaises(anthropic.APIStatusError) as broken:
            with self.client.messages.stream(
                model="claude-broken", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
            ) as stream:
                for text in stream.text_stream:
                    received += text
        self.assertTrue(received, "the error came before any text")
        self.assertIn("Overloaded", str(broken.exception))


if __name__ == "__main__":
    unittest.main()
