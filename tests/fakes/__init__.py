"""Wire-level fakes of external APIs (Slack, Discord, OpenAI, Gemini, TGI), served on loopback."""
