"""The demo agent: a clinic receptionist that books, moves and cancels real appointments."""
