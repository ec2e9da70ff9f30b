"""Conversation reactions: what NeverMissCall does when a call is missed or a text arrives."""
