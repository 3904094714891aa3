"""A second example: an order-status and returns agent on the shop's own REST backend."""
