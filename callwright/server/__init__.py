"""The HTTP/WebSocket server that hosts calls."""
