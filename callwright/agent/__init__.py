"""One call: the session that joins audio in, turn-taking, the responder and audio out."""
