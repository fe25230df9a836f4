"""The official OpenAI Python SDK's Responses API through the gateway, against the simulated
provider: translated through chat completions (OpenAI-compatible and Anthropic-native
providers) — exact text, function calls over two turns, usage with the gateway's cost in the
final event, errors as the SDK's own exceptions — and passed through to a provider that serves
the Responses API itself, a stored conversation included.
"""

import unittest

import openai

from harness import GatewayCase

TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    }
]


class Responses(GatewayCase):
    @classmethod
    def config(cls, mock_url):
        return f"""
[providers.local]
kind = "openai"
base_url = "{mock_url}/v1"
[providers.local.prices]
"m" = {{ input = 1.00, output = 2.00 }}
[providers.claude]
kind = "anthropic"
base_url = "{mock_url}/v1"
api_key = "sk-ant-test"
[retry]
attempts = 0
[routes]
"openai" = [{{ provider = "local", model = "m" }}]
"claude" = [{{ provider = "claude", model = "claude-sonnet-4-5" }}]
"claude-tool" = [{{ provider = "claude", model = "mock-tool" }}]
"openai-429" = [{{ provider = "local", model = "mock-429" }}]
"openai-broken" = [{{ provider = "local", model = "mock-error-midstream" }}]
"""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.client = cls.openai()

    def chat_text(self, model, prompt, max_tokens):
        """The same conversation's answer through chat completions: the reference text."""
        done = self.client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": prompt}],
            max_completion_tokens=max_tokens,
        )
        return done.choices[0].message.content

    def test_create_stream_gives_the_text_and_a_priced_usage_last(self):
        for model in ("openai", "claude"):
            with self.subTest(model=model):
                want = self.chat_text(model, "Tell me about rivers.", 30)
                stream = self.client.responses.create(
                    model=model,
                    input="Tell me about rivers.",
                    max_output_tokens=30,
                    stream=True,
                )
                events = list(stream)
                kinds = [e.type for e in events]
                self.assertEqual(kinds[:2], ["response.created", "response.in_progress"])
                self.assertEqual(kinds[-1], "response.completed")
                self.assertEqual(
                    [e.sequence_number for e in events], list(range(len(events)))
                )
                text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
                self.assertEqual(text, want)
                final = events[-1].response
                self.assertEqual(final.output_text, want)
                self.assertGreater(final.usage.output_tokens, 0)
                self.assertIn("cost", final.usage.model_extra)

    def test_stream_helper_and_whole_answer(self):
        want = self.chat_text("openai", "Say something.", 20)
        with self.client.responses.stream(
            model="openai", input="Say something.", max_output_tokens=20
        ) as stream:
            deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
            final = stream.get_final_response()
        self.assertEqual("".join(deltas), want)
        self.assertEqual(final.output_text, want)
        whole = self.client.responses.create(
            model="openai", input="Say something.", max_output_tokens=20
        )
        self.assertEqual(whole.output_text, want)
        # 1.00 and 2.00 USD per million tokens: the cost is the usage at those prices.
        cost = (whole.usage.input_tokens * 1 + whole.usage.output_tokens * 2) / 1e6
        self.assertAlmostEqual(float(whole.usage.model_extra["cost"]), cost, places=12)

    def test_function_calls_round_trip_over_two_turns(self):
        first = self.client.responses.create(
            model="claude-tool", input="Weather in Paris?", tools=TOOLS, stream=True
        )
        calls = [
            e.item for e in first if e.type == "response.output_item.done"
            and e.item.type == "function_call"
        ]
        self.assertEqual(len(calls), 1)
        call = calls[0]
        self.assertEqual(call.name, "get_weather")
        self.assertTrue(call.call_id.startswith("toolu_"), call.call_id)
        second = self.client.responses.create(
            model="claude",
            input=[
                {"role": "user", "content": "Weather in Paris?"},
                {
                    "type": "function_call",
                    "call_id": call.call_id,
                    "name": call.name,
                    "arguments": call.arguments,
                },
                {
                    "type": "function_call_output",
                    "call_id": call.call_id,
                    "output": "18°C, sunny",
                },
            ],
            tools=TOOLS,
            max_output_tokens=20,
        )
        self.assertTrue(second.output_text)

    def test_errors_are_the_sdks_own_exceptions(self):
        with self.assertRaises(openai.RateLimitError):
            self.client.responses.create(model="openai-429", input="hi", stream=True)
        with self.assertRaises(openai.BadRequestError) as refused:
            self.client.responses.create(
                model="openai", input="hi", previous_response_id="resp_earlier"
            )
        self.assertEqual(refused.exception.body["param"], "previous_response_id")
        # A stream the provider breaks ends in response.failed with the provider's message.
        events = list(
            self.client.responses.create(model="openai-broken", input="hi", stream=True)
        )
        self.assertEqual(events[-1].type, "response.failed")
        self.assertEqual(events[-1].response.status, "failed")
        self.assertTrue(events[-1].response.error.message)


class ResponsesPassThrough(GatewayCase):
    """A provider that serves the Responses API itself (`responses = true`): the SDK gets the
    provider's own events and response (its ids, the stored state it keeps), the gateway's
    cost on the final usage."""

    @classmethod
    def config(cls, mock_url):
        return f"""
[providers.native]
kind = "openai"
base_url = "{mock_url}/v1"
responses = true
[providers.native.prices]
"gpt-x" = {{ input = 1.00, output = 2.00 }}
[routes]
"native" = [{{ provider = "native", model = "gpt-x" }}]
"""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.client = cls.openai()

    def test_a_stored_conversation_continues_through_the_gateway(self):
        first = self.client.responses.create(
            model="native", input="Tell me about rivers.", max_output_tokens=20
        )
        self.assertTrue(first.id.startswith("resp_mock_"), first.id)
        self.assertTrue(first.output_text)
        events = list(
            self.client.responses.create(
                model="native",
                input="And lakes?",
                previous_response_id=first.id,
                max_output_tokens=20,
                stream=True,
            )
        )
        self.assertEqual(
            [e.sequence_number for e in events], list(range(len(events)))
        )
        self.assertEqual(events[0].response.previous_response_id, first.id)
        final = events[-1].response
        self.assertEqual(events[-1].type, "response.completed")
        text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        self.assertEqual(final.output_text, text)
        cost = (final.usage.input_tokens * 1 + final.usage.output_tokens * 2) / 1e6
        self.assertAlmostEqual(float(final.usage.model_extra["cost"]), cost, places=12)

    def test_stream_helper(self):
        with self.client.responses.stream(
            model="native", input="Say something.", max_output_tokens=500
        ) as stream:
            deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
            final = stream.get_final_response()
        self.assertEqual(final.status, "completed")
        self.assertEqual(final.output_text, "".join(deltas))
        self.assertEqual(final.usage.output_tokens, len(deltas))
        self.assertIn("cost", final.usage.model_extra)


if __name__ == "__main__":
    unittest.main()
