"""Who agreed to share what: clients, consents, signage, and the share gate."""
