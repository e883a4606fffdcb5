"""The terminal adapter: practice interviews with Rich output."""
