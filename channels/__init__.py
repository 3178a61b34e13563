"""Channel adapters: each turns what arrives on its channel into an `InboundContact`."""
