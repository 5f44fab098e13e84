"""Partner channels: official-API partners (WhatsApp Cloud API, Qontak, Qiscus, Pancake, WA-API)
posting inbound messages to `/hooks/{source}/{channel}`, normalised into DESIGN's message format
so every rule applies across channels.
"""
