"""Channel adapters: each turns what arrived into an `InboundContact` for `record_contact`."""
