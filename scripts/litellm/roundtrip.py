#!/usr/bin/env python3
"""LiteLLM's own `generic_api` logging callback posting to a running distillguard.

Makes mocked completions (`mock_response`: no provider is called) for several users, keys and
teams, in the callback's three log formats:

  json_array  the callback's default, set up from GENERIC_LOGGER_ENDPOINT and
              GENERIC_LOGGER_HEADERS as the proxy's `callbacks: ["generic_api"]` is, posting
              to /v1/litellm
  ndjson      a GenericAPILogger(log_format="ndjson") posting to /v1/logs
  single      a GenericAPILogger(log_format="single") posting to /v1/logs, one payload a post

Each phase's logger is flushed before the next starts. Prints one JSON line per post
(`{"phase", "status", "body"}`) and exits 1 if a post was not answered 200.

    python roundtrip.py --url http://127.0.0.1:8080 --token TOKEN

tests/litellm.rs runs it and checks what arrived; CALLS below is what it expects.
"""

import argparse
import asyncio
import json
import os
import sys

# The account is the proxy user (user_api_key_user_id), else the key hash.
KEY_ALICE = "a1" * 32
KEY_BOB = "b2" * 32
KEY_CAROL = "c3" * 32
KEY_SERVICE = "d4" * 32
KEY_DAVE = "e5" * 32

# (phase, proxy user, key hash, key alias, team, end user, model, system prompt, prompt, mock)
CALLS = [
    ("json_array", "user-alice", KEY_ALICE, "alice-laptop", "team-red", "eu-1", "gpt-4o-mini", None,
     "Solve step by step: 12 * 17", "204"),
    ("json_array", "user-alice", KEY_ALICE, "alice-laptop", "team-red", "eu-1", "gpt-4o-mini", None,
     "Translate to French: good morning", "bonjour"),
    ("json_array", "user-alice", KEY_ALICE, "alice-laptop", "team-red", "eu-2", "gpt-4o", None,
     "Write a haiku about rivers", "water runs"),
    ("json_array", "user-bob", KEY_BOB, "bob-ci", "team-red", None, "gpt-4o-mini", None,
     "Summarise this changelog in one line", "fixes"),
    ("json_array", "user-bob", KEY_BOB, "bob-ci", "team-red", None, "gpt-4o-mini", None,
     "List three prime numbers", "2, 3, 5"),
    ("ndjson", "user-carol", KEY_CAROL, "carol", "team-blue", None, "gpt-4o",
     "You are a grader. Reply with a score.", "Grade this answer: Paris is in France", "10"),
    ("ndjson", "user-carol", KEY_CAROL, "carol", "team-blue", None, "gpt-4o",
     "You are a grader. Reply with a score.", "Grade this answer: 2 + 2 = 5", "0"),
    ("ndjson", None, KEY_SERVICE, "batch-service", None, None, "gpt-4o-mini", None,
     "Classify the sentiment: I love it", "positive"),
    ("single", "user-dave", KEY_DAVE, "dave", "team-blue", None, "gpt-4o-mini", None,
     "Explain recursion briefly", "a function calling itself"),
    ("single", "user-dave", KEY_DAVE, "dave", "team-blue", None, "gpt-4o-mini", None,
     "Explain recursion again", "litellm.RateLimitError"),
]

PHASES = ["json_array", "ndjson", "single"]


def offline_env() -> None:
    # The model cost map is otherwise fetched from the internet when litellm is imported.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
    os.environ.setdefault("LITELLM_TELEMETRY", "False")
    # A mocked call never reaches the provider, but the client is built with a key.
    os.environ.setdefault("OPENAI_API_KEY", "sk-mock-not-used")


async def completion(litellm, call) -> None:
    _, user_id, key_hash, alias, team, end_user, model, system, prompt, mock = call
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": prompt}
    ]
    # The keys the LiteLLM proxy sets for an authenticated key; the payload copies them.
    metadata = {"user_api_key_hash": key_hash, "user_api_key_alias": alias}
    if user_id:
        metadata["user_api_key_user_id"] = user_id
    if team:
        metadata["user_api_key_team_id"] = team
    kwargs = {"user": end_user} if end_user else {}
    try:
        await litellm.acompletion(
            model=model, messages=messages, mock_response=mock, metadata=metadata, **kwargs
        )
    except litellm.RateLimitError:
        pass


def watch_posts(logger, phase: str, posts: list) -> None:
    """Records each post's answer: the logger itself only logs failures."""
    post = logger._post_with_retries

    async def recorded(data):
        try:
            resp = await post(data=data)
            posts.append({"phase": phase, "status": resp.status_code, "body": resp.text})
            return resp
        except Exception as e:  # noqa: BLE001 - reported, then raised as the logger expects
            resp = getattr(e, "response", None)
            posts.append({
                "phase": phase,
                "status": getattr(resp, "status_code", None),
                "body": getattr(resp, "text", str(e)),
            })
            raise

    logger._post_with_retries = recorded


async def drain(logger, expected: int) -> None:
    """Waits until the phase's events are queued (they are logged by background tasks), then
    flushes."""
    for _ in range(200):
        if len(logger.log_queue) >= expected:
            break
        await asyncio.sleep(0.05)
    await logger.flush_queue()


async def run(url: str, token: str) -> list:
    import litellm
    from litellm.integrations.generic_api.generic_api_callback import GenericAPILogger

    posts: list = []
    for phase in PHASES:
        calls = [c for c in CALLS if c[0] == phase]
        litellm.logging_callback_manager._reset_all_callbacks()
        if phase == "json_array":
            # Set up from GENERIC_LOGGER_ENDPOINT and GENERIC_LOGGER_HEADERS alone, as the proxy
            # does for `callbacks: ["generic_api"]` (the name needs the proxy's litellm-enterprise
            # package; without it litellm sets up a logger that does nothing).
            logger = GenericAPILogger()
        else:
            logger = GenericAPILogger(
                endpoint=f"{url}/v1/logs",
                headers={"Authorization": f"Bearer {token}"},
                log_format=phase,
            )
        watch_posts(logger, phase, posts)
        litellm.callbacks = [logger]
        for call in calls:
            await completion(litellm, call)
        await drain(logger, len(calls))
    return posts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True, help="distillguard's base URL")
    ap.add_argument("--token", default=os.environ.get("DISTILLGUARD_TOKEN", ""))
    args = ap.parse_args()
    url = args.url.rstrip("/")
    offline_env()
    os.environ["GENERIC_LOGGER_ENDPOINT"] = f"{url}/v1/litellm"
    os.environ["GENERIC_LOGGER_HEADERS"] = f"Authorization=Bearer {args.token}"
    posts = asyncio.run(run(url, args.token))
    for p in posts:
        print(json.dumps(p))
    if not posts or any(p["status"] != 200 for p in posts):
        print("a post was not answered 200", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
