"""The Discord adapter (discord.py 2.x): translates gateway events and interactions into engine
calls and engine results into embeds, buttons and modals. No interview logic lives here."""
