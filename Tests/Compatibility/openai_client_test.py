"""Drives a running Switchboard server with the official `openai` Python client.

Usage: python3 Tests/Compatibility/openai_client_test.py --base-url http://127.0.0.1:PORT/v1
Exits non-zero on the first failed check. Run by `make test` against a freshly started server.
"""
import argparse
import sys

import openai


def check(condition, what):
    if not condition:
        print(f"FAIL: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--adapter", help="an adapter name the server serves (optional)")
    args = parser.parse_args()
    client = openai.OpenAI(base_url=args.base_url, api_key="unused", max_retries=0, timeout=120)

    models = client.models.list()
    ids = [m.id for m in models.data]
    check(len(ids) >= 1, f"models.list returns the base model ({ids[0]})")
    base = ids[0]
    if args.adapter:
        check(args.adapter in ids, f"models.list includes adapter {args.adapter}")

    completion = client.completions.create(model=base, prompt="The capital of France is", max_tokens=8, temperature=0)
    check(completion.object == "text_completion", "completions.create returns a text_completion")
    check(len(completion.choices) == 1 and completion.choices[0].finish_reason in ("stop", "length"),
          f"one choice with a finish reason ({completion.choices[0].text!r})")
    check(completion.usage.completion_tokens >= 1 and completion.usage.total_tokens ==
          completion.usage.prompt_tokens + completion.usage.completion_tokens, "usage adds up")

    chat = client.chat.completions.create(
        model=args.adapter or base, messages=[{"role": "user", "content": "What is the capital of France?"}],
        max_tokens=24, temperature=0)
    check(chat.choices[0].message.role == "assistant" and chat.choices[0].message.content,
          f"chat.completions.create answers ({chat.choices[0].message.content!r})")

    streamed_text = ""
    usage = None
    finish = None
    stream = client.chat.completions.create(
        model=base, messages=[{"role": "user", "content": "Say hello."}], max_tokens=16, temperature=0,
        stream=True, stream_options={"include_usage": True})
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            streamed_text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    check(streamed_text != "" and finish in ("stop", "length"), f"streaming chat yields text ({streamed_text!r})")
    check(usage is not None and usage.completion_tokens >= 1, "streaming with include_usage ends with usage")

    whole = client.chat.completions.create(
        model=base, messages=[{"role": "user", "content": "Say hello."}], max_tokens=16, temperature=0)
    check(whole.choices[0].message.content == streamed_text, "streamed text equals the non-streamed text")

    try:
        client.completions.create(model="no-such-model", prompt="x", max_tokens=1)
        check(False, "an unknown model raises")
    except openai.NotFoundError as error:
        check(error.status_code == 404 and error.body.get("code") == "model_not_found",
              "an unknown model is a 404 model_not_found")
    try:
        client.completions.create(model=base, prompt="x", max_tokens=1, temperature=9)
        check(False, "a bad temperature raises")
    except openai.BadRequestError as error:
        check(error.status_code == 400 and error.body.get("param") == "temperature", "a bad field is a 400 naming it")
    print("openai client compatibility: all checks passed")


if __name__ == "__main__":
    main()
