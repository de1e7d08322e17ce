"""The official OpenAI and Anthropic Python clients call the fake provider directly and through Tally's proxy.

Run by ProxyPythonTests (Tests/TallyServerTests/Proxy) with FAKE_URL (the fake provider), TALLY_URL (a running
Tally with --proxy-upstream openai=FAKE_URL and anthropic=FAKE_URL), and TALLY_KEY (a writer key) set.
Checks that every answer reaches the client byte for byte as the fake sent it, streamed or not, and prints one JSON
line: the failures, and the calls made through the proxy with the usage each client reported (the test then checks
Tally's cost breakdown against them).
"""
import json
import os
import sys

import anthropic
import openai

FAKE = os.environ["FAKE_URL"]
TALLY = os.environ["TALLY_URL"]
TALLY_KEY = os.environ["TALLY_KEY"]
OPENAI_KEY = "sk-fake"
ANTHROPIC_KEY = "sk-ant-fake"
TALLY_HEADERS = {"X-Tally-Key": TALLY_KEY, "X-Tally-Feature": "python", "X-Tally-User": "py-user"}

failures = []
proxied = []


def same(label, direct, through):
    if direct != through:
        failures.append(f"{label}: the proxy's answer differs from the fake's ({len(through)} vs {len(direct)} bytes)")


def openai_clients():
    direct = openai.OpenAI(base_url=FAKE + "/v1", api_key=OPENAI_KEY, max_retries=0)
    proxy = openai.OpenAI(base_url=TALLY + "/proxy/openai/v1", api_key=OPENAI_KEY, default_headers=TALLY_HEADERS, max_retries=0)
    return direct, proxy


def anthropic_clients():
    direct = anthropic.Anthropic(base_url=FAKE, api_key=ANTHROPIC_KEY, max_retries=0)
    proxy = anthropic.Anthropic(base_url=TALLY + "/proxy/anthropic", api_key=ANTHROPIC_KEY, default_headers=TALLY_HEADERS, max_retries=0)
    return direct, proxy


def run_openai():
    direct, proxy = openai_clients()
    messages = [{"role": "user", "content": "python, not streamed"}]
    d = direct.chat.completions.with_raw_response.create(model="gpt-4o", messages=messages)
    p = proxy.chat.completions.with_raw_response.create(model="gpt-4o", messages=messages)
    same("openai chat", d.http_response.content, p.http_response.content)
    parsed = p.parse()
    proxied.append({"kind": "openai", "stream": False, "model": parsed.model,
                    "input": parsed.usage.prompt_tokens, "output": parsed.usage.completion_tokens})

    # Streamed, without asking for usage: the client must see exactly the fake's stream (no usage anywhere).
    messages = [{"role": "user", "content": "python, streamed"}]
    with direct.chat.completions.with_streaming_response.create(model="gpt-4o", messages=messages, stream=True) as r:
        d_bytes = b"".join(r.iter_bytes())
    with proxy.chat.completions.with_streaming_response.create(model="gpt-4o", messages=messages, stream=True) as r:
        p_bytes = b"".join(r.iter_bytes())
    same("openai chat stream", d_bytes, p_bytes)
    text = ""
    for chunk in proxy.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "python, parsed stream"}], stream=True):
        if chunk.usage is not None:
            failures.append("openai stream: a chunk carries usage the client did not ask for")
        for choice in chunk.choices:
            text += choice.delta.content or ""
    if text != "Hello from the fake provider.":
        failures.append(f"openai stream: the client read {text!r}")
    # The usage the fake reports for each streamed call (asked for explicitly here, so the client sees it).
    usage = None
    for chunk in proxy.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "python, usage"}],
                                               stream=True, stream_options={"include_usage": True}):
        if chunk.usage is not None:
            usage = chunk.usage
    proxied.append({"kind": "openai", "stream": True, "model": "gpt-4o", "input": usage.prompt_tokens, "output": usage.completion_tokens})
    # The two streams above that did not ask: recorded with the same usage.
    proxied.append({"kind": "openai", "stream": True, "model": "gpt-4o", "input": usage.prompt_tokens, "output": usage.completion_tokens})
    proxied.append({"kind": "openai", "stream": True, "model": "gpt-4o", "input": usage.prompt_tokens, "output": usage.completion_tokens})

    # An error from the provider reaches the client as the provider's error.
    try:
        proxy.chat.completions.create(model="fail-400", messages=messages)
        failures.append("openai fail-400: no error")
    except openai.BadRequestError as e:
        if e.body.get("code") != "model_not_found":
            failures.append(f"openai fail-400: {e.body}")


def run_anthropic():
    direct, proxy = anthropic_clients()
    messages = [{"role": "user", "content": "python, not streamed"}]
    d = direct.messages.with_raw_response.create(model="claude-3-5-sonnet", max_tokens=64, messages=messages)
    p = proxy.messages.with_raw_response.create(model="claude-3-5-sonnet", max_tokens=64, messages=messages)
    same("anthropic messages", d.http_response.content, p.http_response.content)
    m = p.parse()
    u = m.usage
    proxied.append({"kind": "anthropic", "stream": False, "model": m.model,
                    "input": u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens, "output": u.output_tokens})

    messages = [{"role": "user", "content": "python, streamed"}]
    with direct.messages.with_streaming_response.create(model="claude-3-5-sonnet", max_tokens=64, messages=messages, stream=True) as r:
        d_bytes = b"".join(r.iter_bytes())
    with proxy.messages.with_streaming_response.create(model="claude-3-5-sonnet", max_tokens=64, messages=messages, stream=True) as r:
        p_bytes = b"".join(r.iter_bytes())
    same("anthropic stream", d_bytes, p_bytes)
    with proxy.messages.stream(model="claude-3-5-sonnet", max_tokens=64, messages=[{"role": "user", "content": "python, helper"}]) as s:
        final = s.get_final_message()
    if "".join(b.text for b in final.content) != "Hello from the fake provider.":
        failures.append(f"anthropic stream helper: {final.content}")
    u = final.usage
    for _ in range(2):  # the raw stream and the helper's
        proxied.append({"kind": "anthropic", "stream": True, "model": final.model,
                        "input": u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens, "output": u.output_tokens})


run_openai()
run_anthropic()
print(json.dumps({"failures": failures, "proxied": proxied}))
sys.exit(1 if failures else 0)
