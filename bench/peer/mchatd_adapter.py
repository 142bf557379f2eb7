#!/usr/bin/env python3
"""mchatd adapter for the Synapse peer benchmark (../shared/bench/peer-synapse/bench.py).

Imports that bench.py unchanged and registers an `mchatd` API next to its
`matrix` one, so both servers are measured by the same timing, percentile,
memory and CPU code. The scenario maps as:

  A registers            -> mentor        (mentor approval off on the bench server)
  B registers            -> mentee
  A creates a room       -> a placeholder the conversation fills in
  B joins it             -> B requests a conversation with A, A accepts
  B's initial sync       -> B opens GET /v1/ws and waits for "ready"
  A sends (PUT txn)      -> POST /v1/conversations/{id}/messages with a client_id
  B waits for the body   -> reads WebSocket frames until message_new with that body
  history page           -> GET /v1/conversations/{id}/messages?limit=50

Usage: mchatd_adapter.py --peer-dir DIR [bench.py arguments...]
"""

import asyncio
import json
import os
import sys
import time
import uuid


def load_bench(peer_dir):
    sys.path.insert(0, peer_dir)
    import bench  # noqa: E402  (the peer's own bench.py)

    return bench


class MchatdClient:
    """Same async methods as bench.py's MatrixClient."""

    # The first client to register is the mentor (A); the second the mentee (B).
    _roles = {}

    def __init__(self, base, conns=32):
        import aiohttp

        self.aiohttp = aiohttp
        self.base = base.rstrip("/")
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=conns),
            timeout=aiohttp.ClientTimeout(total=120),
        )
        self.token = None
        self.username = None
        self.ws = None

    async def close(self):
        if self.ws is not None:
            await self.ws.close()
        await self.session.close()

    async def _req(self, method, path, body=None, params=None, ok=(200, 201)):
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self.session.request(
            method, self.base + path, json=body, params=params, headers=headers
        ) as resp:
            data = await resp.read()
            if resp.status not in ok:
                raise RuntimeError(f"HTTP {resp.status}: {data.decode('utf-8', 'replace')[:300]}")
            return resp.status, (json.loads(data) if data else {})

    async def register(self, username, password):
        roles = MchatdClient._roles.setdefault(self.base, {})
        role = "mentor" if "mentor" not in roles else "mentee"
        _, data = await self._req(
            "POST",
            "/v1/auth/register",
            {"username": username.lower(), "password": password, "role": role},
        )
        self.token = data["token"]
        self.username = data["user"]["username"]
        roles[role] = self
        return self.username

    async def create_room(self):
        return {"conversation": None}

    async def join(self, room):
        mentor = MchatdClient._roles[self.base]["mentor"]
        _, created = await self._req(
            "POST", "/v1/conversations", {"to": mentor.username, "message": "hello, may we talk?"}
        )
        conv = created["conversation"]["id"]
        await mentor._req("POST", f"/v1/conversations/{conv}/accept", {})
        room["conversation"] = conv

    async def initial_since(self):
        url = self.base.replace("http://", "ws://", 1) + "/v1/ws"
        self.ws = await self.session.ws_connect(
            url, headers={"Authorization": f"Bearer {self.token}"}, max_msg_size=0
        )
        while True:
            frame = json.loads((await self.ws.receive()).data)
            if frame.get("type") == "ready":
                return None

    async def send(self, room, body, ok=(200,)):
        accept = tuple(ok) + (201,)
        status, data = await self._req(
            "POST",
            f"/v1/conversations/{room['conversation']}/messages",
            {"client_id": uuid.uuid4().hex, "body": body},
            ok=accept,
        )
        return (200 if status == 201 else status), data

    async def wait_for_body(self, room, since, body, timeout_ms=30000):
        deadline = time.perf_counter() + timeout_ms / 1000.0
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError(f"no frame with body {body!r}")
            msg = await asyncio.wait_for(self.ws.receive(), timeout=left)
            if msg.type != self.aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"socket ended: {msg.type} {msg.data!r}")
            frame = json.loads(msg.data)
            if frame.get("type") == "message_new" and frame["data"]["message"]["body"] == body:
                return time.perf_counter(), since, 1

    async def history(self, room, limit=50):
        _, data = await self._req(
            "GET",
            f"/v1/conversations/{room['conversation']}/messages",
            params={"limit": str(limit)},
        )
        return len(data.get("messages", []))


def main():
    args = sys.argv[1:]
    if len(args) < 2 or args[0] != "--peer-dir":
        sys.exit("usage: mchatd_adapter.py --peer-dir DIR [bench.py arguments...]")
    bench = load_bench(os.path.abspath(args[1]))
    bench.APIS["mchatd"] = MchatdClient
    sys.argv = [sys.argv[0]] + args[2:]
    asyncio.run(bench.main())


if __name__ == "__main__":
    main()
