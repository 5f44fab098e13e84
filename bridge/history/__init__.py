"""History from before wabridge saw a chat: the phone's history sync and WhatsApp chat exports."""
