"""The official OpenAI Python SDK's Responses API through the gateway, which serves it by
translation through chat completions, against the simulated provider (OpenAI-compatible and
Anthropic-native): exact text, function calls over two turns, usage with the gateway's cost in
the final event, and errors as the SDK's own exceptions.
"""

import unittest

import openai

from harness import Gateway, mock_upstream

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


class Responses(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = mock_upstream()
        cls.gateway = Gateway(
            f"""
ledger = "sqlite://ledger.db"
[providers.local]
kind = "openai"
base_url = "{cls.mock.url}/v1"
[providers.local.prices]
"m" = {{ input = 1.00, output = 2.00 }}
[providers.claude]
kind = "anthropic"
base_url = "{cls.mock.url}/v1"
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
        )
        cls.client = openai.OpenAI(
            base_url=cls.gateway.url + "/v1", api_key="unused", max_retries=0
        )

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()
        cls.mock.stop()

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


if __name__ == "__main__":
    unittest.main()
