# The WebSocket app guide's own client, unchanged but for the URI, which comes from the
# first argument (default: the basic app at /ws on a local wirehub).
import asyncio
import sys

import websockets

URI = sys.argv[1] if len(sys.argv) > 1 else "ws://127.0.0.1:8080/ws"


async def client():
    uri = URI
    async with websockets.connect(uri) as websocket:
        # Send message
        await websocket.send("Hello, Server!")

        # Receive message
        response = await websocket.recv()
        print(f"Received: {response}")

asyncio.run(client())
