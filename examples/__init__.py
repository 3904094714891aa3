"""Example agents built on the public API (`callwright serve --agent examples/clinic/agent.py`)."""
