# The WebSocket app guide's client, in the same style, for its task runner: sends the guide's
# request {"project","domain","task","version","inputs"} to /task-runner and prints every
# reply until the run ends (the first reply has the run's id and URL: with Flyte configured,
# the Flyte console page of the run).
#   /usr/bin/python3 examples/task_runner_client.py ws://127.0.0.1:8080/task-runner \
#       '{"project":"flytesnacks","domain":"development","task":"hello.say_hello","version":"v1","inputs":{"name":"Ada"}}'
import asyncio
import json
import sys

import websockets

URI = sys.argv[1] if len(sys.argv) > 1 else "ws://127.0.0.1:8080/task-runner"
REQUEST = sys.argv[2] if len(sys.argv) > 2 else json.dumps(
    {"project": "demo", "domain": "development", "task": "countdown", "version": "v1", "inputs": {"n": 3}}
)
TERMINAL = {"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"}


async def client():
    uri = URI
    async with websockets.connect(uri) as websocket:
        # Send the task request
        await websocket.send(REQUEST)

        # Receive the run info, then its updates until the run ends
        while True:
            response = await websocket.recv()
            print(f"Received: {response}")
            message = json.loads(response)
            if "error" in message and "seq" not in message:
                break
            if message.get("status") in TERMINAL:
                break

asyncio.run(client())
